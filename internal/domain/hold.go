package domain

import (
	"fmt"
	"time"
)

// Hold is why a channel cannot send for now, and since when: Meta refused
// the channel as a whole (its access token, its account), not one
// recipient. Its messages wait as held instead of failing, because the
// fix is the business's (a new token, an appeal), not the recipient's.
type Hold struct {
	// Code is Meta's error code (190, 131031, 368, 131048).
	Code int `firestore:"code" json:"code"`
	// Reason is Meta's title for it, for the operator.
	Reason string    `firestore:"reason" json:"reason"`
	Since  time.Time `firestore:"since" json:"since"`
}

// DefaultHoldLimit is how long a message may wait held before it fails
// with its channel's reason: a day is long enough for a person to fix a
// token, short enough that a template sent today is not delivered next
// week.
const DefaultHoldLimit = 24 * time.Hour

// holdPrefix starts the error of every held message, so the messages API
// and callbacks say why the message waits.
const holdPrefix = "channel held: "

// MessageError is the error a held message carries: the hold's code and
// reason.
func (h Hold) MessageError() *MessageError {
	return &MessageError{Code: h.Code, Title: holdPrefix + h.Reason}
}

// HoldFor moves m to held because its channel is held by h. The message
// was not handed to Meta, so it keeps no lease and nothing to reconcile.
func (m *Message) HoldFor(h Hold, at time.Time) error {
	if err := m.Move(StatusHeld, at); err != nil {
		return err
	}
	m.Error = h.MessageError()
	return nil
}

// Release puts a held message back to accepted once its channel can send
// again; the hold no longer describes it.
func (m *Message) Release(at time.Time) error {
	if m.Status != StatusHeld {
		return &ErrTransition{From: m.Status, To: StatusAccepted}
	}
	if err := m.Move(StatusAccepted, at); err != nil {
		return err
	}
	m.Error = nil
	return nil
}

// HoldLapsed reports whether m has been held for limit or longer at now.
// A held message changes only when it leaves held, so the time it entered
// is its UpdatedAt.
func (m Message) HoldLapsed(limit time.Duration, now time.Time) bool {
	return m.Status == StatusHeld && !now.Before(m.UpdatedAt.Add(limit))
}

// ExpireHold fails a message held for limit or longer at now, with its
// channel's code and reason: the channel never came back in time.
func (m *Message) ExpireHold(limit time.Duration, now time.Time) error {
	if !m.HoldLapsed(limit, now) {
		return fmt.Errorf("message held since %s is within the hold limit of %s at %s", m.UpdatedAt.Format(time.RFC3339), Hours(limit), now.Format(time.RFC3339))
	}
	code, reason := 0, "its channel could not send"
	if m.Error != nil {
		code, reason = m.Error.Code, m.Error.Title
	}
	if err := m.Move(StatusFailed, now); err != nil {
		return err
	}
	m.Error = &MessageError{Code: code, Title: fmt.Sprintf("held longer than %s: %s", Hours(limit), reason)}
	return nil
}

// Hours writes a duration of whole hours as "24h" rather than Go's
// "24h0m0s", which reads oddly in an error a tenant sees.
func Hours(d time.Duration) string {
	if d > 0 && d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
