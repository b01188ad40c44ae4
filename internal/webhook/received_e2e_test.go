package webhook_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/webhook"
)

// received returns the message.received events the receiver has, by the
// wamid of their message.
func (r *receiver) received() map[string]callback.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]callback.Event{}
	for _, e := range r.events {
		if e.Type == callback.ReceivedType && e.Message != nil {
			out[e.Message.ID] = e
		}
	}
	return out
}

// TestRepliesReachTheTenantSigned: every kind of message a contact writes
// in the sandbox reaches the tenant's callback URL as a signed
// message.received, through the whatsapp handler, the callbacks topic and
// the callbacks function, a contact known only by its user id included.
func TestRepliesReachTheTenantSigned(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	rcv := &receiver{t: t, secret: "tenant-callback-secret"}
	rsrv := httptest.NewServer(rcv)
	t.Cleanup(rsrv.Close)
	err := e.Store.PutTenant(ctx, domain.Tenant{ID: e.Tenant, Name: "Demo", CountryCode: demo.CountryCode,
		CallbackURL: rsrv.URL + "/hooks/whatsapp", CallbackSecret: rcv.secret})
	if err != nil {
		t.Fatal(err)
	}
	notifier := callback.NewNotifier(e.TopicPublisher(t, "callbacks"))
	deliverer := callback.NewDeliverer(e.Catalog, callback.Options{AllowLoopback: true, Timeout: 5 * time.Second})
	e.Push(t, "callbacks", deliverer.HandleEvent)
	hook := httptest.NewServer(webhook.New(webhook.Config{AppSecret: appSecret}, e.Catalog, e.Store, notifier).Handler())
	t.Cleanup(hook.Close)
	e.Sandbox.SetWebhook(hook.URL+"/", appSecret)

	const phone, userID = "5511987650700", "BR.13491208655302741918"
	replies := []sandbox.Inbound{
		{From: phone, Name: "Maria", Type: "text", Text: "quero saber mais"},
		{From: phone, Type: "image", Text: "a foto"},
		{From: phone, Type: "document"},
		{From: phone, Type: "audio"},
		{From: phone, Type: "button", Text: "Sim", Payload: "yes"},
		{From: phone, Type: "button_reply", Text: "Quero", Payload: "b1"},
		{From: phone, Type: "list_reply", Text: "Terça", Payload: "r2", Description: "à tarde"},
		{From: phone, Type: "reaction", Emoji: "❤️"},
		{From: phone, Type: "location"},
		{From: phone, Type: "contacts", Text: "Ana Souza", Phone: "5511987650701"},
		{From: phone, UserID: userID, Type: "text", Text: "com os dois"},
		{UserID: userID, Name: "maria.s", Type: "text", Text: "só o user id"},
	}
	wamids := make([]string, len(replies))
	for i, in := range replies {
		if wamids[i], err = e.Sandbox.ReplyWith(ctx, in); err != nil {
			t.Fatalf("reply %d (%s): %v", i, in.Type, err)
		}
	}
	wait.Until(t, 30*time.Second, fmt.Sprintf("%d message.received events", len(replies)), func() bool {
		return len(rcv.received()) >= len(replies)
	})
	got := rcv.received()
	for i, in := range replies {
		ev, ok := got[wamids[i]]
		if !ok {
			t.Errorf("%s: no event", in.Type)
			continue
		}
		m := ev.Message
		if ev.ID != callback.ReceivedEventID(wamids[i]) || ev.Channel != demo.ChannelID || ev.ConversationID == "" || ev.Timestamp.IsZero() {
			t.Errorf("%s: event %+v", in.Type, ev)
		}
		if ev.From != in.From || ev.UserID != in.UserID {
			t.Errorf("%s: from %q user %q, want %q %q", in.Type, ev.From, ev.UserID, in.From, in.UserID)
		}
		var bad bool
		switch in.Type {
		case "text":
			bad = m.Type != "text" || m.Text != in.Text
		case "image":
			bad = m.Media == nil || m.Media.ID == "" || m.Media.MimeType != "image/jpeg" || m.Media.Caption != "a foto"
		case "document":
			bad = m.Media == nil || m.Media.MimeType != "application/pdf" || m.Media.Filename == ""
		case "audio":
			bad = m.Media == nil || m.Media.ID == "" || m.Media.MimeType == ""
		case "button", "button_reply", "list_reply":
			bad = m.Type != in.Type || m.Reply == nil || m.Reply.ID != in.Payload || m.Reply.Title != in.Text ||
				m.Reply.Description != in.Description || m.Context == ""
		case "reaction":
			bad = m.Reaction == nil || m.Reaction.Emoji != in.Emoji || m.Reaction.MessageID == ""
		case "location":
			bad = m.Location == nil || m.Location.Name == "" || m.Location.Latitude == 0
		case "contacts":
			bad = len(m.Contacts) != 1 || m.Contacts[0].Name != "Ana Souza" || len(m.Contacts[0].Phones) != 1 || m.Contacts[0].Phones[0] != in.Phone
		}
		if bad || m.Type != in.Type {
			t.Errorf("%s: message %+v", in.Type, m)
		}
	}
	if ev := got[wamids[len(replies)-1]]; ev.ProfileName != "maria.s" || ev.From != "" {
		t.Errorf("user id alone: %+v", ev)
	}
	chat, _, err := e.Store.Chat(ctx, e.Tenant, demo.ChannelID, phone, 50)
	if err != nil || len(chat) != len(replies)-1 {
		t.Errorf("the number's chat lists %d messages (%v), want %d", len(chat), err, len(replies)-1)
	}
}
