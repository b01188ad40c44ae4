package sweep_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/sweep"
)

// unknownWait is dispatch's wait for Meta's webhook in these tests; sweep
// runs with its clock past it instead of the test waiting.
const unknownWait = time.Minute

func dispatcher(e *apptest.Env) *dispatch.Dispatcher {
	return dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3, UnknownWait: unknownWait})
}

// dispatchOnce accepts a message to phone and dispatches it once.
func dispatchOnce(t *testing.T, e *apptest.Env, phone string) domain.Message {
	t.Helper()
	id := acceptWhilePubSubIsDown(t, e, phone)
	if err := dispatcher(e).Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: id}); err != nil {
		t.Fatal(err)
	}
	m, err := e.Store.Message(context.Background(), e.Tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// acceptedCalls counts the calls for id the sandbox accepted.
func acceptedCalls(e *apptest.Env, id string) (calls, ok int) {
	for _, r := range e.Sandbox.Requests() {
		if r.CallbackData == id {
			calls++
			if r.Status == http.StatusOK {
				ok++
			}
		}
	}
	return calls, ok
}

// TestSweepResendsUnknownOnceAfterTheWait: a 503 whose webhook never
// comes (sandbox …0008: Meta refused it after all) is resent once the
// wait is over, and sent; before the wait nothing happens.
func TestSweepResendsUnknownOnceAfterTheWait(t *testing.T) {
	e := apptest.New(t)
	e.Push(t, apptest.Topic, dispatcher(e).HandleEvent)
	m := dispatchOnce(t, e, "5511987650008")
	if m.Status != domain.StatusUnknown {
		t.Fatalf("message %s, want unknown after the 503", m.Status)
	}
	n := &recorder{}
	early := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Hour, Notifier: n, Now: func() time.Time { return m.UpdatedAt.Add(unknownWait / 2) }})
	if r, err := early.Run(context.Background()); err != nil || r.Resent != 0 {
		t.Fatalf("sweep within the wait: %+v %v, want nothing resent", r, err)
	}

	late := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Hour, Notifier: n, Now: func() time.Time { return m.UpdatedAt.Add(unknownWait + time.Second) }})
	r, err := late.Run(context.Background())
	if err != nil || r.Resent != 1 {
		t.Fatalf("sweep past the wait: %+v %v, want one resend", r, err)
	}
	got := e.WaitStatus(t, m.ID, domain.StatusPending)
	if got.ResentAt.IsZero() || got.Attempts != 2 {
		t.Fatalf("message %+v, want pending on its second attempt with resentAt", got)
	}
	want := []domain.Status{"accepted", "dispatching", "unknown", "accepted", "dispatching", "pending"}
	if h := history(got); !equalStatuses(h, want) {
		t.Errorf("history %v, want %v", h, want)
	}
	if calls, ok := acceptedCalls(e, m.ID); calls != 2 || ok != 1 {
		t.Errorf("sandbox saw %d calls, %d accepted; want 2 and 1", calls, ok)
	}
	if r, err := late.Run(context.Background()); err != nil || r.Resent != 0 {
		t.Errorf("sweep again: %+v %v, want nothing more", r, err)
	}
}

// TestSweepResendsOnlyOnce: a resend whose outcome is unknown too
// (sandbox …0002, 500 every time) is left for a person.
func TestSweepResendsOnlyOnce(t *testing.T) {
	e := apptest.New(t)
	e.Push(t, apptest.Topic, dispatcher(e).HandleEvent)
	m := dispatchOnce(t, e, "5511987650002")
	at := m.UpdatedAt.Add(unknownWait + time.Second)
	s := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Hour, Now: func() time.Time { return at }})
	if r, err := s.Run(context.Background()); err != nil || r.Resent != 1 {
		t.Fatalf("first sweep: %+v %v, want one resend", r, err)
	}
	var got domain.Message
	wait.Until(t, 30*time.Second, "the message unknown after its resend", func() bool {
		got, _ = e.Store.Message(context.Background(), e.Tenant, m.ID)
		return got.Status == domain.StatusUnknown && !got.ResentAt.IsZero()
	})
	if !got.ReconcileUntil.IsZero() {
		t.Fatalf("resent message unknown again with a wait until %v, want none: a person decides", got.ReconcileUntil)
	}
	s = sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Hour, Now: func() time.Time { return at.Add(24 * time.Hour) }})
	if r, err := s.Run(context.Background()); err != nil || r.Resent != 0 {
		t.Fatalf("later sweep: %+v %v, want no second resend", r, err)
	}
	if calls, _ := acceptedCalls(e, m.ID); calls != 2 {
		t.Errorf("sandbox saw %d calls, want 2: the first and its one resend", calls)
	}
}

// TestSweepLeavesUnknownForAPersonUnderHoldPolicy: a tenant whose unknown
// policy is hold gets no resend; the message stays unknown, no longer due.
func TestSweepLeavesUnknownForAPersonUnderHoldPolicy(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	tn, err := e.Store.Tenant(ctx, e.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	tn.UnknownPolicy = domain.UnknownHold
	if err := e.Store.PutTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	m := dispatchOnce(t, e, "5511987650002")
	s := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Hour, Now: func() time.Time { return m.UpdatedAt.Add(unknownWait + time.Second) }})
	r, err := s.Run(ctx)
	if err != nil || r.Resent != 0 || r.LeftUnknown != 1 {
		t.Fatalf("sweep: %+v %v, want the message left for a person", r, err)
	}
	got, _ := e.Store.Message(ctx, e.Tenant, m.ID)
	if got.Status != domain.StatusUnknown || !got.ReconcileUntil.IsZero() || !got.ResentAt.IsZero() {
		t.Fatalf("message %+v, want unknown, no longer waiting, never resent", got)
	}
	if r, err := s.Run(ctx); err != nil || r.LeftUnknown != 0 {
		t.Errorf("sweep again: %+v %v, want nothing", r, err)
	}
	if calls, _ := acceptedCalls(e, m.ID); calls != 1 {
		t.Errorf("sandbox saw %d calls, want 1", calls)
	}
}

// TestSweepFailsHoldsPastTheLimit: a message held longer than the limit
// fails with its channel's reason (and the tenant hears it); one held
// for less stays held.
func TestSweepFailsHoldsPastTheLimit(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	hold := domain.Hold{Code: 190, Reason: "Error validating access token"}
	held := func(phone string, at time.Time) string {
		id := acceptWhilePubSubIsDown(t, e, phone)
		m, err := e.Store.Claim(ctx, e.Tenant, id, at, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		h := hold
		h.Since = at
		if _, err := e.Store.HoldMessage(ctx, e.Tenant, id, m.Attempts, at, &h); err != nil {
			t.Fatal(err)
		}
		return id
	}
	now := time.Now().UTC()
	old := held("5511987650240", now.Add(-25*time.Hour))
	fresh := held("5511987650241", now.Add(-time.Hour))
	n := &recorder{}
	r, err := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Hour, HoldLimit: 24 * time.Hour, Notifier: n, Now: func() time.Time { return now }}).Run(ctx)
	if err != nil || r.HoldsExpired != 1 {
		t.Fatalf("sweep: %+v %v, want one hold expired", r, err)
	}
	got, _ := e.Store.Message(ctx, e.Tenant, old)
	if got.Status != domain.StatusFailed || got.Error == nil || got.Error.Code != 190 ||
		got.Error.Title != "held longer than 24h: channel held: Error validating access token" {
		t.Fatalf("old message %s error %+v, want failed with the channel's reason", got.Status, got.Error)
	}
	if got, _ := e.Store.Message(ctx, e.Tenant, fresh); got.Status != domain.StatusHeld {
		t.Errorf("fresh message %s, want still held", got.Status)
	}
	if len(n.got) != 1 || n.got[0].ID != old || n.got[0].Status != domain.StatusFailed {
		t.Errorf("callbacks %+v, want one failed for %s", n.got, old)
	}
	if n := e.Sandbox.CountByCallback(old) + e.Sandbox.CountByCallback(fresh); n != 0 {
		t.Errorf("the sandbox saw %d calls for held messages", n)
	}
}

func history(m domain.Message) []domain.Status {
	var out []domain.Status
	for _, h := range m.History {
		out = append(out, h.Status)
	}
	return out
}

func equalStatuses(a, b []domain.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
