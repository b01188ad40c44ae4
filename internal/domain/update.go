package domain

import (
	"fmt"
	"time"
)

// Update is the provider's word on a message it accepted: one status of a
// Meta status webhook.
type Update struct {
	ProviderMessageID string
	Status            Status // sent, delivered, read or failed
	At                time.Time
	Error             *MessageError // for failed
	// Pricing is the status's pricing, nil when it carried none; it is
	// recorded whether or not the status moves the message
	// (RecordPricing).
	Pricing *Pricing
	// Tenant is the message's tenant as the caller knows it (its cache):
	// how long a conversation this update opens lasts, and whether its
	// plan counts it (Tenant.CountsConversations). Nil has the store read
	// the tenant when a conversation opens.
	Tenant *Tenant
}

// webhookStatuses are the states a provider update may report.
var webhookStatuses = map[Status]bool{StatusSent: true, StatusDelivered: true, StatusRead: true, StatusFailed: true}

// ParseUpdateStatus maps a provider's status word to a state; ok is false
// for a word the gateway does not track (Meta may add some).
func ParseUpdateStatus(s string) (Status, bool) {
	st := Status(s)
	return st, webhookStatuses[st]
}

// Apply moves m forward to u's state and reports whether anything changed.
// A duplicate, late or out-of-order update (read, then delivered) changes
// nothing and is not an error: a message never moves backwards. An update
// reconciles an unknown attempt, and one that reaches a message still
// dispatching (the webhook outran dispatch's outcome) records the
// provider's id, so the late outcome finds the message already settled.
func (m *Message) Apply(u Update) (bool, error) {
	if !webhookStatuses[u.Status] {
		return false, fmt.Errorf("update status %q is not sent, delivered, read or failed", u.Status)
	}
	if !m.Owns(u) || !CanMove(m.Status, u.Status) {
		return false, nil
	}
	from := m.Status
	// Meta's timestamps have whole seconds while the gateway's own have
	// nanoseconds: the history never steps back in time.
	at := u.At
	if at.Before(m.UpdatedAt) {
		at = m.UpdatedAt
	}
	if err := m.Move(u.Status, at); err != nil {
		return false, err
	}
	if m.ProviderMessageID == "" {
		m.ProviderMessageID = u.ProviderMessageID
	}
	switch {
	case u.Status == StatusFailed:
		m.Error = u.Error
	case from == StatusUnknown || from == StatusAccepted || from == StatusDispatching || from == StatusHeld:
		// The provider proved the send: the attempt's doubt or retryable
		// error no longer describes the message.
		m.Error = nil
	}
	return true, nil
}

// Owns reports whether u is about this send: a message that already has
// a provider id takes only updates for that id, so a gateway id echoed on
// another send's status never moves it.
func (m *Message) Owns(u Update) bool {
	return m.ProviderMessageID == "" || u.ProviderMessageID == "" || m.ProviderMessageID == u.ProviderMessageID
}

// MonthKey names the calendar month (UTC) a conversation is counted in.
func MonthKey(t time.Time) string { return t.UTC().Format("2006-01") }

// ServiceWindow is how long a contact's inbound message lets a channel send
// free-form messages (Meta's customer-service window).
const ServiceWindow = 24 * time.Hour

// EarliestEventTime is the earliest time a webhook may report: WhatsApp
// did not exist before 2009, so an earlier timestamp is not a time at all.
var EarliestEventTime = time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxClockSkew is how far ahead of the gateway's clock a reported time
// may be and still be Meta's clock running ahead rather than a bad value.
const MaxClockSkew = 5 * time.Minute

// EventTime bounds a time a webhook reports by when the webhook arrived:
// nothing Meta reports can have happened after that, so a later time,
// an absent one and one before EarliestEventTime are the receive time.
// Every window and conversation computed from an event time therefore
// ends at most its length after now. problem says why the reported time
// was replaced, "" when it was usable (absent, or ahead by no more than
// MaxClockSkew, is not a problem).
func EventTime(reported, received time.Time) (at time.Time, problem string) {
	switch {
	case reported.IsZero():
		return received, ""
	case reported.Before(EarliestEventTime):
		return received, "before 2009"
	case reported.After(received.Add(MaxClockSkew)):
		return received, "in the future"
	case reported.After(received):
		return received, ""
	}
	return reported, ""
}
