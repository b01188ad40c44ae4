package sandbox

import (
	"strings"
	"time"
)

// Per-message pricing as status webhooks report it since Graph API v24.0.
const (
	pricingModel = "PMP"

	categoryService = "service"

	typeRegular             = "regular"
	typeFreeCustomerService = "free_customer_service"
	typeFreeEntryPoint      = "free_entry_point"
)

// priceOf is the pricing of a send accepted at now: its category is the
// template's (service for a free-form text), and it is free inside a free
// entry point window (any category), for a service message, and for a
// utility template inside the customer-service window.
func (s *Sandbox) priceOf(n *number, req Request, now time.Time) pricing {
	k := pairKey{req.PhoneNumberID, req.To}
	p := pricing{Billable: true, PricingModel: pricingModel, Category: s.category(n, req), Type: typeRegular}
	switch {
	case s.windows.entryPointOpen(k, now):
		p.Billable, p.Type = false, typeFreeEntryPoint
	case p.Category == categoryService,
		p.Category == "utility" && s.windows.serviceOpen(k, now):
		p.Billable, p.Type = false, typeFreeCustomerService
	}
	return p
}

// category is Meta's pricing category of a send: service for a text, else
// its template's category in lower case.
func (s *Sandbox) category(n *number, req Request) string {
	if req.Type == "text" {
		return categoryService
	}
	m := req.Template
	w := s.wabas[n.WABAID]
	if t, ok := w.byKey[templateKey(m.Name, m.Language.Code)]; ok {
		w.mu.RLock()
		category := t.Category
		w.mu.RUnlock()
		if category != "" {
			return strings.ToLower(category)
		}
	}
	// Templates configured without a category are billed as Meta bills
	// most transactional ones.
	return "utility"
}
