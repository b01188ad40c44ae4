package cloudchat_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/cloudchat"
)

func TestIdempotencyReplaysTheFirstAnswer(t *testing.T) {
	e := apptest.New(t)
	pub := &apptest.WatchedPublisher{Next: e.Publisher}
	h := cloudchat.New(e.Catalog, accept.New(e.Catalog, e.Store, pub, accept.Options{})).Handler()
	b := seedBody("main", "+"+phone)
	first := send(t, h, b, "Idempotency-Key", "order-42")
	c := wantConversation(t, first, "pending")
	time.Sleep(1100 * time.Millisecond) // a fresh answer would carry a later timestamp
	again := send(t, h, b, "Idempotency-Key", "order-42")
	if again.Code != http.StatusOK {
		t.Fatalf("retry = %d %s", again.Code, again.Body.String())
	}
	bytesEqual(t, "first answer and retry", first.Body.Bytes(), again.Body.Bytes())
	if n := docs(t, e, e.Tenant, "messages"); n != 1 {
		t.Errorf("%d messages after a retried send, want 1", n)
	}
	if n := pub.Calls.Load(); n != 1 {
		t.Errorf("published %d times for a send and its retry", n)
	}

	// The same key with another request is refused; without a key it is a new send.
	wantError(t, send(t, h, seedBody("main", phone), "Idempotency-Key", "order-42"), http.StatusUnprocessableEntity, "Idempotency-Key")
	if other := wantConversation(t, send(t, h, b), "pending"); other.ID == c.ID {
		t.Error("a request without Idempotency-Key replayed the keyed answer")
	}
}

func TestIdempotencyValidationFailuresAreNotStored(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	wantError(t, send(t, h, body(map[string]any{"name": nil}), "Idempotency-Key", "k"), http.StatusUnprocessableEntity, "name")
	wantError(t, send(t, h, body(map[string]any{"inbox_id": "nope"}), "Idempotency-Key", "k"), http.StatusNotFound, "inbox_id")
	first := send(t, h, body(nil), "Idempotency-Key", "k")
	wantConversation(t, first, "pending")
	bytesEqual(t, "first answer and retry", first.Body.Bytes(), send(t, h, body(nil), "Idempotency-Key", "k").Body.Bytes())
	if n := docs(t, e, e.Tenant, "messages"); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestIdempotencyInFlightIsConflict(t *testing.T) {
	e := apptest.New(t)
	pub := &apptest.WatchedPublisher{Next: e.Publisher, Entered: make(chan struct{}), Release: make(chan struct{})}
	h := cloudchat.New(e.Catalog, accept.New(e.Catalog, e.Store, pub, accept.Options{PublishTimeout: 30 * time.Second})).Handler()
	b := body(nil)
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- send(t, h, b, "Idempotency-Key", "slow") }()
	select {
	case <-pub.Entered:
	case w := <-done:
		t.Fatalf("first request finished without publishing: %d %s", w.Code, w.Body.String())
	case <-time.After(20 * time.Second):
		t.Fatal("first request never reached Publish")
	}
	wantError(t, send(t, h, b, "Idempotency-Key", "slow"), http.StatusConflict, "still being handled")
	close(pub.Release)
	first := <-done
	wantConversation(t, first, "pending")
	bytesEqual(t, "first answer and retry", first.Body.Bytes(), send(t, h, b, "Idempotency-Key", "slow").Body.Bytes())
	if n := docs(t, e, e.Tenant, "messages"); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
