package webhook_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// withCallbackURL gives the fixture's tenant a callback URL.
func (f *fixture) withCallbackURL(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	ten, err := f.Store.Tenant(ctx, f.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	ten.CallbackURL, ten.CallbackSecret = url, "tenant-callback-secret"
	if err := f.Store.PutTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) inboundDoc(t *testing.T, wamid string) domain.InboundMessage {
	t.Helper()
	snap, err := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("inbound").Doc(wamid).Get(context.Background())
	if err != nil {
		t.Fatalf("inbound %s: %v", wamid, err)
	}
	var in domain.InboundMessage
	if err := snap.DataTo(&in); err != nil {
		t.Fatal(err)
	}
	in.ID = wamid
	return in
}

func TestStatusPricingIsRecorded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.pending(t, "5511987650500")
	at := time.Now().Truncate(time.Second)
	price := map[string]any{"pricing": map[string]any{"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}}
	sent := statusBody(m.ProviderMessageID, "sent", at, price)
	f.postSigned(t, sent)
	f.postSigned(t, statusBody(m.ProviderMessageID, "delivered", at.Add(time.Second), price))
	f.postSigned(t, statusBody(m.ProviderMessageID, "read", at.Add(2*time.Second), nil))
	f.postSigned(t, sent) // Meta's replay
	want := domain.Pricing{Category: "marketing", Billable: true, Type: "regular", Model: "PMP"}
	if got := f.load(t, m.ID); got.Status != domain.StatusRead || got.Pricing == nil || *got.Pricing != want {
		t.Fatalf("message %s pricing %+v, want read with %+v", got.Status, got.Pricing, want)
	}
	if n := len(f.notes.got); n != 3 || f.notes.got[0].Pricing == nil || f.notes.got[0].Pricing.Category != "marketing" {
		t.Errorf("%d status callbacks, the first with pricing %+v; want 3, priced from sent on", n, f.notes.got[0].Pricing)
	}
	counts, err := f.Store.Usage(ctx, f.Tenant, domain.MonthKey(at))
	if err != nil {
		t.Fatal(err)
	}
	if u := domain.SumUsage(domain.MonthKey(at), counts); u.Billable != 1 || u.Channels[0].Categories["marketing"] != 1 {
		t.Errorf("usage %+v, want one marketing message", u)
	}
}

// TestStatusOfAUserIDRecipient: a status that names its recipient by a
// business-scoped user id (no recipient_id) finds its message by wamid.
func TestStatusOfAUserIDRecipient(t *testing.T) {
	f := newFixture(t)
	m := f.pending(t, "5511987650501")
	body := envelope(map[string]any{"statuses": []any{map[string]any{
		"id": m.ProviderMessageID, "status": "delivered", "timestamp": fmt.Sprint(time.Now().Unix()),
		"recipient_user_id": "BR.13491208655302741918",
	}}})
	f.postSigned(t, body)
	if got := f.load(t, m.ID); got.Status != domain.StatusDelivered {
		t.Errorf("status %s, want delivered", got.Status)
	}
}

// TestInboundByUserID: a message that names its sender by a
// business-scoped user id, with no number anywhere, is stored under that
// id and forwarded to the tenant's callback URL; one whose number is only
// in the contacts takes it from there.
func TestInboundByUserID(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.withCallbackURL(t, "https://hooks.example.com/templategw")
	const userID = "BR.13491208655302741918"
	at := time.Now().Truncate(time.Second)
	f.postSigned(t, envelope(map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": "maria.s"}, "user_id": userID}},
		"messages": []any{map[string]any{"from_user_id": userID, "id": "wamid.user1", "timestamp": fmt.Sprint(at.Unix()), "type": "text", "text": map[string]any{"body": "oi"}}},
	}))
	in := f.inboundDoc(t, "wamid.user1")
	if in.Phone != "" || in.UserID != userID || in.ProfileName != "maria.s" || in.Text != "oi" || in.ConversationID == "" || !in.At.Equal(at) {
		t.Errorf("stored %+v", in)
	}
	c, err := f.Store.Contact(ctx, f.Tenant, domain.ContactKey("", userID))
	if err != nil || !c.WindowOpen(demo.ChannelID, time.Now()) || c.Phone != "" {
		t.Errorf("user contact %+v (%v)", c, err)
	}
	if len(f.notes.received) != 1 {
		t.Fatalf("%d received callbacks, want 1", len(f.notes.received))
	}
	if r := f.notes.received[0]; r.tenant != f.Tenant || r.url != "https://hooks.example.com/templategw" || r.in.UserID != userID || r.in.ConversationID != in.ConversationID {
		t.Errorf("forwarded %+v", r)
	}

	// The number only in contacts (from absent), with a user id.
	f.postSigned(t, envelope(map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": "Ana"}, "wa_id": "5511987650502", "user_id": "BR.2"}},
		"messages": []any{map[string]any{"from_user_id": "BR.2", "id": "wamid.user2", "timestamp": fmt.Sprint(at.Unix()), "type": "text", "text": map[string]any{"body": "olá"}}},
	}))
	if in := f.inboundDoc(t, "wamid.user2"); in.Phone != "5511987650502" || in.UserID != "BR.2" || in.ProfileName != "Ana" {
		t.Errorf("stored %+v, want the contact's number and user id", in)
	}
	// Meta's replay is forwarded again under the same event, stored once.
	before := len(f.notes.received)
	f.postSigned(t, envelope(map[string]any{
		"messages": []any{map[string]any{"from_user_id": userID, "id": "wamid.user1", "timestamp": fmt.Sprint(at.Unix()), "type": "text", "text": map[string]any{"body": "oi"}}},
	}))
	if len(f.notes.received) != before+1 || f.notes.received[before].in.ConversationID != in.ConversationID {
		t.Errorf("replay forwarded %d times", len(f.notes.received)-before)
	}
}

// TestEveryInboundTypeIsStored posts each inbound type Meta sends and
// checks what is kept of it and forwarded.
func TestEveryInboundTypeIsStored(t *testing.T) {
	f := newFixture(t)
	f.withCallbackURL(t, "https://hooks.example.com/templategw")
	ctx := map[string]any{"from": demo.DisplayNumber, "id": "wamid.template"}
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	for _, c := range []struct {
		msg  map[string]any
		want domain.InboundMessage
	}{
		{map[string]any{"type": "text", "text": map[string]any{"body": "quero saber mais"}},
			domain.InboundMessage{Type: "text", Text: "quero saber mais"}},
		{map[string]any{"type": "image", "image": map[string]any{"id": "1001", "mime_type": "image/jpeg", "sha256": "abc=", "caption": "a foto"}},
			domain.InboundMessage{Type: "image", Media: &domain.InboundMedia{ID: "1001", MimeType: "image/jpeg", SHA256: "abc=", Caption: "a foto"}}},
		{map[string]any{"type": "document", "document": map[string]any{"id": "1002", "mime_type": "application/pdf", "filename": "boleto.pdf"}},
			domain.InboundMessage{Type: "document", Media: &domain.InboundMedia{ID: "1002", MimeType: "application/pdf", Filename: "boleto.pdf"}}},
		{map[string]any{"type": "audio", "audio": map[string]any{"id": "1003", "mime_type": "audio/ogg; codecs=opus", "voice": true}},
			domain.InboundMessage{Type: "audio", Media: &domain.InboundMedia{ID: "1003", MimeType: "audio/ogg; codecs=opus"}}},
		{map[string]any{"type": "video", "video": map[string]any{"id": "1004", "mime_type": "video/mp4"}},
			domain.InboundMessage{Type: "video", Media: &domain.InboundMedia{ID: "1004", MimeType: "video/mp4"}}},
		{map[string]any{"type": "sticker", "sticker": map[string]any{"id": "1005", "mime_type": "image/webp", "animated": false}},
			domain.InboundMessage{Type: "sticker", Media: &domain.InboundMedia{ID: "1005", MimeType: "image/webp"}}},
		{map[string]any{"type": "button", "context": ctx, "button": map[string]any{"payload": "yes", "text": "Sim"}},
			domain.InboundMessage{Type: "button", Context: "wamid.template", Reply: &domain.InboundReply{ID: "yes", Title: "Sim"}}},
		{map[string]any{"type": "interactive", "context": ctx, "interactive": map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": "b1", "title": "Quero"}}},
			domain.InboundMessage{Type: "button_reply", Context: "wamid.template", Reply: &domain.InboundReply{ID: "b1", Title: "Quero"}}},
		{map[string]any{"type": "interactive", "context": ctx, "interactive": map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": "r2", "title": "Terça", "description": "à tarde"}}},
			domain.InboundMessage{Type: "list_reply", Context: "wamid.template", Reply: &domain.InboundReply{ID: "r2", Title: "Terça", Description: "à tarde"}}},
		{map[string]any{"type": "reaction", "reaction": map[string]any{"message_id": "wamid.template", "emoji": "👍"}},
			domain.InboundMessage{Type: "reaction", Reaction: &domain.InboundReaction{MessageID: "wamid.template", Emoji: "👍"}}},
		{map[string]any{"type": "location", "location": map[string]any{"latitude": -23.561414, "longitude": -46.655881, "name": "Avenida Paulista", "address": "São Paulo"}},
			domain.InboundMessage{Type: "location", Location: &domain.InboundLocation{Latitude: -23.561414, Longitude: -46.655881, Name: "Avenida Paulista", Address: "São Paulo"}}},
		{map[string]any{"type": "contacts", "contacts": []any{map[string]any{"name": map[string]any{"formatted_name": "Ana Souza"},
			"phones": []any{map[string]any{"phone": "+55 11 98765-0600", "wa_id": "5511987650600"}, map[string]any{"phone": "+55 11 3333-0000"}}}}},
			domain.InboundMessage{Type: "contacts", Contacts: []domain.SharedContact{{Name: "Ana Souza", Phones: []string{"5511987650600", "+55 11 3333-0000"}}}}},
		{map[string]any{"type": "unsupported", "errors": []any{map[string]any{"code": 131051, "title": "Message type unknown"}}},
			domain.InboundMessage{Type: "unsupported"}},
	} {
		wamid := "wamid.type-" + c.want.Type
		msg := map[string]any{"from": "5511987650503", "id": wamid, "timestamp": fmt.Sprint(at.Unix())}
		for k, v := range c.msg {
			msg[k] = v
		}
		f.postSigned(t, envelope(map[string]any{
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Maria"}, "wa_id": "5511987650503"}},
			"messages": []any{msg},
		}))
		got := f.inboundDoc(t, wamid)
		want := c.want
		want.ID, want.Channel, want.Phone, want.ProfileName = wamid, demo.ChannelID, "5511987650503", "Maria"
		want.At, want.ConversationID = at.UTC(), got.ConversationID
		// Kept for the tenant's default retention, then removed by TTL.
		want.ExpireAt = at.UTC().AddDate(0, 0, domain.DefaultRetentionDays)
		got.At, got.ExpireAt = got.At.UTC(), got.ExpireAt.UTC()
		if !reflect.DeepEqual(got, want) || got.ConversationID == "" {
			t.Errorf("%s: stored\n%+v\nwant\n%+v", c.want.Type, got, want)
		}
		if n := len(f.notes.received); n == 0 || f.notes.received[n-1].in.ID != wamid || !reflect.DeepEqual(f.notes.received[n-1].in.Media, want.Media) {
			t.Errorf("%s: not forwarded as stored", c.want.Type)
		}
	}
}
