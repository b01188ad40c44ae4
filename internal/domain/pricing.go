package domain

import (
	"slices"
	"strings"
	"time"
)

// Pricing is Meta's word on what one message costs, as its status
// webhooks carry it since per-message pricing (Graph API v24.0):
// whether Meta bills it, under which category, of which type (regular,
// or free inside a customer-service or entry-point window) and under
// which pricing model.
type Pricing struct {
	Category string `firestore:"category" json:"category"`
	Billable bool   `firestore:"billable" json:"billable"`
	Type     string `firestore:"type,omitempty" json:"type,omitempty"`
	Model    string `firestore:"pricingModel,omitempty" json:"pricingModel,omitempty"`
}

// Meta's pricing categories (REFERENCE §8). Meta may add others; they are
// kept as Meta names them when they are short lower-case words.
const (
	CategoryMarketing                   = "marketing"
	CategoryMarketingLite               = "marketing_lite"
	CategoryUtility                     = "utility"
	CategoryAuthentication              = "authentication"
	CategoryAuthenticationInternational = "authentication_international"
	CategoryService                     = "service"
	// CategoryOther stands for a category that is missing or is not a
	// word: a category names counter documents, so it must be one.
	CategoryOther = "other"
)

// maxPricingWord bounds each of a pricing's words; Meta's longest,
// authentication_international, has 28 characters.
const maxPricingWord = 64

// NewPricing reads Meta's pricing object. Category and type are kept in
// lower case and the model in upper case, each only when it is a short
// word of letters, digits and underscores: whatever Meta sends, a pricing
// fits in a document and its category can name one.
func NewPricing(billable bool, model, category, typ string) Pricing {
	c := word(strings.ToLower(category))
	if c == "" {
		c = CategoryOther
	}
	return Pricing{Category: c, Billable: billable, Type: word(strings.ToLower(typ)), Model: word(strings.ToUpper(model))}
}

// word is s when it is 1 to maxPricingWord letters, digits and
// underscores, else "".
func word(s string) string {
	if len(s) > maxPricingWord {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return ""
		}
	}
	return s
}

// RecordPricing records p, the pricing a status reported at at, on the
// message. A status without pricing (p nil) leaves the recorded one as it
// is. Once a message is billable its pricing no longer changes, and the
// message counts in at's month's usage under its channel and category
// (Message.Usage), once, whatever is replayed; a message not yet billable
// takes Meta's latest word. The usage report counts the messages still
// kept, so a billable message is kept at least until the month after its
// usage month has ended, whatever the tenant's retention. recorded
// reports whether the message changed, billed whether it became billable
// now.
func (m *Message) RecordPricing(p *Pricing, at time.Time) (recorded, billed bool) {
	switch {
	case p == nil:
		return false, false
	case m.Pricing != nil && (m.Pricing.Billable || *m.Pricing == *p):
		return false, false
	}
	cp := *p
	m.Pricing = &cp
	if cp.Billable {
		m.Usage = UsageKey(MonthKey(at), m.Channel, cp.Category)
		y, mo, _ := at.UTC().Date()
		if keep := time.Date(y, mo+2, 1, 0, 0, 0, 0, time.UTC); !m.ExpireAt.IsZero() && m.ExpireAt.Before(keep) {
			m.ExpireAt = keep
		}
	}
	return true, cp.Billable
}

// UsageKey is what a billable message records to count in a month's usage
// (YYYY-MM) on a channel in a pricing category. Its prefixes group it:
// UsageKey(month, channel, "") is the prefix of every category's.
func UsageKey(month, channel, category string) string {
	return month + "/" + channel + "/" + category
}

// UsageCategories are the categories a usage report counts by name; a
// billable message of any other category Meta reports counts as
// CategoryOther.
var UsageCategories = []string{CategoryMarketing, CategoryMarketingLite, CategoryUtility,
	CategoryAuthentication, CategoryAuthenticationInternational, CategoryService}

// ParseMonth reads a calendar month as YYYY-MM (MonthKey's form), given
// under field.
func ParseMonth(field, s string) (string, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || t.Format("2006-01") != s {
		return "", Errorf(KindInvalid, "invalid fields: "+field+": must be a month as YYYY-MM", field)
	}
	return s, nil
}

// UsageCount is how many messages Meta reported billable for a tenant in
// one month, on one channel, in one pricing category.
type UsageCount struct {
	Channel  string
	Category string
	Count    int
}

// Usage is a tenant's billable messages in a month, in all and per
// channel, by pricing category: what Meta will bill.
type Usage struct {
	Month      string         `json:"month"`
	Billable   int            `json:"billable"`
	Categories map[string]int `json:"categories"`
	Channels   []ChannelUsage `json:"channels"`
}

// ChannelUsage is one channel's part of a Usage.
type ChannelUsage struct {
	Channel    string         `json:"channel"`
	Billable   int            `json:"billable"`
	Categories map[string]int `json:"categories"`
}

// SumUsage adds counts (a counter's shards come as separate counts) into
// month's Usage, channels in id order.
func SumUsage(month string, counts []UsageCount) Usage {
	u := Usage{Month: month, Categories: map[string]int{}, Channels: []ChannelUsage{}}
	at := map[string]int{}
	for _, c := range counts {
		if c.Count == 0 {
			continue
		}
		i, ok := at[c.Channel]
		if !ok {
			i = len(u.Channels)
			at[c.Channel] = i
			u.Channels = append(u.Channels, ChannelUsage{Channel: c.Channel, Categories: map[string]int{}})
		}
		u.Channels[i].Billable += c.Count
		u.Channels[i].Categories[c.Category] += c.Count
		u.Billable += c.Count
		u.Categories[c.Category] += c.Count
	}
	slices.SortFunc(u.Channels, func(a, b ChannelUsage) int { return strings.Compare(a.Channel, b.Channel) })
	return u
}
