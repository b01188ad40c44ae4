// Package callback delivers a tenant's status callbacks: every status
// change of a message that the tenant can act on is published as a Job on
// its own Pub/Sub topic, and the callbacks CloudEvent function POSTs it,
// signed, to the message's callback URL. Pub/Sub's backoff retries a
// failed delivery and its dead-letter policy ends it; see
// docs/callbacks.md for the receiver's side.
package callback

import (
	"strconv"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// EventType is the type of every status callback; receivers should ignore
// types they do not know, so new kinds of event can be added.
const EventType = "message.status"

// Event is the JSON body a tenant's callback URL receives.
type Event struct {
	// ID is unique per status change and the same on every retry of it,
	// so receivers deduplicate on it: "<messageId>.<n>", n counting the
	// message's status changes from 1 (its accept).
	ID        string        `json:"id"`
	Type      string        `json:"type"`
	MessageID string        `json:"messageId"`
	Status    domain.Status `json:"status"`
	// Timestamp is when the message entered Status (RFC 3339, UTC).
	// Deliveries are not ordered; receivers order by it.
	Timestamp      time.Time            `json:"timestamp"`
	Error          *domain.MessageError `json:"error,omitempty"`
	ConversationID string               `json:"conversationId,omitempty"`
	ClientRef      string               `json:"clientRef,omitempty"`
}

// EventOf is the event for m's latest status change, the last entry of
// its history.
func EventOf(m domain.Message) Event {
	status, at := m.Status, m.UpdatedAt
	if n := len(m.History); n > 0 {
		status, at = m.History[n-1].Status, m.History[n-1].At
	}
	e := Event{
		ID:             m.ID + "." + strconv.Itoa(len(m.History)),
		Type:           EventType,
		MessageID:      m.ID,
		Status:         status,
		Timestamp:      at.UTC(),
		ConversationID: m.ConversationID,
		ClientRef:      m.ClientRef,
	}
	// A message put back to accepted for a retry keeps the retryable
	// error; only a failure's error is the message's outcome.
	if status == domain.StatusFailed && m.Error != nil {
		err := *m.Error
		e.Error = &err
	}
	return e
}

// Job is one callback to deliver, as it travels on the callbacks topic.
type Job struct {
	Tenant string `json:"tenant"`
	URL    string `json:"url"`
	Event  Event  `json:"event"`
}
