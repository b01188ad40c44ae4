package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

var lostAnswer = &domain.MessageError{Title: "no answer after the request was sent"}

func TestUnknownWaitsThenIsDueForOneResend(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	wait := domain.DefaultUnknownWait
	m := claimed(t, t0)
	at := t0.Add(2 * time.Second)
	if err := m.MarkUnknown(lostAnswer, at, wait); err != nil {
		t.Fatal(err)
	}
	if m.Status != domain.StatusUnknown || m.Error != lostAnswer || !m.ReconcileUntil.Equal(at.Add(wait)) {
		t.Fatalf("unknown message = %+v, want unknown until %v", m, at.Add(wait))
	}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{{at, false}, {at.Add(wait - time.Nanosecond), false}, {at.Add(wait), true}, {at.Add(time.Hour), true}} {
		if got := m.ResendDue(tc.now); got != tc.want {
			t.Errorf("ResendDue at +%s = %v, want %v", tc.now.Sub(at), got, tc.want)
		}
	}

	resentAt := at.Add(wait)
	if err := m.Resend(resentAt); err != nil {
		t.Fatal(err)
	}
	if m.Status != domain.StatusAccepted || !m.ResentAt.Equal(resentAt) || !m.ReconcileUntil.IsZero() || m.Error != lostAnswer {
		t.Fatalf("resent message = %+v, want accepted, resent at %v, keeping why", m, resentAt)
	}
	if got := history(m); !reflect.DeepEqual(got, []domain.Status{"accepted", "dispatching", "unknown", "accepted"}) {
		t.Errorf("history %v", got)
	}

	// The resend's outcome is lost too: no second resend, a person decides.
	if err := m.Move(domain.StatusDispatching, resentAt.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	again := resentAt.Add(2 * time.Second)
	if err := m.MarkUnknown(lostAnswer, again, wait); err != nil {
		t.Fatal(err)
	}
	if !m.ReconcileUntil.IsZero() || m.ResendDue(again.Add(24*time.Hour)) {
		t.Errorf("a resent message is due again: reconcile until %v", m.ReconcileUntil)
	}
}

func TestResendRefusedUnlessUnknown(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, s := range []domain.Status{domain.StatusPending, domain.StatusSent, domain.StatusFailed, domain.StatusHeld} {
		m := claimed(t, t0)
		if err := m.Move(s, t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := m.Resend(t0.Add(time.Hour)); err == nil || m.Status != s || !m.ResentAt.IsZero() {
			t.Errorf("%s message resent: err %v, message %+v", s, err, m)
		}
		if m.ResendDue(t0.Add(time.Hour)) {
			t.Errorf("%s message due for a resend", s)
		}
	}
}

func TestKeepUnknownIsNeverDue(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	m := claimed(t, t0)
	if err := m.MarkUnknown(lostAnswer, t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := m.KeepUnknown(); err != nil {
		t.Fatal(err)
	}
	if m.Status != domain.StatusUnknown || m.ResendDue(t0.Add(24*time.Hour)) {
		t.Errorf("kept message = %+v, due %v", m, m.ResendDue(t0.Add(24*time.Hour)))
	}
	sent := claimed(t, t0)
	if err := sent.Move(domain.StatusPending, t0); err != nil {
		t.Fatal(err)
	}
	if sent.KeepUnknown() == nil {
		t.Error("a pending message was kept unknown")
	}
}

func TestOperatorSettlesOnlyUnknown(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := t0.Add(time.Hour)
	for _, tc := range []struct {
		as        string
		status    domain.Status
		err       *domain.MessageError
		resentSet bool
	}{
		{"sent", domain.StatusSent, nil, false},
		{"failed", domain.StatusFailed, &domain.MessageError{Title: domain.SettledByOperator}, false},
		{"resend", domain.StatusAccepted, lostAnswer, true},
	} {
		as, err := domain.ParseSettlement(tc.as)
		if err != nil {
			t.Fatal(err)
		}
		m := claimed(t, t0)
		if err := m.MarkUnknown(lostAnswer, t0, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := m.Settle(as, at); err != nil {
			t.Fatalf("--as %s: %v", tc.as, err)
		}
		if m.Status != tc.status || !reflect.DeepEqual(m.Error, tc.err) || m.ResentAt.IsZero() == tc.resentSet || !m.ReconcileUntil.IsZero() || !m.UpdatedAt.Equal(at) {
			t.Errorf("--as %s: %+v, want %s with error %+v", tc.as, m, tc.status, tc.err)
		}
		// Settled once, it is no longer the operator's to settle.
		if err := m.Settle(as, at.Add(time.Minute)); err == nil {
			t.Errorf("--as %s settled a %s message", tc.as, m.Status)
		}
	}
	for _, bad := range []string{"", "read", "SENT", "delivered"} {
		if _, err := domain.ParseSettlement(bad); err == nil {
			t.Errorf("ParseSettlement(%q) accepted", bad)
		}
	}
}

func TestUnknownPolicy(t *testing.T) {
	for p, want := range map[domain.UnknownPolicy]bool{"": true, "resend": true, "hold": false} {
		if !p.Valid() {
			t.Errorf("%q not valid", p)
		}
		if got := (domain.Tenant{UnknownPolicy: p}).ResendsUnknown(); got != want {
			t.Errorf("policy %q resends = %v, want %v", p, got, want)
		}
	}
	for _, p := range []domain.UnknownPolicy{"Resend", "never", " "} {
		if p.Valid() {
			t.Errorf("%q valid", p)
		}
	}
}
