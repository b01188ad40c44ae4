package domain_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

var allStatuses = []domain.Status{
	domain.StatusAccepted, domain.StatusDispatching, domain.StatusPending, domain.StatusSent,
	domain.StatusDelivered, domain.StatusRead, domain.StatusFailed, domain.StatusUnknown,
	domain.StatusCancelled, domain.StatusHeld,
}

// allowed is the whole state machine, written out: every pair not listed
// here must be refused.
var allowed = map[[2]domain.Status]bool{
	{domain.StatusAccepted, domain.StatusDispatching}: true,
	{domain.StatusAccepted, domain.StatusHeld}:        true, // its channel is held
	{domain.StatusAccepted, domain.StatusFailed}:      true,
	{domain.StatusAccepted, domain.StatusSent}:        true, // a webhook proves a send dispatch thought retryable
	{domain.StatusAccepted, domain.StatusDelivered}:   true,
	{domain.StatusAccepted, domain.StatusRead}:        true,

	{domain.StatusDispatching, domain.StatusAccepted}:  true, // lease released for a retry
	{domain.StatusDispatching, domain.StatusPending}:   true,
	{domain.StatusDispatching, domain.StatusSent}:      true,
	{domain.StatusDispatching, domain.StatusDelivered}: true, // the webhook outran dispatch's outcome
	{domain.StatusDispatching, domain.StatusRead}:      true,
	{domain.StatusDispatching, domain.StatusFailed}:    true,
	{domain.StatusDispatching, domain.StatusUnknown}:   true,
	{domain.StatusDispatching, domain.StatusHeld}:      true, // Meta refused the channel, or it was held already

	{domain.StatusPending, domain.StatusSent}:      true,
	{domain.StatusPending, domain.StatusDelivered}: true,
	{domain.StatusPending, domain.StatusRead}:      true,
	{domain.StatusPending, domain.StatusFailed}:    true,

	{domain.StatusSent, domain.StatusDelivered}: true,
	{domain.StatusSent, domain.StatusRead}:      true,
	{domain.StatusSent, domain.StatusFailed}:    true,

	{domain.StatusDelivered, domain.StatusRead}: true,

	{domain.StatusUnknown, domain.StatusPending}:   true,
	{domain.StatusUnknown, domain.StatusSent}:      true,
	{domain.StatusUnknown, domain.StatusDelivered}: true,
	{domain.StatusUnknown, domain.StatusRead}:      true,
	{domain.StatusUnknown, domain.StatusFailed}:    true,
	{domain.StatusUnknown, domain.StatusAccepted}:  true, // resent once, past the wait, or by an operator

	{domain.StatusHeld, domain.StatusAccepted}:  true, // released: the channel was reconnected
	{domain.StatusHeld, domain.StatusFailed}:    true, // past the hold limit
	{domain.StatusHeld, domain.StatusSent}:      true, // an earlier attempt's webhook proves the send
	{domain.StatusHeld, domain.StatusDelivered}: true,
	{domain.StatusHeld, domain.StatusRead}:      true,

	// A cancelled broadcast's messages that never reached Meta; cancelled
	// is terminal.
	{domain.StatusAccepted, domain.StatusCancelled}: true,
	{domain.StatusHeld, domain.StatusCancelled}:     true,
}

func TestCanMoveEveryPair(t *testing.T) {
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			want := allowed[[2]domain.Status{from, to}]
			if got := domain.CanMove(from, to); got != want {
				t.Errorf("CanMove(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestCanMoveNamedCases(t *testing.T) {
	for _, tc := range []struct {
		from, to domain.Status
		want     bool
	}{
		{domain.StatusRead, domain.StatusDelivered, false},
		{domain.StatusSent, domain.StatusPending, false},
		{domain.StatusDelivered, domain.StatusSent, false},
		{domain.StatusSent, domain.StatusSent, false},           // a duplicated webhook
		{domain.StatusUnknown, domain.StatusDispatching, false}, // a redelivery never sends it again
		{domain.StatusHeld, domain.StatusDispatching, false},    // only a release makes it sendable
		{domain.StatusHeld, domain.StatusPending, false},
		{domain.StatusHeld, domain.StatusUnknown, false},
		{domain.StatusPending, domain.StatusHeld, false}, // Meta has it: nothing left to hold
		{domain.StatusDispatching, domain.StatusAccepted, true},
		{domain.StatusUnknown, domain.StatusSent, true},
		{domain.StatusPending, domain.StatusRead, true}, // delivered lost or late
	} {
		if got := domain.CanMove(tc.from, tc.to); got != tc.want {
			t.Errorf("CanMove(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	for _, to := range allStatuses {
		if domain.CanMove(domain.StatusFailed, to) {
			t.Errorf("CanMove(failed, %s) = true; failed is terminal", to)
		}
		if domain.CanMove(domain.StatusRead, to) {
			t.Errorf("CanMove(read, %s) = true; read is terminal", to)
		}
		if domain.CanMove(domain.StatusCancelled, to) {
			t.Errorf("CanMove(cancelled, %s) = true; cancelled is terminal", to)
		}
		if domain.CanMove("bogus", to) || domain.CanMove(to, "bogus") || domain.CanMove("", to) {
			t.Errorf("a move to or from an unknown state was allowed (%s)", to)
		}
	}
}

func TestStatusValid(t *testing.T) {
	for _, s := range allStatuses {
		if !s.Valid() {
			t.Errorf("%q.Valid() = false", s)
		}
	}
	for _, s := range []domain.Status{"", "bogus", "SENT", "Read"} {
		if s.Valid() {
			t.Errorf("%q.Valid() = true", s)
		}
	}
}

func TestMessageMove(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tpl := domain.TemplateMessage{Name: "welcome", Language: domain.Language{Code: "pt_BR"}}
	m := domain.NewMessage("m1", "demo", "main", "5511987654321", "welcome", tpl, t0)
	if m.Status != domain.StatusAccepted || !m.CreatedAt.Equal(t0) || !m.UpdatedAt.Equal(t0) ||
		!reflect.DeepEqual(m.History, []domain.HistoryEntry{{Status: domain.StatusAccepted, At: t0}}) {
		t.Fatalf("NewMessage = %+v", m)
	}
	if m.ID != "m1" || m.Tenant != "demo" || m.Channel != "main" || m.PhoneNumber != "5511987654321" ||
		m.TemplateID != "welcome" || !reflect.DeepEqual(m.Template, tpl) {
		t.Fatalf("NewMessage fields = %+v", m)
	}

	t1, t2, t3 := t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(3*time.Second)
	lease := t1.Add(30 * time.Second)
	if err := m.Move(domain.StatusDispatching, t1); err != nil {
		t.Fatal(err)
	}
	m.LeaseUntil = lease
	// Moving into dispatching again is refused; the lease stays.
	if err := m.Move(domain.StatusDispatching, t2); err == nil {
		t.Fatal("dispatching → dispatching allowed")
	}
	if !m.LeaseUntil.Equal(lease) {
		t.Errorf("refused move touched the lease: %v", m.LeaseUntil)
	}
	if err := m.Move(domain.StatusSent, t2); err != nil {
		t.Fatal(err)
	}
	if !m.LeaseUntil.IsZero() {
		t.Errorf("lease kept after leaving dispatching: %v", m.LeaseUntil)
	}
	if err := m.Move(domain.StatusRead, t3); err != nil {
		t.Fatal(err)
	}
	wantHistory := []domain.HistoryEntry{
		{Status: domain.StatusAccepted, At: t0},
		{Status: domain.StatusDispatching, At: t1},
		{Status: domain.StatusSent, At: t2},
		{Status: domain.StatusRead, At: t3},
	}
	if !reflect.DeepEqual(m.History, wantHistory) {
		t.Errorf("history = %+v, want %+v", m.History, wantHistory)
	}
	if m.Status != domain.StatusRead || !m.UpdatedAt.Equal(t3) || !m.CreatedAt.Equal(t0) {
		t.Errorf("status %s updatedAt %v createdAt %v", m.Status, m.UpdatedAt, m.CreatedAt)
	}
}

func TestMessageMoveRefusedLeavesMessageUnchanged(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct{ path []domain.Status }{
		{[]domain.Status{domain.StatusDispatching, domain.StatusSent, domain.StatusDelivered}},
		{[]domain.Status{domain.StatusDispatching, domain.StatusFailed}},
		{[]domain.Status{domain.StatusDispatching, domain.StatusUnknown}},
		{nil},
	} {
		m := domain.NewMessage("m1", "demo", "main", "5511987654321", "welcome", domain.TemplateMessage{Name: "welcome"}, t0)
		for i, s := range tc.path {
			if err := m.Move(s, t0.Add(time.Duration(i+1)*time.Second)); err != nil {
				t.Fatalf("path %v: %v", tc.path, err)
			}
		}
		for _, to := range allStatuses {
			if domain.CanMove(m.Status, to) {
				continue
			}
			before := m
			before.History = append([]domain.HistoryEntry(nil), m.History...)
			err := m.Move(to, t0.Add(time.Hour))
			var te *domain.ErrTransition
			if !errors.As(err, &te) {
				t.Errorf("%s → %s: err = %v (%T), want *ErrTransition", before.Status, to, err, err)
				continue
			}
			if te.From != before.Status || te.To != to {
				t.Errorf("ErrTransition = %+v, want From %s To %s", te, before.Status, to)
			}
			if want := "message cannot move from " + string(before.Status) + " to " + string(to); te.Error() != want {
				t.Errorf("Error() = %q, want %q", te.Error(), want)
			}
			if !reflect.DeepEqual(m, before) {
				t.Errorf("%s → %s refused but the message changed:\n got %+v\nwant %+v", before.Status, to, m, before)
			}
		}
	}
}

func TestContactName(t *testing.T) {
	for _, tc := range []struct{ client, first, last, phone, want string }{
		{"ACME", "Ana", "Silva", "5511987654321", "ACME"},
		{"", "Ana", "Silva", "5511987654321", "Ana Silva"},
		{"", "Ana", "", "5511987654321", "Ana"},
		{"", "", "Silva", "5511987654321", "Silva"},
		{"", "", "", "5511987654321", "5511987654321"},
	} {
		if got := domain.ContactName(tc.client, tc.first, tc.last, tc.phone); got != tc.want {
			t.Errorf("ContactName(%q, %q, %q, %q) = %q, want %q", tc.client, tc.first, tc.last, tc.phone, got, tc.want)
		}
	}
}
