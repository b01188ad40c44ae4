package atom_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/demo"
)

func TestIdempotencyReplaysTheFirstAnswer(t *testing.T) {
	e := apptest.New(t)
	pub := &apptest.WatchedPublisher{Next: e.Publisher}
	svc := accept.New(e.Catalog, e.Store, pub, accept.Options{})
	h := atom.New(e.Catalog, e.Store, svc).Handler()
	b := body(nil)
	first := send(t, h, apptest.Token, b, "Idempotency-Key", "order-42")
	id := wantPending(t, first, http.StatusAccepted)
	second := send(t, h, apptest.Token, b, "Idempotency-Key", "order-42")
	if second.Code != first.Code {
		t.Fatalf("retry status = %d, want the first's %d; body %s", second.Code, first.Code, second.Body.String())
	}
	bytesEqual(t, "first answer and retry", first.Body.Bytes(), second.Body.Bytes())
	if got := wantPending(t, second, http.StatusAccepted); got != id {
		t.Errorf("retry message id = %s, want %s", got, id)
	}
	if n := messageDocs(t, e, e.Tenant); n != 1 {
		t.Errorf("%d message docs after a retried send, want 1", n)
	}
	if n := pub.Calls.Load(); n != 1 {
		t.Errorf("published %d times for one send and its retry, want 1", n)
	}
	// A request without the key is a new send.
	if got := wantPending(t, send(t, h, apptest.Token, b), http.StatusAccepted); got == id {
		t.Error("a request without Idempotency-Key replayed the keyed answer")
	}
	if n := messageDocs(t, e, e.Tenant); n != 2 {
		t.Errorf("%d message docs, want 2", n)
	}
}

// The replay survives the instance: a fresh service (cold start) answers
// the retry from Firestore, byte for byte, with the seed-001 code.
func TestIdempotencyReplayAcrossInstancesKeepsCode(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Store.PutToken(ctx, "seed-001-token", tokenWith200(e)); err != nil {
		t.Fatal(err)
	}
	first := send(t, handler(e), "seed-001-token", body(nil), "Idempotency-Key", "k")
	wantPending(t, first, http.StatusOK)
	second := send(t, handler(e), "seed-001-token", body(nil), "Idempotency-Key", "k")
	if second.Code != http.StatusOK {
		t.Fatalf("replay on another instance = %d, want 200", second.Code)
	}
	bytesEqual(t, "first answer and replay", first.Body.Bytes(), second.Body.Bytes())
	if n := messageDocs(t, e, e.Tenant); n != 1 {
		t.Errorf("%d message docs, want 1", n)
	}
}

func TestIdempotencyKeyReusedWithOtherBody(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	wantPending(t, send(t, h, apptest.Token, body(nil), "Idempotency-Key", "k1"), http.StatusAccepted)
	other := body(map[string]any{"phoneNumber": "5511987654321"})
	wantError(t, send(t, h, apptest.Token, other, "Idempotency-Key", "k1"), http.StatusUnprocessableEntity, "Idempotency-Key was already used")
	// Even a body that differs only in formatting is another request.
	wantError(t, send(t, h, apptest.Token, body(nil)+" ", "Idempotency-Key", "k1"), http.StatusUnprocessableEntity, "Idempotency-Key")
	if n := messageDocs(t, e, e.Tenant); n != 1 {
		t.Errorf("%d message docs, want 1", n)
	}
}

func TestIdempotencyValidationFailuresAreNotStored(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	bad := body(map[string]any{"phoneNumber": "+50755667788"})
	wantError(t, send(t, h, apptest.Token, bad, "Idempotency-Key", "k2"), http.StatusBadRequest, "invalid fields: phoneNumber", "phoneNumber")
	wantError(t, send(t, h, apptest.Token, body(map[string]any{"params": nil}), "Idempotency-Key", "k2"), http.StatusBadRequest, "missing template params", "1", "2")
	id := wantPending(t, send(t, h, apptest.Token, body(nil), "Idempotency-Key", "k2"), http.StatusAccepted)
	// And now the key holds the 202.
	if got := wantPending(t, send(t, h, apptest.Token, body(nil), "Idempotency-Key", "k2"), http.StatusAccepted); got != id {
		t.Errorf("retry = %s, want %s", got, id)
	}
}

func TestIdempotencyKeyIsPerTenant(t *testing.T) {
	e := apptest.New(t)
	if err := demo.Seed(context.Background(), e.Store, "other", "other-token"); err != nil {
		t.Fatal(err)
	}
	h := handler(e)
	a := wantPending(t, send(t, h, apptest.Token, body(nil), "Idempotency-Key", "shared"), http.StatusAccepted)
	b := wantPending(t, send(t, h, "other-token", body(nil), "Idempotency-Key", "shared"), http.StatusAccepted)
	if a == b {
		t.Fatal("another tenant's request under the same key got the first tenant's answer")
	}
	if _, err := e.Store.Message(context.Background(), "other", b); err != nil {
		t.Errorf("other tenant's message not stored: %v", err)
	}
}

func TestIdempotencyInFlightIsConflict(t *testing.T) {
	e := apptest.New(t)
	pub := &apptest.WatchedPublisher{Next: e.Publisher, Entered: make(chan struct{}), Release: make(chan struct{})}
	svc := accept.New(e.Catalog, e.Store, pub, accept.Options{PublishTimeout: 30 * time.Second})
	h := atom.New(e.Catalog, e.Store, svc).Handler()
	b := body(nil)
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- send(t, h, apptest.Token, b, "Idempotency-Key", "slow") }()
	select {
	case <-pub.Entered:
	case w := <-done:
		t.Fatalf("first request finished without publishing: %d %s", w.Code, w.Body.String())
	case <-time.After(20 * time.Second):
		t.Fatal("first request never reached Publish")
	}
	w := send(t, h, apptest.Token, b, "Idempotency-Key", "slow")
	wantError(t, w, http.StatusConflict, "a request with this Idempotency-Key is still being handled")
	close(pub.Release)
	first := <-done
	id := wantPending(t, first, http.StatusAccepted)
	// Once the first is done, the retry replays it.
	retry := send(t, h, apptest.Token, b, "Idempotency-Key", "slow")
	bytesEqual(t, "first answer and retry", first.Body.Bytes(), retry.Body.Bytes())
	if wantPending(t, retry, http.StatusAccepted) != id {
		t.Error("retry after the first finished answered another message")
	}
	if n := messageDocs(t, e, e.Tenant); n != 1 {
		t.Errorf("%d message docs, want 1", n)
	}
}

// Two instances (two accept services, as two Cloud Functions instances
// would have) racing on one key: one claims it and sends; the other, on
// its own instance, is told the key is in flight (409), or replays the
// first answer when it came after it.
func TestIdempotencyRaceAcrossInstances(t *testing.T) {
	e := apptest.New(t)
	hA, hB := handler(e), handler(e)
	const rounds = 5
	for i := range rounds {
		key := "race-" + string(rune('a'+i))
		b := body(nil)
		var wg sync.WaitGroup
		start := make(chan struct{})
		var wA, wB *httptest.ResponseRecorder
		wg.Add(2)
		go func() { defer wg.Done(); <-start; wA = send(t, hA, apptest.Token, b, "Idempotency-Key", key) }()
		go func() { defer wg.Done(); <-start; wB = send(t, hB, apptest.Token, b, "Idempotency-Key", key) }()
		close(start)
		wg.Wait()
		if wA.Code == http.StatusConflict {
			wA, wB = wB, wA
		}
		idA := wantPending(t, wA, http.StatusAccepted)
		if wB.Code == http.StatusConflict {
			wantError(t, wB, http.StatusConflict, "a request with this Idempotency-Key is still being handled")
			continue
		}
		if idB := wantPending(t, wB, http.StatusAccepted); idA != idB {
			t.Fatalf("round %d: instances answered %s and %s for one key", i, idA, idB)
		}
		bytesEqual(t, "the two instances' answers", wA.Body.Bytes(), wB.Body.Bytes())
	}
	if n := messageDocs(t, e, e.Tenant); n != rounds {
		t.Errorf("%d message docs after %d raced keys, want %d", n, rounds, rounds)
	}
}
