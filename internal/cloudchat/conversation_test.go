package cloudchat_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
)

// A number with an open conversation gets its message sent into it, and
// the answer shows that conversation and the message sent.
func TestOpenConversationAnswersSent(t *testing.T) {
	e := apptest.New(t)
	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	e.Push(t, apptest.Topic, d.HandleEvent)
	conv := domain.Conversation{ID: "conv-open-1", Channel: demo.ChannelID, Phone: phone, ExpiresAt: time.Now().Add(time.Hour)}
	if err := e.Store.PutConversation(context.Background(), e.Tenant, conv); err != nil {
		t.Fatal(err)
	}
	h := cloudchat.New(e.Catalog, accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{Wait: 10 * time.Second})).Handler()

	w := send(t, h, seedBody(demo.ChannelID, phone), "Idempotency-Key", "sent-1")
	c := wantConversation(t, w, "sent")
	if c.ID != "conv-open-1" || c.Messages[0].Content != seedContent {
		t.Fatalf("answer %s, want conversation conv-open-1", w.Body.String())
	}
	m := stored(t, e, c.Messages[0].ID)
	if m.Status != domain.StatusSent || m.ConversationID != "conv-open-1" || m.ProviderMessageID == "" {
		t.Errorf("message %s, conversation %q, wamid %q", m.Status, m.ConversationID, m.ProviderMessageID)
	}
	// A retry gets the answer the client got.
	bytesEqual(t, "Sent and its replay", w.Body.Bytes(), send(t, h, seedBody(demo.ChannelID, phone), "Idempotency-Key", "sent-1").Body.Bytes())
}

var errOutage = errors.New("rpc error: code = Unavailable desc = backend 10.0.0.7 unreachable")

// failingChannels is the real store whose channel reads fail.
type failingChannels struct{ *store.Store }

func (failingChannels) Channels(context.Context, string) ([]domain.Channel, error) {
	return nil, errOutage
}

// failingAccept is the real store whose commit fails.
type failingAccept struct{ *store.Store }

func (failingAccept) Accept(context.Context, store.Acceptance) (time.Time, error) {
	return time.Time{}, errOutage
}

func TestInternalErrorHidesDetails(t *testing.T) {
	for name, build := range map[string]func(e *apptest.Env) http.Handler{
		"channels read fails": func(e *apptest.Env) http.Handler {
			cat := catalog.New(failingChannels{e.Store}, 0)
			return cloudchat.New(cat, accept.New(cat, e.Store, e.Publisher, accept.Options{})).Handler()
		},
		"commit fails": func(e *apptest.Env) http.Handler {
			return cloudchat.New(e.Catalog, accept.New(e.Catalog, failingAccept{e.Store}, e.Publisher, accept.Options{})).Handler()
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := apptest.New(t)
			w := send(t, build(e), body(nil), "Idempotency-Key", "k-500")
			if w.Code != http.StatusInternalServerError {
				t.Fatalf("status = %d, want 500; body %s", w.Code, w.Body.String())
			}
			if got := strings.TrimSpace(w.Body.String()); got != `{"error":"internal error"}` {
				t.Errorf("body = %s", got)
			}
			if n := written(t, e, e.Tenant); n != 0 {
				t.Errorf("%d documents written by a failed send", n)
			}
			if _, err := e.Store.Idempotency(context.Background(), e.Tenant, "k-500"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a 500 was stored under its Idempotency-Key: %v", err)
			}
		})
	}
}
