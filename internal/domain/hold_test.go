package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

var tokenHold = domain.Hold{Code: 190, Reason: "Error validating access token", Since: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}

// claimed is a message dispatch has claimed at t0+1s.
func claimed(t *testing.T, t0 time.Time) domain.Message {
	t.Helper()
	m := domain.NewMessage("m1", "acme", "main", "5511987654321", "welcome", domain.TemplateMessage{Name: "welcome"}, t0)
	if err := m.Move(domain.StatusDispatching, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	m.Attempts, m.LeaseUntil = 1, t0.Add(time.Minute)
	return m
}

func TestHoldThenRelease(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	m := claimed(t, t0)
	if err := m.HoldFor(tokenHold, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	want := &domain.MessageError{Code: 190, Title: "channel held: Error validating access token"}
	if m.Status != domain.StatusHeld || !reflect.DeepEqual(m.Error, want) || !m.LeaseUntil.IsZero() {
		t.Fatalf("held message = %+v error %+v, want held with %+v and no lease", m, m.Error, want)
	}
	if err := m.Release(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m.Status != domain.StatusAccepted || m.Error != nil || !m.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("released message = %+v error %+v, want accepted without the hold's error", m, m.Error)
	}
	if got := history(m); !reflect.DeepEqual(got, []domain.Status{"accepted", "dispatching", "held", "accepted"}) {
		t.Errorf("history %v", got)
	}
	// Releasing what is not held is refused and changes nothing.
	before := m
	if err := m.Release(t0.Add(2 * time.Hour)); err == nil || m.Status != before.Status || len(m.History) != len(before.History) {
		t.Errorf("release of an accepted message: err %v, message %+v", err, m)
	}
}

func TestHoldRefusedOnceMetaHasTheMessage(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, s := range []domain.Status{domain.StatusPending, domain.StatusSent, domain.StatusFailed, domain.StatusUnknown} {
		m := claimed(t, t0)
		if err := m.Move(s, t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := m.HoldFor(tokenHold, t0.Add(3*time.Second)); err == nil || m.Status != s {
			t.Errorf("%s message held: err %v, status %s", s, err, m.Status)
		}
	}
}

func TestHoldLapsesAtTheLimit(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	heldAt := t0.Add(2 * time.Second)
	limit := domain.DefaultHoldLimit
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{heldAt, false},
		{heldAt.Add(limit - time.Nanosecond), false},
		{heldAt.Add(limit), true},
		{heldAt.Add(limit + time.Hour), true},
	} {
		m := claimed(t, t0)
		if err := m.HoldFor(tokenHold, heldAt); err != nil {
			t.Fatal(err)
		}
		if got := m.HoldLapsed(limit, tc.at); got != tc.want {
			t.Errorf("HoldLapsed at +%s = %v, want %v", tc.at.Sub(heldAt), got, tc.want)
		}
		err := m.ExpireHold(limit, tc.at)
		if !tc.want {
			if err == nil || m.Status != domain.StatusHeld {
				t.Errorf("ExpireHold at +%s: err %v, status %s; want refused, still held", tc.at.Sub(heldAt), err, m.Status)
			}
			continue
		}
		want := &domain.MessageError{Code: 190, Title: "held longer than 24h: channel held: Error validating access token"}
		if err != nil || m.Status != domain.StatusFailed || !reflect.DeepEqual(m.Error, want) || !m.UpdatedAt.Equal(tc.at) {
			t.Errorf("ExpireHold at +%s: err %v, message %s error %+v; want failed with %+v", tc.at.Sub(heldAt), err, m.Status, m.Error, want)
		}
	}
	// A message that is not held never lapses.
	m := claimed(t, t0)
	if m.HoldLapsed(limit, t0.Add(48*time.Hour)) || m.ExpireHold(limit, t0.Add(48*time.Hour)) == nil {
		t.Error("a dispatching message lapsed as if held")
	}
}

func TestHours(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour: "24h", time.Hour: "1h", 90 * time.Minute: "1h30m0s", 10 * time.Second: "10s", 0: "0s",
	} {
		if got := domain.Hours(d); got != want {
			t.Errorf("Hours(%v) = %q, want %q", d, got, want)
		}
	}
}

func history(m domain.Message) []domain.Status {
	var out []domain.Status
	for _, h := range m.History {
		out = append(out, h.Status)
	}
	return out
}
