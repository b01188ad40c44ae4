package store_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

func TestEditContactCreatesMergesAndKeepsOtherFields(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	const phone = "5511987650500"
	// An inbound message stored the contact first, with its window.
	if err := s.PutInbound(ctx, "t1", store.Inbound{ID: "wamid.c1", Channel: "main", Phone: phone, ProfileName: "Mari", Type: "text", Text: "oi", At: now}); err != nil {
		t.Fatal(err)
	}
	c, created, err := s.EditContact(ctx, "t1", phone, now, func(c *domain.Contact, exists bool) error {
		if !exists || c.ProfileName != "Mari" {
			t.Errorf("edit saw exists=%t %+v", exists, c)
		}
		c.Name = "Maria"
		return c.SetParams("customParams", map[string]string{"city": "Recife", "a.b": "x", "`odd` name": "y"})
	})
	if err != nil || created {
		t.Fatalf("edit: created=%t %v", created, err)
	}
	got, err := s.Contact(ctx, "t1", phone)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"city": "Recife", "a.b": "x", "`odd` name": "y"}
	if got.Name != "Maria" || !maps.Equal(got.CustomParams, want) || got.ProfileName != "Mari" ||
		!got.WindowOpen("main", now) || got.CreatedAt.IsZero() || !maps.Equal(c.CustomParams, want) {
		t.Errorf("contact %+v", got)
	}

	// A refused edit writes nothing.
	refusal := domain.Errorf(domain.KindInvalid, "no")
	if _, _, err := s.EditContact(ctx, "t1", phone, now, func(c *domain.Contact, _ bool) error {
		c.Name = "changed"
		return refusal
	}); !errors.As(err, new(*domain.Error)) {
		t.Fatalf("refused edit: %v, want the domain error", err)
	}
	if again, _ := s.Contact(ctx, "t1", phone); again.Name != "Maria" {
		t.Errorf("a refused edit changed the name to %q", again.Name)
	}

	// A new contact is created.
	c, created, err = s.EditContact(ctx, "t1", "5511987650501", now, func(c *domain.Contact, exists bool) error {
		if exists {
			t.Error("a missing contact exists")
		}
		c.SetChatStatus("main", domain.ChatSolved)
		return nil
	})
	if err != nil || !created || c.ChatStatus["main"] != domain.ChatSolved || !c.CreatedAt.Equal(now) {
		t.Fatalf("new contact %+v created=%t %v", c, created, err)
	}
	if _, err := s.Contact(ctx, "t2", phone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another tenant's contact: %v, want ErrNotFound", err)
	}
}

func TestContactsPagesCountsAndScans(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	phones := []string{"5511987650603", "5511987650601", "5511987650602"}
	for _, p := range phones {
		if _, _, err := s.EditContact(ctx, "t1", p, now, func(*domain.Contact, bool) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.EditContact(ctx, "t2", "5511987650600", now, func(*domain.Contact, bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	page, err := s.ContactsPage(ctx, "t1", 1, 5)
	if err != nil || len(page) != 2 || page[0].Phone != "5511987650602" || page[1].Phone != "5511987650603" {
		t.Fatalf("page after 1: %+v, %v", page, err)
	}
	if n, err := s.CountContacts(ctx, "t1"); err != nil || n != 3 {
		t.Errorf("count %d, %v; want 3", n, err)
	}
	var seen []string
	err = s.EachContact(ctx, "t1", func(c domain.Contact) (bool, error) {
		seen = append(seen, c.Phone)
		return len(seen) < 2, nil
	})
	if err != nil || len(seen) != 2 || seen[0] != "5511987650601" {
		t.Errorf("scan saw %v, %v; want the first two in phone order", seen, err)
	}
}
