// Package callback delivers a tenant's callbacks: every status change of
// a message that the tenant can act on, and every message its contacts
// send, is published as a Job on its own Pub/Sub topic, and the callbacks
// CloudEvent function POSTs it, signed, to the message's callback URL (a
// received message: the tenant's). Pub/Sub's backoff retries a failed
// delivery and its dead-letter policy ends it; see docs/callbacks.md for
// the receiver's side.
package callback

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// EventType is the type of every status callback; receivers should ignore
// types they do not know, so new kinds of event can be added.
const EventType = "message.status"

// ReceivedType is the type of the callback of a message one of the
// tenant's contacts sent.
const ReceivedType = "message.received"

// Event is the JSON body a tenant's callback URL receives: a status change
// of a message the tenant sent (EventType) or a message a contact sent
// (ReceivedType). Fields one type does not use are left out.
type Event struct {
	// ID is unique per event and the same on every retry of it, so
	// receivers deduplicate on it: for a status change
	// "<messageId>.<n>", n counting the message's status changes from 1
	// (its accept); for a received message "received.<h>", h a hash of
	// Meta's id of it, which embeds the contact's number and so stays out
	// of the id that logs and headers carry.
	ID        string        `json:"id"`
	Type      string        `json:"type"`
	MessageID string        `json:"messageId,omitempty"`
	Status    domain.Status `json:"status,omitempty"`
	// Timestamp is when the message entered Status, or when the contact
	// sent the message (RFC 3339, UTC). Deliveries are not ordered;
	// receivers order by it.
	Timestamp      time.Time            `json:"timestamp"`
	Error          *domain.MessageError `json:"error,omitempty"`
	ConversationID string               `json:"conversationId,omitempty"`
	ClientRef      string               `json:"clientRef,omitempty"`
	// Pricing is Meta's pricing of the message, once a status reported
	// it.
	Pricing *domain.Pricing `json:"pricing,omitempty"`

	// Channel, From, UserID, ProfileName and Message describe a received
	// message: the channel written to, the contact's number (absent for a
	// contact Meta identified by its business-scoped user id alone), that
	// user id when Meta gave it, its WhatsApp profile name, and the
	// message.
	Channel     string    `json:"channel,omitempty"`
	From        string    `json:"from,omitempty"`
	UserID      string    `json:"userId,omitempty"`
	ProfileName string    `json:"profileName,omitempty"`
	Message     *Received `json:"message,omitempty"`

	// Template is the template a template.status event is about, and
	// Contact the contact of a contact.opt_out or contact.opt_in event.
	Template *TemplateChange `json:"template,omitempty"`
	Contact  *ConsentChange  `json:"contact,omitempty"`

	// Hold is, in a channel.held event (ChannelHeldType), why Meta
	// refuses Channel and since when.
	Hold *domain.Hold `json:"hold,omitempty"`
}

// Received is a received message's content: its type and the part of it
// that type carries.
type Received struct {
	ID       string                  `json:"id"`
	Type     string                  `json:"type"`
	Text     string                  `json:"text,omitempty"`
	Media    *domain.InboundMedia    `json:"media,omitempty"`
	Reply    *domain.InboundReply    `json:"reply,omitempty"`
	Reaction *domain.InboundReaction `json:"reaction,omitempty"`
	Location *domain.InboundLocation `json:"location,omitempty"`
	Contacts []domain.SharedContact  `json:"contacts,omitempty"`
	// Context is the wamid of the message this one answers.
	Context string `json:"context,omitempty"`
}

// ReceivedEventID is the event id of the received message wamid: 128 bits
// of its SHA-256, the same on every retry and replay of it.
func ReceivedEventID(wamid string) string {
	sum := sha256.Sum256([]byte(wamid))
	return "received." + hex.EncodeToString(sum[:16])
}

// ReceivedEventOf is the event of a message a contact sent.
func ReceivedEventOf(in domain.InboundMessage) Event {
	return Event{
		ID: ReceivedEventID(in.ID), Type: ReceivedType, Timestamp: in.At.UTC(), ConversationID: in.ConversationID,
		Channel: in.Channel, From: in.Phone, UserID: in.UserID, ProfileName: in.ProfileName,
		Message: &Received{
			ID: in.ID, Type: in.Type, Text: in.Text, Media: in.Media, Reply: in.Reply, Reaction: in.Reaction,
			Location: in.Location, Contacts: in.Contacts, Context: in.Context,
		},
	}
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
	if m.Pricing != nil {
		p := *m.Pricing
		e.Pricing = &p
	}
	return e
}

// Job is one callback to deliver, as it travels on the callbacks topic.
type Job struct {
	Tenant string `json:"tenant"`
	URL    string `json:"url"`
	Event  Event  `json:"event"`
}
