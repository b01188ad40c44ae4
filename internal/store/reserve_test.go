package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// TestReservationsHoldTheLimitOnFirestore: concurrent sends to new
// contacts under a limit, each its own commit as on separate instances,
// open at most the plan's conversations; a contact already reserved does
// not count again, and a send that fails before Meta took it gives its
// reservation back.
func TestReservationsHoldTheLimitOnFirestore(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	const limit = 3
	accept := func(phone string) (domain.Message, error) {
		m := msg("t1", phone, now)
		_, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: now}, Limit: limit, Now: now})
		return m, err
	}
	first, err := accept("5511987650000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accept("5511987650000"); err != nil {
		t.Fatalf("a second send to the reserved contact: %v", err)
	}
	if _, err := accept("5511987650001"); err != nil {
		t.Fatal(err)
	}
	var admitted, refused int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			_, err := accept(fmt.Sprintf("55119876501%02d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted++
			case domain.KindOf(err) == domain.KindLimitReached:
				refused++
			default:
				t.Errorf("accept: %v", err)
			}
		})
	}
	wg.Wait()
	if admitted != 1 || refused != 11 {
		t.Fatalf("admitted %d, refused %d; want 1 and 11", admitted, refused)
	}
	if n, err := s.ConversationsOpened(ctx, "t1", domain.MonthKey(now)); err != nil || n != limit {
		t.Fatalf("counted %d (%v), want %d", n, err, limit)
	}

	// The first send fails before Meta took it: its reservation comes back.
	claimed, err := s.Claim(ctx, "t1", first.ID, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettleClaimed(ctx, claimed, func(m *domain.Message, _ domain.Conversation) error {
		m.Error = &domain.MessageError{Code: 132001, Title: "Template does not exist"}
		return m.Move(domain.StatusFailed, now)
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ConversationsOpened(ctx, "t1", domain.MonthKey(now)); n != limit-1 {
		t.Fatalf("after the failure counted %d, want %d", n, limit-1)
	}
	if _, err := accept("5511987650200"); err != nil {
		t.Errorf("a new contact after a reservation came back: %v", err)
	}
}

// TestReserveBatchMessages: a bulk group reserves what the plan has left
// and creates the rest failed with the limit's refusal, once.
func TestReserveBatchMessages(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	var msgs []domain.Message
	for i := range 5 {
		m := msg("t1", fmt.Sprintf("55119876503%02d", i), now)
		m.ID = fmt.Sprintf("b-%d", i)
		msgs = append(msgs, m)
	}
	if _, err := s.ReserveBatchMessages(ctx, "t1", msgs, 2, now); err != nil {
		t.Fatal(err)
	}
	again, err := s.ReserveBatchMessages(ctx, "t1", msgs, 2, now)
	if err != nil || len(again) != 5 {
		t.Fatalf("a redelivered group: %v %v, want every message found", again, err)
	}
	sent, failed := 0, 0
	for _, m := range msgs {
		got, err := s.Message(ctx, "t1", m.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case got.Status == domain.StatusAccepted:
			sent++
		case got.Status == domain.StatusFailed && got.Error != nil && *got.Error == store.LimitRefusal:
			failed++
		}
	}
	if sent != 2 || failed != 3 {
		t.Errorf("accepted %d, refused %d; want 2 and 3", sent, failed)
	}
	if n, _ := s.ConversationsOpened(ctx, "t1", domain.MonthKey(now)); n != 2 {
		t.Errorf("counted %d, want 2", n)
	}
}
