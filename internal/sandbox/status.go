package sandbox

import (
	"context"
	"strings"
	"time"
)

// undeliverable is the error a …0009 send's failed status carries.
var undeliverable = statusError{
	Code:    131026,
	Title:   "Message undeliverable",
	Message: "Message undeliverable",
	ErrorData: statusErrorData{
		Details: "the recipient is not on WhatsApp, uses an old app or has not accepted the terms",
	},
}

// afterAccept posts req's statuses in the background when a webhook URL is
// set: sent, delivered and read, or failed for a recipient the failure
// table makes undeliverable after acceptance. The conversation is settled
// here, in acceptance order, so sends in one window share it however their
// deliveries interleave.
func (s *Sandbox) afterAccept(req Request) {
	to, ok := s.webhook()
	if !ok {
		return
	}
	n := s.numbers[req.PhoneNumberID]
	var seq []statusUpdate
	if failsLater(req.To) {
		seq = []statusUpdate{{Status: "failed", Errors: []statusError{undeliverable}}}
	} else {
		conv := s.convs.forSend(pairKey{req.PhoneNumberID, req.To}, s.category(n, req), time.Now())
		price := &pricing{Billable: true, PricingModel: "CBP", Category: conv.origin}
		seq = []statusUpdate{
			{Status: "sent", Pricing: price, Conversation: &conversationJSON{
				ID: conv.id, ExpirationTimestamp: unixString(conv.expires), Origin: origin{conv.origin}}},
			{Status: "delivered", Pricing: price, Conversation: &conversationJSON{
				ID: conv.id, Origin: origin{conv.origin}}},
			{Status: "read"},
		}
	}
	for i := range seq {
		seq[i].ID, seq[i].RecipientID, seq[i].CallbackData = req.WAMID, req.To, req.CallbackData
	}
	s.bg.do(func(ctx context.Context) {
		for _, st := range seq {
			if sleep(ctx, s.cfg.WebhookDelay) != nil {
				return
			}
			st.Timestamp = unixString(time.Now())
			rec := Webhook{Kind: "status", PhoneNumberID: n.PhoneNumberID, WAMID: st.ID,
				Status: st.Status, Contact: st.RecipientID, CallbackData: st.CallbackData}
			// A status given up on does not hold back the next: Meta
			// sends each one on its own.
			_ = s.deliver(ctx, to, rec, payload(n, value{Statuses: []statusUpdate{st}}))
		}
	})
}

// category is the conversation origin a send opens: service for a text,
// which only goes out inside the service window, else its template's
// category in lower case.
func (s *Sandbox) category(n *number, req Request) string {
	if req.Type == "text" {
		return originService
	}
	m := req.Template
	if t, ok := s.wabas[n.WABAID].byKey[templateKey(m.Name, m.Language.Code)]; ok && t.Category != "" {
		return strings.ToLower(t.Category)
	}
	// Templates configured without a category are billed as Meta bills
	// most transactional ones.
	return "utility"
}
