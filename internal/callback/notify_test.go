package callback_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
)

type published struct {
	v     any
	attrs map[string]string
}

// publisher records what it is given; block, when set, holds every call
// until it is closed, ignoring the context like a misbehaving client.
type publisher struct {
	mu    sync.Mutex
	calls []published
	err   error
	block chan struct{}
	ctxOK bool // the context was live when PublishJSON was called
}

func (p *publisher) PublishJSON(ctx context.Context, v any, attrs map[string]string) error {
	if p.block != nil {
		<-p.block
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, published{v, attrs})
	p.ctxOK = ctx.Err() == nil
	return p.err
}

func (p *publisher) published() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.calls...)
}

func pendingMessage() domain.Message {
	m := message("m7", domain.StatusDispatching, domain.StatusPending)
	m.CallbackURL = "https://hooks.example.com/in?key=receiver-secret"
	return m
}

func TestNotifyPublishesTheJob(t *testing.T) {
	p := &publisher{}
	m := pendingMessage()
	callback.NewNotifier(p).Notify(quiet(), m)
	calls := p.published()
	if len(calls) != 1 {
		t.Fatalf("%d publishes, want 1", len(calls))
	}
	want := callback.Job{Tenant: "acme", URL: m.CallbackURL, Event: callback.EventOf(m)}
	if got, ok := calls[0].v.(callback.Job); !ok || got != want {
		t.Fatalf("published %#v, want %#v", calls[0].v, want)
	}
	if a := calls[0].attrs; a["tenant"] != "acme" || a["event"] != "m7.3" {
		t.Fatalf("attributes %v", a)
	}
}

func TestNotifySkips(t *testing.T) {
	p := &publisher{}
	n := callback.NewNotifier(p)
	var none *callback.Notifier
	none.Notify(quiet(), pendingMessage()) // must not panic

	noURL := pendingMessage()
	noURL.CallbackURL = ""
	n.Notify(quiet(), noURL)

	accepted := message("m1")
	accepted.CallbackURL = "https://hooks.example.com/"
	n.Notify(quiet(), accepted)

	dispatching := message("m2", domain.StatusDispatching)
	dispatching.CallbackURL = "https://hooks.example.com/"
	n.Notify(quiet(), dispatching)

	if calls := p.published(); len(calls) != 0 {
		t.Fatalf("published %d jobs, want none: %+v", len(calls), calls)
	}
	for _, s := range []domain.Status{domain.StatusSent, domain.StatusFailed} {
		m := message("m3", domain.StatusDispatching, s)
		m.CallbackURL = "https://hooks.example.com/"
		n.Notify(quiet(), m)
	}
	if calls := p.published(); len(calls) != 2 {
		t.Fatalf("published %d jobs for sent and failed, want 2", len(calls))
	}
}

func TestNotifyOutlivesTheCallersContext(t *testing.T) {
	p := &publisher{}
	ctx, cancel := context.WithCancel(quiet())
	cancel() // the request that changed the status has already ended
	callback.NewNotifier(p).Notify(ctx, pendingMessage())
	if len(p.published()) != 1 || !p.ctxOK {
		t.Fatalf("publishes %d, live context %v; want 1 on a live context", len(p.published()), p.ctxOK)
	}
}

func TestNotifyIsBoundedAndLogsSafely(t *testing.T) {
	p := &publisher{block: make(chan struct{})}
	defer close(p.block)
	n := callback.NewNotifier(p)
	n.Timeout = 100 * time.Millisecond
	ctx, logs := logged()
	returned := make(chan struct{})
	go func() {
		n.Notify(ctx, pendingMessage())
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(20 * time.Second):
		t.Fatal("Notify still blocked on a publisher that never answers")
	}
	out := logs.String()
	if !strings.Contains(out, "status callback not published") || !strings.Contains(out, `"messageId":"m7"`) {
		t.Fatalf("failure not logged: %s", out)
	}
	for _, secret := range []string{"receiver-secret", "key=", "5511987650000"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
}

func TestNotifyLogsPublishErrors(t *testing.T) {
	p := &publisher{err: errors.New("pubsub unavailable")}
	ctx, logs := logged()
	callback.NewNotifier(p).Notify(ctx, pendingMessage())
	if out := logs.String(); !strings.Contains(out, "pubsub unavailable") || strings.Contains(out, "receiver-secret") {
		t.Fatalf("log = %s", out)
	}
}

// sender is a Sender that answers err after taking took on the given
// clock, and records the jobs it was given.
type sender struct {
	mu    sync.Mutex
	jobs  []callback.Job
	err   error
	took  time.Duration
	clock *time.Time
}

func (s *sender) Deliver(_ context.Context, j callback.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = append(s.jobs, j)
	*s.clock = s.clock.Add(s.took)
	return s.err
}

func (s *sender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

// TestNotifyDeliversInlineFirst: with First set, a callback the first
// attempt delivers is never published; one it cannot deliver is, for the
// callbacks function's retries; and a receiver that failed or was slow
// gets its callbacks queued without an inline attempt until its backoff
// ends.
func TestNotifyDeliversInlineFirst(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p := &publisher{}
	s := &sender{clock: &now}
	n := callback.NewNotifier(p)
	n.First, n.InlineTimeout, n.Now = s, 2*time.Second, func() time.Time { return now }
	m := pendingMessage()

	n.Notify(quiet(), m)
	if s.count() != 1 || len(p.published()) != 0 {
		t.Fatalf("delivered: %d inline attempts, %d publishes; want 1 and 0", s.count(), len(p.published()))
	}

	s.err = errors.New("answered 503")
	n.Notify(quiet(), m)
	if s.count() != 2 || len(p.published()) != 1 {
		t.Fatalf("refused: %d inline attempts, %d publishes; want 2 and 1", s.count(), len(p.published()))
	}
	want := callback.Job{Tenant: "acme", URL: m.CallbackURL, Event: callback.EventOf(m)}
	if got, ok := p.published()[0].v.(callback.Job); !ok || got != want {
		t.Fatalf("published %#v, want %#v", p.published()[0].v, want)
	}

	// While its backoff runs the receiver is not tried inline; another
	// receiver is.
	s.err = nil
	now = now.Add(callback.InlineBackoff - time.Second)
	n.Notify(quiet(), m)
	other := pendingMessage()
	other.CallbackURL = "https://other.example.com/in"
	n.Notify(quiet(), other)
	if s.count() != 3 || len(p.published()) != 2 {
		t.Fatalf("in backoff: %d inline attempts, %d publishes; want 3 and 2", s.count(), len(p.published()))
	}

	// After it, the first attempt is made again. A slow success is
	// delivered, and backs the receiver off.
	now = now.Add(2 * time.Second)
	s.took = time.Second
	n.Notify(quiet(), m)
	n.Notify(quiet(), m)
	if s.count() != 4 || len(p.published()) != 3 {
		t.Fatalf("after a slow success: %d inline attempts, %d publishes; want 4 and 3", s.count(), len(p.published()))
	}
}
