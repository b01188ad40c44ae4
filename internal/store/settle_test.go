package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// TestSettleClaimedWritesTheOutcomeWithoutARead: the outcome lands on the
// claimed message, which the tenant's wamid lookup then finds, the fields
// the outcome does not touch stay, and an emptied field is removed.
func TestSettleClaimedWritesTheOutcomeWithoutARead(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	m := msg("t1", "5511987650400", now)
	m.ClientRef = "order-7"
	if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: m.PhoneNumber}}); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(ctx, "t1", m.ID, now, time.Minute)
	if err != nil || claimed.Version.IsZero() {
		t.Fatalf("claim = %+v, %v; want a version", claimed, err)
	}
	got, err := s.SettleClaimed(ctx, claimed, func(m *domain.Message, _ domain.Conversation) error {
		m.ProviderMessageID = "wamid.settle1"
		return m.Move(domain.StatusPending, now)
	})
	if err != nil || got.Status != domain.StatusPending {
		t.Fatalf("settle = %+v, %v", got, err)
	}
	stored, err := s.Message(ctx, "t1", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != domain.StatusPending || stored.ProviderMessageID != "wamid.settle1" || stored.ClientRef != "order-7" ||
		stored.Attempts != 1 || len(stored.History) != 3 || stored.Template.Name != "welcome" {
		t.Fatalf("stored = %+v", stored)
	}
	snap, err := fs.Doc("tenants/t1/messages/" + m.ID).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Data()["leaseUntil"]; ok {
		t.Error("the lease is still stored after the outcome")
	}
	if id, err := s.MessageOfWAMID(ctx, "t1", "wamid.settle1"); err != nil || id != m.ID {
		t.Fatalf("message of its wamid = %q, %v", id, err)
	}
	if _, err := s.MessageOfWAMID(ctx, "t2", "wamid.settle1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another tenant's lookup of the wamid: %v, want ErrNotFound", err)
	}
}

// TestSettleClaimedAfterTheMessageMovedOn: a message that changed since
// its claim (here sweep found the lease expired) is not overwritten: the
// outcome is ErrStale and the stored state stays.
func TestSettleClaimedAfterTheMessageMovedOn(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-2 * time.Minute)
	m := msg("t1", "5511987650401", at)
	if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: m.PhoneNumber}}); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(ctx, "t1", m.ID, at, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExpireLease(ctx, "t1", m.ID, time.Now().UTC(), time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err = s.SettleClaimed(ctx, claimed, func(m *domain.Message, _ domain.Conversation) error {
		m.ProviderMessageID = "wamid.late"
		return m.Move(domain.StatusPending, time.Now())
	})
	if !errors.Is(err, store.ErrStale) {
		t.Fatalf("settle after the lease expired: %v, want ErrStale", err)
	}
	if stored, _ := s.Message(ctx, "t1", m.ID); stored.Status != domain.StatusUnknown || stored.ProviderMessageID != "" {
		t.Fatalf("stored = %s %q, want unknown without a wamid", stored.Status, stored.ProviderMessageID)
	}
}

// TestSentOpensOrJoinsTheConversation: under an unlimited plan, a new
// contact's first sent status creates its conversation without reading
// it, and a second message admitted before that conversation opened
// joins it on its own sent status (its create fails, and the next round
// reads the conversation).
func TestSentOpensOrJoinsTheConversation(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	const phone = "5511987650500"
	unlimited := &domain.Tenant{ID: "t1"}
	sent := func(wamid string) domain.Message {
		t.Helper()
		m := msg("t1", phone, now)
		if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone}}); err != nil {
			t.Fatal(err)
		}
		claimed, err := s.Claim(ctx, "t1", m.ID, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SettleClaimed(ctx, claimed, func(m *domain.Message, _ domain.Conversation) error {
			m.ProviderMessageID = wamid
			return m.Move(domain.StatusPending, now)
		}); err != nil {
			t.Fatal(err)
		}
		got, changed, err := s.ApplyUpdate(ctx, "t1", m.ID, domain.Update{ProviderMessageID: wamid, Status: domain.StatusSent, At: now.Add(time.Second), Tenant: unlimited})
		if err != nil || !changed || got.Status != domain.StatusSent || got.ConversationID == "" {
			t.Fatalf("sent = %+v, %v, %v; want sent into a conversation", got, changed, err)
		}
		return got
	}
	first, second := sent("wamid.open1"), sent("wamid.open2")
	conv, err := s.Conversation(ctx, "t1", "main", phone)
	if err != nil {
		t.Fatal(err)
	}
	if conv.ID != first.ConversationID || second.ConversationID != first.ConversationID || !conv.Open(now.Add(time.Hour)) {
		t.Fatalf("conversation %+v; messages in %q and %q, want both in it", conv, first.ConversationID, second.ConversationID)
	}
	stored, err := s.Message(ctx, "t1", second.ID)
	if err != nil || stored.ConversationID != conv.ID {
		t.Fatalf("stored second = %+v, %v", stored, err)
	}
}
