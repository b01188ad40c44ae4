package batches_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/batches"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
)

// gatedSender hands a send to the sandbox only once the test gives it a
// permit, so a test decides how far a broadcast gets before it is paused
// or cancelled; closing permits lets every send through.
type gatedSender struct {
	p       *provider.Client
	permits chan struct{}
}

func (s gatedSender) Send(ctx context.Context, r provider.SendRequest) (provider.Result, error) {
	// Not ctx: a push the emulator gives up on must not turn a send the
	// test holds into an unknown outcome.
	<-s.permits
	return s.p.Send(ctx, r)
}

// ids is a set of message ids filled from several goroutines.
type ids struct {
	mu  sync.Mutex
	set map[string]bool
}

func (s *ids) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[string]bool{}
	}
	s.set[id] = true
}

// covers reports whether every id of other is in s.
func (s *ids) covers(other *ids) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	other.mu.Lock()
	defer other.mu.Unlock()
	for id := range other.set {
		if !s.set[id] {
			return false
		}
	}
	return true
}

func (s *ids) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.set)
}

// lanes publishes over several topics, each pushed to fn by its own
// emulator subscription: the emulator pushes two messages at a time per
// subscription, which would make the test measure that.
type lanes struct {
	pubs []*queue.Publisher
	next atomic.Uint64
	sent *ids // dispatch jobs handed to Pub/Sub, when not nil
}

func newLanes(t testing.TB, e *apptest.Env, base string, n int, fn apptest.EventFunc) *lanes {
	t.Helper()
	l := &lanes{}
	for i := range n {
		topic := fmt.Sprintf("%s-%d", base, i)
		e.Push(t, topic, fn)
		l.pubs = append(l.pubs, e.TopicPublisher(t, topic))
	}
	return l
}

func (l *lanes) pick() *queue.Publisher { return l.pubs[l.next.Add(1)%uint64(len(l.pubs))] }

func (l *lanes) PublishJSON(ctx context.Context, v any, attrs map[string]string) error {
	return l.pick().PublishJSON(ctx, v, attrs)
}

func (l *lanes) Publish(ctx context.Context, j queue.Job) error {
	if err := l.pick().Publish(ctx, j); err != nil {
		return err
	}
	if l.sent != nil {
		l.sent.add(j.Message)
	}
	return nil
}

// countingGate records the messages the gate held back.
type countingGate struct {
	*batch.Gate
	held *ids
}

func (g countingGate) Hold(ctx context.Context, m domain.Message) (bool, error) {
	held, err := g.Gate.Hold(ctx, m)
	if held {
		g.held.add(m.ID)
	}
	return held, err
}

// live is the fan-out worker and dispatch behind emulator push
// subscriptions, sending to the sandbox through a gatedSender, with the
// batches API in front.
type live struct {
	e       *apptest.Env
	svc     *batch.Service
	h       http.Handler
	permits chan struct{}
	open    sync.Once // closes permits
	// published are the dispatch jobs the fan-out published, handled those
	// dispatch acknowledged, held those the gate held back.
	published, handled, held ids
}

func newLive(t *testing.T) *live {
	t.Helper()
	e := apptest.New(t)
	l := &live{e: e, permits: make(chan struct{}, 1000)}
	gate := countingGate{Gate: batch.NewGate(e.Store, time.Millisecond, nil), held: &l.held}
	d := dispatch.New(e.Store, e.Catalog, gatedSender{p: e.Provider, permits: l.permits}, secret.Env{},
		dispatch.Options{Lease: time.Minute, MaxAttempts: 5, Batches: gate})
	jobs := newLanes(t, e, "dispatch", 4, func(ctx context.Context, ev event.Event) error {
		err := d.HandleEvent(ctx, ev)
		if j, derr := queue.DecodeJob(ev); err == nil && derr == nil {
			l.handled.add(j.Message)
		}
		return err
	})
	jobs.sent = &l.published
	w := batch.NewWorker(e.Store, jobs, nil)
	fan := newLanes(t, e, "fanout", 2, w.HandleEvent)
	l.svc = batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 50})
	l.h = batches.New(e.Catalog, l.svc).Handler()
	// Cleanups run last first: this one runs before the push servers
	// close, which wait for handlers that may be waiting for a permit.
	t.Cleanup(l.release)
	return l
}

// release lets every send through, from now on.
func (l *live) release() { l.open.Do(func() { close(l.permits) }) }

// sends counts the sandbox's accepted sends per message id.
func (l *live) sends() map[string]int {
	out := map[string]int{}
	for _, r := range l.e.Sandbox.Requests() {
		if r.Status == http.StatusOK {
			out[r.CallbackData]++
		}
	}
	return out
}

func (l *live) permit(n int) {
	for range n {
		l.permits <- struct{}{}
	}
}

func (l *live) post(t *testing.T, path string) batches.View {
	t.Helper()
	w := call(t, l.h, http.MethodPost, path, apptest.Token)
	if w.Code != http.StatusOK {
		t.Fatalf("POST %s = %d %s", path, w.Code, w.Body.String())
	}
	var v batches.View
	decode(t, w, &v)
	return v
}

// items are the broadcast's recipients' states, in order.
func (l *live) items(t *testing.T, code string) []domain.Status {
	t.Helper()
	var out []domain.Status
	if err := l.svc.Items(context.Background(), l.e.Tenant, code, func(it batch.Item) error {
		out = append(out, it.Status)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

const recipients = 300

// TestCancelMidwaySendsEachOnceOrNever cancels a 300-recipient broadcast
// after 40 sends: every recipient must end up sent exactly once or
// cancelled, never both and never twice, and the counts must say so.
func TestCancelMidwaySendsEachOnceOrNever(t *testing.T) {
	l := newLive(t)
	b := create(t, l.svc, authenticate(t, l.e, apptest.Token), "CANCELA", recipients, time.Time{})
	l.permit(40)
	wait.Until(t, time.Minute, "40 sends", func() bool { return len(l.sends()) >= 40 })

	if v := l.post(t, "/CANCELA/cancel"); v.State != domain.BatchCancelled {
		t.Fatalf("cancel: %+v", v)
	}
	l.release() // what dispatch had claimed goes out; nothing else may
	var v batches.View
	wait.Until(t, time.Minute, "the cancellation to settle", func() bool {
		v = progressOf(t, l.h, "/CANCELA")
		return v.Counts.Accepted+v.Counts.Held+v.Counts.Dispatching == 0
	})

	sends := l.sends()
	statuses := l.items(t, b.Code)
	if len(statuses) != recipients {
		t.Fatalf("%d items, want %d", len(statuses), recipients)
	}
	sent, cancelled := 0, 0
	for i, st := range statuses {
		n := sends[batch.MessageID(b.ID, i)]
		switch {
		case n > 1:
			t.Errorf("recipient %d was sent %d times", i, n)
		case n == 1 && st == domain.StatusPending:
			sent++
		case n == 0 && st == domain.StatusCancelled:
			cancelled++
		default:
			t.Errorf("recipient %d: %s after %d sends, want pending after 1 or cancelled after none", i, st, n)
		}
	}
	if sent < 40 || cancelled == 0 || sent+cancelled != recipients {
		t.Errorf("%d sent and %d cancelled of %d: the cancel did not land mid-way", sent, cancelled, recipients)
	}
	if v.Counts.Pending != sent || v.Counts.Cancelled != cancelled || v.State != domain.BatchCancelled {
		t.Errorf("the API counts %+v (%s), want %d pending and %d cancelled", *v.Counts, v.State, sent, cancelled)
	}
}

// TestPauseHoldsTheRestUntilResume pauses a 300-recipient broadcast after
// 40 sends and lets dispatch drain every job: what was not claimed before
// the pause waits, accepted; the resume sends each of those exactly once.
func TestPauseHoldsTheRestUntilResume(t *testing.T) {
	l := newLive(t)
	b := create(t, l.svc, authenticate(t, l.e, apptest.Token), "PAUSA", recipients, time.Time{})
	l.permit(40)
	wait.Until(t, time.Minute, "40 sends", func() bool { return len(l.sends()) >= 40 })

	if v := l.post(t, "/PAUSA/pause"); v.State != domain.BatchPaused {
		t.Fatalf("pause: %+v", v)
	}
	l.release()
	wait.Until(t, time.Minute, "dispatch to handle every job published", func() bool {
		v := progressOf(t, l.h, "/PAUSA")
		return v.Counts.Dispatching == 0 && l.handled.covers(&l.published)
	})
	paused := len(l.sends())
	v := progressOf(t, l.h, "/PAUSA")
	if paused >= recipients || l.held.len() == 0 || v.Counts.Accepted != recipients-paused || v.Counts.Pending != paused {
		t.Fatalf("paused after %d sends with %d held back; counts %+v: the pause held nothing back", paused, l.held.len(), *v.Counts)
	}

	if v := l.post(t, "/PAUSA/resume"); v.State != domain.BatchRunning {
		t.Fatalf("resume: %+v", v)
	}
	defer func() { t.Logf("last progress: %s %+v", v.State, v.Counts) }()
	wait.Until(t, 2*time.Minute, "every recipient sent", func() bool {
		v = progressOf(t, l.h, "/PAUSA")
		return v.Counts.Pending == recipients
	})
	sends := l.sends()
	for i := range recipients {
		if n := sends[batch.MessageID(b.ID, i)]; n != 1 {
			t.Errorf("recipient %d was sent %d times, want once", i, n)
		}
	}
	if v := progressOf(t, l.h, "/PAUSA"); v.State != domain.BatchDone || v.ETA != nil {
		t.Errorf("once everything is sent: %s, ETA %v; want done", v.State, v.ETA)
	}
}
