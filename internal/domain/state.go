package domain

import (
	"fmt"
	"time"
)

// Status is a message's state.
type Status string

// Message states. accepted → dispatching → pending | sent → delivered →
// read, or failed (terminal). unknown marks an attempt whose outcome was
// lost after the request left: Meta's webhook reconciles it, and only
// past a bounded wait is it resent, once (unknown.go). held is a message
// whose channel cannot send now (hold.go): released to accepted when the
// channel is reconnected, failed past the hold limit.
const (
	StatusAccepted    Status = "accepted"
	StatusDispatching Status = "dispatching"
	StatusPending     Status = "pending"
	StatusSent        Status = "sent"
	StatusDelivered   Status = "delivered"
	StatusRead        Status = "read"
	StatusFailed      Status = "failed"
	StatusUnknown     Status = "unknown"
	StatusHeld        Status = "held"
	// StatusCancelled is terminal: the message's broadcast was cancelled
	// before the message reached Meta, so it is never sent.
	StatusCancelled Status = "cancelled"
)

// transitions lists, for each state, the states it may move to. Anything
// else is a late, duplicated or out-of-order event and is refused, so a
// message never moves backwards. accepted and dispatching may jump to a
// state only Meta's webhook reports (sent, delivered, read): the webhook
// proves the send, which stops a redelivery from sending it again and lets
// a status that outruns dispatch's own outcome land. held may jump the
// same way, since an earlier attempt's webhook proves a send just as well.
// unknown goes back to accepted only to be resent, which sweep and the
// operator decide (unknown.go), never a webhook.
var transitions = map[Status][]Status{
	StatusAccepted:    {StatusDispatching, StatusHeld, StatusSent, StatusDelivered, StatusRead, StatusFailed, StatusCancelled},
	StatusDispatching: {StatusAccepted, StatusHeld, StatusPending, StatusSent, StatusDelivered, StatusRead, StatusFailed, StatusUnknown},
	StatusPending:     {StatusSent, StatusDelivered, StatusRead, StatusFailed},
	StatusSent:        {StatusDelivered, StatusRead, StatusFailed},
	StatusDelivered:   {StatusRead},
	StatusUnknown:     {StatusAccepted, StatusPending, StatusSent, StatusDelivered, StatusRead, StatusFailed},
	StatusHeld:        {StatusAccepted, StatusSent, StatusDelivered, StatusRead, StatusFailed, StatusCancelled},
}

// Valid reports whether s is one of the message states.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok || s == StatusRead || s == StatusFailed || s == StatusCancelled
}

// CanMove reports whether a message in state from may move to state to.
func CanMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// ErrTransition is returned when a move is not allowed from the current state.
type ErrTransition struct{ From, To Status }

func (e *ErrTransition) Error() string {
	return fmt.Sprintf("message cannot move from %s to %s", e.From, e.To)
}

// HistoryEntry is one state a message entered, and when.
type HistoryEntry struct {
	Status Status    `firestore:"status" json:"status"`
	At     time.Time `firestore:"at" json:"at"`
}

// MessageError is the provider's reason for a failure.
type MessageError struct {
	Code  int    `firestore:"code" json:"code"`
	Title string `firestore:"title" json:"title"`
}
