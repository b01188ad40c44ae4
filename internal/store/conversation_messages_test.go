package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

func TestChatMergesBothWaysNewestFirstPerChannel(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	const phone = "5511987650700"
	accept := func(channel string, at time.Time) string {
		m := domain.NewTextMessage(store.NewID(), "t1", channel, phone, "hi", at)
		if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: at}}); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	in := func(id, channel string, at time.Time) {
		if err := s.PutInbound(ctx, "t1", store.Inbound{ID: id, Channel: channel, Phone: phone, Type: "text", Text: "oi", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	out1 := accept("main", base)
	in("wamid.a", "main", base.Add(time.Minute))
	out2 := accept("main", base.Add(2*time.Minute))
	in("wamid.b", "main", base.Add(3*time.Minute))
	accept("second", base.Add(4*time.Minute))
	in("wamid.c", "second", base.Add(5*time.Minute))

	items, total, err := s.Chat(ctx, "t1", "main", phone, 3)
	if err != nil {
		t.Fatal(err)
	}
	if total != 4 || len(items) != 3 {
		t.Fatalf("%d items of %d, want 3 of 4", len(items), total)
	}
	want := []string{"wamid.b", out2, "wamid.a"}
	for i, it := range items {
		if it.ID() != want[i] {
			t.Errorf("item %d = %s, want %s", i, it.ID(), want[i])
		}
	}
	if items[0].Inbound == nil || items[0].Inbound.Text != "oi" || items[1].Message == nil || !items[1].Message.IsText() {
		t.Errorf("items %+v", items)
	}
	all, _, _ := s.Chat(ctx, "t1", "main", phone, 10)
	if len(all) != 4 || all[3].ID() != out1 {
		t.Errorf("all of main: %d items, last %s", len(all), all[len(all)-1].ID())
	}
	if other, n, err := s.Chat(ctx, "t2", "main", phone, 10); err != nil || n != 0 || len(other) != 0 {
		t.Errorf("another tenant sees %d of %d (%v)", len(other), n, err)
	}
}
