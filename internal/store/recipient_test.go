package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// TestRecipientAndAKeptContact: Recipient reads the contact and its
// conversation, and an acceptance that keeps the contact leaves
// its document untouched.
func TestRecipientAndAKeptContact(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	const phone = "5511987650100"
	r, err := s.Recipient(ctx, "t1", "main", phone)
	if err != nil || r.Known || r.Conversation.Open(time.Now()) {
		t.Fatalf("recipient of a new number = %+v, %v; want unknown and no conversation", r, err)
	}
	now := time.Now().UTC()
	if _, err := s.Accept(ctx, store.Acceptance{Message: msg("t1", phone, now), Contact: domain.Contact{Phone: phone, FirstName: "Ana", UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	conv := domain.Conversation{ID: "c1", Channel: "main", Phone: phone, OpenedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.PutConversation(ctx, "t1", conv); err != nil {
		t.Fatal(err)
	}
	r, err = s.Recipient(ctx, "t1", "main", phone)
	if err != nil || !r.Known || r.Contact.FirstName != "Ana" || r.Conversation.ID != "c1" {
		t.Fatalf("recipient = %+v, %v; want the stored contact Ana and conversation c1", r, err)
	}
	before, err := fs.Doc("tenants/t1/contacts/" + phone).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	if _, err := s.Accept(ctx, store.Acceptance{Message: msg("t1", phone, later), Contact: domain.Contact{Phone: phone, FirstName: "Ana", UpdatedAt: later}, KeepContact: true}); err != nil {
		t.Fatal(err)
	}
	after, err := fs.Doc("tenants/t1/contacts/" + phone).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdateTime.Equal(before.UpdateTime) {
		t.Fatalf("a kept contact was written: update time %v, then %v", before.UpdateTime, after.UpdateTime)
	}
}

// TestRecipientFindsEveryWritersConversation: Recipient reads a
// conversation only for a stored contact, so every writer of a
// conversation must leave its contact: an inbound message, and a limited
// plan's reservation.
func TestRecipientFindsEveryWritersConversation(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	const wrote, reserved = "5511987650110", "5511987650111"
	if _, _, err := s.RecordInbound(ctx, "t1", store.Inbound{ID: "wamid.r1", Channel: "main", Phone: wrote, Type: "text", Text: "oi", At: now}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Recipient(ctx, "t1", "main", wrote)
	if err != nil || !r.Known || !r.Conversation.Open(now.Add(time.Minute)) {
		t.Fatalf("recipient after an inbound message = %+v, %v; want its open conversation", r, err)
	}
	m := msg("t1", reserved, now)
	if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: reserved, UpdatedAt: now}, Limit: 5, Now: now}); err != nil {
		t.Fatal(err)
	}
	r, err = s.Recipient(ctx, "t1", "main", reserved)
	if err != nil || !r.Known || r.Conversation.NeedsReservation(now) {
		t.Fatalf("recipient after a reservation = %+v, %v; want its reserved conversation", r, err)
	}
}
