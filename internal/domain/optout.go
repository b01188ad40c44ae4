package domain

import (
	"slices"
	"strings"
	"time"
	"unicode"
)

// OptOut is a contact's marketing opt-out state: while Out, MARKETING
// templates are refused for it; UTILITY and AUTHENTICATION ones still go.
type OptOut struct {
	Out bool `firestore:"out" json:"optedOut"`
	// At is when the state last changed; a change older than it is stale
	// (webhooks arrive out of order) and is ignored.
	At time.Time `firestore:"at,omitempty" json:"at,omitzero"`
	// Source says what changed it: OptOutByPreference, OptOutByKeyword,
	// OptOutByMeta or OptOutByOperator.
	Source string `firestore:"source,omitempty" json:"source,omitempty"`
}

// What changes a contact's opt-out state.
const (
	OptOutByPreference = "user_preferences" // Meta's user_preferences webhook
	OptOutByKeyword    = "keyword"          // an inbound message that is a keyword
	OptOutByMeta       = "meta_131050"      // Meta refused a marketing send with 131050
	OptOutByOperator   = "operator"         // the tenant, through an API or the CLI
)

// Default keywords, compared case-insensitively with the whole message.
var (
	DefaultOptOutKeywords = []string{"STOP", "PARAR", "SAIR", "CANCELAR", "UNSUBSCRIBE"}
	DefaultOptInKeywords  = []string{"START", "VOLTAR"}
)

// MetaUserStoppedMarketing is Meta's error code for a marketing send to a
// user who stopped marketing messages from the business.
const MetaUserStoppedMarketing = 131050

// KeywordChange reports whether an inbound text is one of the tenant's
// keywords: out is true for an opt-out keyword, ok false when it is none.
// The whole message must be the keyword, so "stop sending me the wrong
// size" opts nobody out.
func (t Tenant) KeywordChange(text string) (out, ok bool) {
	word := strings.ToUpper(strings.TrimFunc(text, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }))
	if word == "" {
		return false, false
	}
	outs, ins := t.OptOutKeywords, t.OptInKeywords
	if len(outs) == 0 {
		outs = DefaultOptOutKeywords
	}
	if len(ins) == 0 {
		ins = DefaultOptInKeywords
	}
	match := func(k string) bool { return strings.EqualFold(strings.TrimSpace(k), word) }
	switch {
	case slices.ContainsFunc(outs, match):
		return true, true
	case slices.ContainsFunc(ins, match):
		return false, true
	}
	return false, false
}

// Apply moves the state to out as of at, from source, and reports whether
// it changed: a repeat changes nothing, and a change older than the last
// one is stale.
func (o *OptOut) Apply(out bool, at time.Time, source string) bool {
	if at.Before(o.At) || o.Out == out && !o.At.IsZero() {
		return false
	}
	if o.Out == out && o.At.IsZero() && !out {
		return false // never opted out: nothing to opt back in from
	}
	o.Out, o.At, o.Source = out, at, source
	return true
}

// CheckMarketing refuses a MARKETING template to a contact who opted out
// of marketing; field names the request's phone field.
func CheckMarketing(c Contact, t Template, field string) error {
	if !t.Marketing() || !c.Marketing.Out {
		return nil
	}
	return Errorf(KindInvalid, "invalid fields: "+field+": the contact opted out of marketing messages; template "+t.Name+" is MARKETING (UTILITY and AUTHENTICATION templates still go)", field)
}

// OptOutRefusal is the reason a bulk recipient who opted out of marketing
// is refused with.
const OptOutRefusal = "opted out of marketing"
