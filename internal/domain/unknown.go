package domain

import (
	"fmt"
	"time"
)

// UnknownPolicy is what becomes of a message whose outcome is unknown (Meta
// may or may not have it) once Meta's webhook has not settled it within
// the wait.
type UnknownPolicy string

// Unknown policies. Resending risks a duplicate if Meta took the first
// send and its webhook is merely late; holding risks a message never sent
// until a person looks. The default resends, once.
const (
	UnknownResend UnknownPolicy = "resend"
	UnknownHold   UnknownPolicy = "hold"
)

// DefaultUnknownWait is how long an unknown message waits for Meta's
// webhook before it is resent: Meta posts a send's first status within
// seconds, so ten minutes of silence means it most likely never took it.
const DefaultUnknownWait = 10 * time.Minute

// Valid reports whether p is a policy; "" is the default, resend.
func (p UnknownPolicy) Valid() bool {
	return p == "" || p == UnknownResend || p == UnknownHold
}

// ResendsUnknown reports whether the tenant's unknown messages are resent
// once the wait is over.
func (t Tenant) ResendsUnknown() bool { return t.UnknownPolicy != UnknownHold }

// MarkUnknown moves m to unknown with why its outcome was lost. A message
// never resent waits until at+wait for Meta's webhook, then is due for its
// one resend; a message already resent waits for a person instead, since
// a second doubt in a row is no longer chance.
func (m *Message) MarkUnknown(e *MessageError, at time.Time, wait time.Duration) error {
	if err := m.Move(StatusUnknown, at); err != nil {
		return err
	}
	m.Error = e
	m.ReconcileUntil = time.Time{}
	if m.ResentAt.IsZero() {
		m.ReconcileUntil = at.Add(wait)
	}
	return nil
}

// ResendDue reports whether sweep resends m at now: it is unknown, was
// never resent, and Meta's webhook did not settle it within its wait.
func (m Message) ResendDue(now time.Time) bool {
	return m.Status == StatusUnknown && m.ResentAt.IsZero() && !m.ReconcileUntil.IsZero() && !now.Before(m.ReconcileUntil)
}

// Resend puts an unknown message back to accepted, for dispatch to send
// again, and records when. The unknown attempt's error stays until the
// resend's own outcome replaces it, so the message says why it was resent.
func (m *Message) Resend(at time.Time) error {
	if m.Status != StatusUnknown {
		return &ErrTransition{From: m.Status, To: StatusAccepted}
	}
	if err := m.Move(StatusAccepted, at); err != nil {
		return err
	}
	m.ResentAt = at
	m.ReconcileUntil = time.Time{}
	return nil
}

// KeepUnknown leaves m unknown for a person to settle: nothing will
// resend it on its own.
func (m *Message) KeepUnknown() error {
	if m.Status != StatusUnknown {
		return fmt.Errorf("message is %s, not unknown", m.Status)
	}
	m.ReconcileUntil = time.Time{}
	return nil
}

// Settlement is what an operator decides an unknown message became.
type Settlement string

// An operator settles an unknown message as sent (Meta has it, e.g. the
// contact confirmed), failed (it will not be sent), or resend.
const (
	SettleSent   Settlement = "sent"
	SettleFailed Settlement = "failed"
	SettleResend Settlement = "resend"
)

// ParseSettlement reads an operator's --as value.
func ParseSettlement(s string) (Settlement, error) {
	switch v := Settlement(s); v {
	case SettleSent, SettleFailed, SettleResend:
		return v, nil
	}
	return "", fmt.Errorf("%q is not sent, failed or resend", s)
}

// SettledByOperator is the error of a message an operator settled as
// failed.
const SettledByOperator = "settled as failed by an operator: its outcome was unknown"

// Settle applies an operator's decision to an unknown message. Only an
// unknown message is settled this way: any other state is Meta's word or
// the gateway's own, which no person overrides.
func (m *Message) Settle(as Settlement, at time.Time) error {
	if m.Status != StatusUnknown {
		return fmt.Errorf("message is %s; only an unknown message is settled by hand", m.Status)
	}
	switch as {
	case SettleSent:
		if err := m.Move(StatusSent, at); err != nil {
			return err
		}
		m.Error, m.ReconcileUntil = nil, time.Time{}
	case SettleFailed:
		if err := m.Move(StatusFailed, at); err != nil {
			return err
		}
		m.Error, m.ReconcileUntil = &MessageError{Title: SettledByOperator}, time.Time{}
	case SettleResend:
		return m.Resend(at)
	default:
		return fmt.Errorf("settlement %q is not sent, failed or resend", as)
	}
	return nil
}
