package wati_test

import (
	"context"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// TestGetMessagesShowsEveryInboundType: a contact's media, replies,
// reactions, places and contact cards show as text in getMessages, with
// Meta's type.
func TestGetMessagesShowsEveryInboundType(t *testing.T) {
	f := newFixture(t)
	const phone = "5511987654480"
	at := time.Now().UTC().Add(-time.Hour)
	want := map[string]string{}
	for i, c := range []struct {
		in   store.Inbound
		text string
	}{
		{store.Inbound{Type: "image", Media: &domain.InboundMedia{ID: "1", MimeType: "image/jpeg", Caption: "a foto"}}, "a foto"},
		{store.Inbound{Type: "audio", Media: &domain.InboundMedia{ID: "2", MimeType: "audio/ogg"}}, "[audio]"},
		{store.Inbound{Type: "list_reply", Reply: &domain.InboundReply{ID: "r2", Title: "Terça"}}, "Terça"},
		{store.Inbound{Type: "reaction", Reaction: &domain.InboundReaction{MessageID: "wamid.x", Emoji: "👍"}}, "👍"},
		{store.Inbound{Type: "location", Location: &domain.InboundLocation{Name: "Avenida Paulista", Address: "São Paulo"}}, "Avenida Paulista, São Paulo"},
		{store.Inbound{Type: "contacts", Contacts: []domain.SharedContact{{Name: "Ana Souza"}}}, "Ana Souza"},
	} {
		in := c.in
		in.ID, in.Channel, in.Phone, in.At = "wamid.t"+in.Type, demo.ChannelID, phone, at.Add(time.Duration(i)*time.Second)
		if err := f.Store.PutInbound(context.Background(), f.Tenant, in); err != nil {
			t.Fatal(err)
		}
		want[in.ID] = in.Type + ": " + c.text
	}
	got := items(t, getMessages(f, t, apptest.Token, phone, ""))
	if len(got) != len(want) {
		t.Fatalf("%d items, want %d", len(got), len(want))
	}
	for _, it := range got {
		id, _ := it["id"].(string)
		text, _ := it["text"].(string)
		typ, _ := it["type"].(string)
		if w := want[id]; w != typ+": "+text || text == "" || it["statusString"] != "RECEIVED" {
			t.Errorf("%s: %v, want %q", id, it, w)
		}
	}
}
