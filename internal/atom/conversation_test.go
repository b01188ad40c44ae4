package atom_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/secret"
)

func handlerWait(e *apptest.Env, wait time.Duration) http.Handler {
	svc := accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{Wait: wait})
	return atom.New(e.Catalog, e.Store, svc).Handler()
}

func openConversation(t *testing.T, e *apptest.Env, phone, id string) {
	t.Helper()
	c := domain.Conversation{ID: id, Channel: demo.ChannelID, Phone: phone, ExpiresAt: time.Now().Add(time.Hour)}
	if err := e.Store.PutConversation(context.Background(), e.Tenant, c); err != nil {
		t.Fatal(err)
	}
}

// serveDispatch runs the real dispatch behind a real emulator push
// subscription on the dispatch topic.
func serveDispatch(t *testing.T, e *apptest.Env) {
	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	e.Push(t, apptest.Topic, d.HandleEvent)
}

func TestSendIntoOpenConversationAnswersSent(t *testing.T) {
	e := apptest.New(t)
	serveDispatch(t, e)
	h := handlerWait(e, 5*time.Second)
	openConversation(t, e, "50755667788", "conv-open-1")

	w := send(t, h, apptest.Token, body(nil), "Idempotency-Key", "sent-1")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d body %s, want 200 Sent", w.Code, w.Body.String())
	}
	a := decode(t, w)
	if !a.Success || a.Message != "Sent" || a.str(t, "conversation_id") != "conv-open-1" || a.str(t, "message_id") == "" {
		t.Fatalf("answer %s", w.Body.String())
	}
	m, err := e.Store.Message(context.Background(), e.Tenant, a.str(t, "message_id"))
	if err != nil || m.Status != domain.StatusSent || m.ConversationID != "conv-open-1" {
		t.Fatalf("message %s conversation %q (%v)", m.Status, m.ConversationID, err)
	}
	// A retry gets the answer the client got, byte for byte.
	again := send(t, h, apptest.Token, body(nil), "Idempotency-Key", "sent-1")
	bytesEqual(t, "replayed Sent", again.Body.Bytes(), w.Body.Bytes())
	if again.Code != http.StatusOK || messageDocs(t, e, e.Tenant) != 1 {
		t.Errorf("replay %d, %d messages", again.Code, messageDocs(t, e, e.Tenant))
	}
}

func TestSendIntoOpenConversationPastTheBoundIsPending(t *testing.T) {
	e := apptest.New(t) // no dispatch runs: the outcome never comes
	openConversation(t, e, "50755667788", "conv-open-2")
	start := time.Now()
	wantPending(t, send(t, handlerWait(e, 300*time.Millisecond), apptest.Token, body(nil)), http.StatusAccepted)
	if time.Since(start) < 300*time.Millisecond {
		t.Error("answered before the bound without an outcome")
	}
}

func TestSendNewNumberDoesNotWait(t *testing.T) {
	e := apptest.New(t) // no dispatch and no conversation
	start := time.Now()
	wantPending(t, send(t, handlerWait(e, time.Minute), apptest.Token, body(nil)), http.StatusAccepted)
	if time.Since(start) > 30*time.Second {
		t.Error("a send with no open conversation waited for the outcome")
	}
}

func TestSendConversationLimitReached(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Store.PutTenant(ctx, domain.Tenant{ID: e.Tenant, Name: "Demo", CountryCode: demo.CountryCode, ConversationLimit: 2}); err != nil {
		t.Fatal(err)
	}
	shards := e.Firestore.Collection("tenants").Doc(e.Tenant).Collection("counters").Doc("conversations-" + domain.MonthKey(time.Now())).Collection("shards")
	for i, n := range []int{1, 1} {
		if _, err := shards.Doc(string(rune('0'+i))).Set(ctx, map[string]any{"count": n}); err != nil {
			t.Fatal(err)
		}
	}
	h := handlerWait(e, 200*time.Millisecond)
	wantError(t, send(t, h, apptest.Token, body(nil)), http.StatusUnauthorized, "conversation limit reached")
	if n, c := messageDocs(t, e, e.Tenant), contactDocs(t, e, e.Tenant); n != 0 || c != 0 {
		t.Fatalf("a refused send wrote %d messages and %d contacts", n, c)
	}
	// A send into an open conversation opens nothing new: it passes.
	openConversation(t, e, "50755667788", "conv-open-3")
	wantPending(t, send(t, h, apptest.Token, body(nil)), http.StatusAccepted)
}

func TestSendReplayBeatsALimitReachedMeanwhile(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	h := handlerWait(e, 200*time.Millisecond)
	first := send(t, h, apptest.Token, body(nil), "Idempotency-Key", "limit-1")
	wantPending(t, first, http.StatusAccepted)
	// The plan's limit is reached after the first answer.
	if err := e.Store.PutTenant(ctx, domain.Tenant{ID: e.Tenant, Name: "Demo", CountryCode: demo.CountryCode, ConversationLimit: 1}); err != nil {
		t.Fatal(err)
	}
	shard := e.Firestore.Collection("tenants").Doc(e.Tenant).Collection("counters").Doc("conversations-" + domain.MonthKey(time.Now())).Collection("shards").Doc("0")
	if _, err := shard.Set(ctx, map[string]any{"count": 1}); err != nil {
		t.Fatal(err)
	}
	fresh := handlerWait(apptest.Reload(t, e), 200*time.Millisecond) // a new instance: no cached tenant
	again := send(t, fresh, apptest.Token, body(nil), "Idempotency-Key", "limit-1")
	if again.Code != http.StatusAccepted {
		t.Fatalf("retry answered %d %s, want the first answer", again.Code, again.Body.String())
	}
	bytesEqual(t, "replay", again.Body.Bytes(), first.Body.Bytes())
	wantError(t, send(t, fresh, apptest.Token, body(nil), "Idempotency-Key", "limit-2"), http.StatusUnauthorized, "conversation limit reached")
}
