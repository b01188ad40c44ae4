package dispatch_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// acceptedText writes an accepted free-form text message to phone.
func acceptedText(t *testing.T, e *apptest.Env, phone, text string) domain.Message {
	t.Helper()
	m := domain.NewTextMessage(store.NewID(), e.Tenant, demo.ChannelID, phone, text, time.Now().UTC())
	if _, err := e.Store.Accept(context.Background(), store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: m.CreatedAt}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTextIsSentAsText: a text message reaches the provider as Meta's text
// send inside the window, and fails for good with Meta's 131047 outside
// it, never resent.
func TestTextIsSentAsText(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	hooks := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(hooks.Close)
	e.Sandbox.SetWebhook(hooks.URL, "")
	d := newDispatcher(e, e.Provider)

	closed := acceptedText(t, e, "5511987650400", "olá")
	if err := d.Dispatch(ctx, queue.Job{Tenant: e.Tenant, Message: closed.ID}); err != nil {
		t.Fatal(err)
	}
	if got := load(t, e, closed.ID); got.Status != domain.StatusFailed || got.Error == nil || got.Error.Code != 131047 {
		t.Fatalf("text outside the window: %+v, want failed with 131047", got)
	}

	if _, err := e.Sandbox.Reply(ctx, demo.PhoneNumberID, "5511987650401", "Ana", "oi"); err != nil {
		t.Fatal(err)
	}
	open := acceptedText(t, e, "5511987650401", "olá, Ana")
	if err := d.Dispatch(ctx, queue.Job{Tenant: e.Tenant, Message: open.ID}); err != nil {
		t.Fatal(err)
	}
	got := load(t, e, open.ID)
	if got.Status != domain.StatusPending || got.ProviderMessageID == "" || !got.IsText() || got.Text != "olá, Ana" {
		t.Fatalf("text inside the window: %+v, want pending with a wamid", got)
	}
	var sent int
	for _, r := range e.Sandbox.Requests() {
		if r.CallbackData == open.ID {
			sent++
			if r.Type != "text" || r.Text != "olá, Ana" || r.WAMID != got.ProviderMessageID {
				t.Errorf("provider got %+v", r)
			}
		}
	}
	if sent != 1 || e.Sandbox.CountByCallback(closed.ID) != 1 {
		t.Errorf("provider calls: %d for the open window, %d for the closed one; want 1 each", sent, e.Sandbox.CountByCallback(closed.ID))
	}
}
