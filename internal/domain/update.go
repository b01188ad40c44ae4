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
	case from == StatusUnknown || from == StatusAccepted || from == StatusDispatching:
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
