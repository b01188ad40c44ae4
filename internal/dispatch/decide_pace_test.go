package dispatch_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/pacing"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
)

// fakePacer is dispatch.Pacer: it answers every Acquire with answer and
// records what dispatch asked and gave back.
type fakePacer struct {
	answer func() (bool, time.Duration, error)

	mu        sync.Mutex
	acquires  []acquired
	unused    []pacing.ChannelKey
	throttled []throttle
}

type acquired struct {
	key     pacing.ChannelKey
	class   pacing.Class
	tenant  string
	maxWait time.Duration
}

type throttle struct {
	key        pacing.ChannelKey
	code       int
	retryAfter time.Duration
}

func grant() (bool, time.Duration, error) { return true, 0, nil }

func (p *fakePacer) Acquire(_ context.Context, key pacing.ChannelKey, class pacing.Class, tenant string, maxWait time.Duration) (bool, time.Duration, error) {
	p.mu.Lock()
	p.acquires = append(p.acquires, acquired{key, class, tenant, maxWait})
	p.mu.Unlock()
	return p.answer()
}

func (p *fakePacer) Throttled(key pacing.ChannelKey, code int, retryAfter time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttled = append(p.throttled, throttle{key, code, retryAfter})
	return max(retryAfter, time.Second)
}

func (p *fakePacer) Unused(key pacing.ChannelKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unused = append(p.unused, key)
}

// gateFunc is dispatch.BatchGate.
type gateFunc func(domain.Message) bool

func (g gateFunc) Hold(_ context.Context, m domain.Message) (bool, error) { return g(m), nil }

const paceWait = 5 * time.Second

// pacedRig is newRig's dispatcher with a pacer that grants every
// acquisition until a test says otherwise.
func pacedRig(t *testing.T, opt dispatch.Options) (*rig, *fakePacer) {
	t.Helper()
	r := newRig(t)
	p := &fakePacer{answer: grant}
	opt.Lease, opt.MaxAttempts, opt.MaxDeliveries = lease, 3, maxDeliveries
	opt.Notifier, opt.Holds, opt.Now = r.notes, r.notes, func() time.Time { return now }
	opt.Pacer, opt.PaceWait = p, paceWait
	r.d = dispatch.New(r.st, &memChannels{store: r.st}, r.sender, memSecrets{secretRef: "EAAG-token"}, opt)
	return r, p
}

var mainKey = pacing.ChannelKey{Tenant: tenant, Channel: channel, Rate: 80}

// TestDecideThroughputRefusalsNeverFailTheMessage: Meta's 130429 twenty
// times over, past MaxAttempts and the subscription's last delivery,
// leaves the message accepted with no attempt used and the refusal in
// sight; the send that then goes through is its first attempt.
func TestDecideThroughputRefusalsNeverFailTheMessage(t *testing.T) {
	r, p := pacedRig(t, dispatch.Options{})
	refusal := &provider.Error{HTTPStatus: 429, Code: 130429, Title: "Rate limit hit", Class: provider.Retryable, RetryAfter: time.Second}
	r.sender.answer = failWith(refusal)
	r.accepted("m1", "5511987650004")
	job := queue.Job{Tenant: tenant, Message: "m1", Channel: channel}
	for i := 1; i <= 20; i++ {
		err := r.d.Deliver(r.ctx, job, i)
		if !errors.Is(err, dispatch.ErrThrottled) || errors.Is(err, dispatch.ErrRetry) {
			t.Fatalf("delivery %d: err = %v, want ErrThrottled", i, err)
		}
		got := r.message("m1")
		want := &domain.MessageError{Code: 130429, Title: "Rate limit hit"}
		if got.Status != domain.StatusAccepted || got.Attempts != 0 || !reflect.DeepEqual(got.Error, want) {
			t.Fatalf("delivery %d: message %s attempts %d error %+v, want accepted, no attempt, %+v", i, got.Status, got.Attempts, got.Error, want)
		}
	}
	if n := len(r.sender.requests()); n != 20 {
		t.Errorf("provider got %d sends, want 20", n)
	}
	if len(p.throttled) != 20 || p.throttled[0] != (throttle{mainKey, 130429, time.Second}) {
		t.Errorf("pacer told of %d refusals, first %+v; want 20 of %+v", len(p.throttled), p.throttled[0], throttle{mainKey, 130429, time.Second})
	}
	if len(p.unused) != 0 {
		t.Errorf("%d tokens given back; every one was spent on a send", len(p.unused))
	}
	if n := r.notes.statuses(); len(n) != 0 {
		t.Errorf("notified %v; a throughput refusal changes nothing the tenant sees", n)
	}

	r.sender.answer = acceptAll
	if err := r.d.Deliver(r.ctx, job, 21); err != nil {
		t.Fatal(err)
	}
	if got := r.message("m1"); got.Status != domain.StatusPending || got.Attempts != 1 || got.Error != nil {
		t.Fatalf("message %s attempts %d error %+v, want pending on its first attempt", got.Status, got.Attempts, got.Error)
	}
}

// TestDecideEveryThroughputCodeIsUncounted: the recipient's and the
// account's and app's limits are throughput refusals too.
func TestDecideEveryThroughputCodeIsUncounted(t *testing.T) {
	for _, code := range []int{130429, 131056, 80007, 4} {
		r, p := pacedRig(t, dispatch.Options{})
		r.sender.answer = failWith(&provider.Error{HTTPStatus: 400, Code: code, Title: "limit", Class: provider.Retryable})
		r.accepted("m1", "5511987650005")
		for range 4 {
			if err := r.dispatch("m1"); !errors.Is(err, dispatch.ErrThrottled) {
				t.Fatalf("code %d: err = %v, want ErrThrottled", code, err)
			}
		}
		if got := r.message("m1"); got.Status != domain.StatusAccepted || got.Attempts != 0 {
			t.Errorf("code %d: message %s attempts %d, want accepted with none used", code, got.Status, got.Attempts)
		}
		if len(p.throttled) != 4 || p.throttled[0].code != code {
			t.Errorf("code %d: pacer told %+v", code, p.throttled)
		}
	}
}

// TestDecideThroughputRefusedPastTheHoldLimitFails: a message refused for
// throughput for longer than a held message may wait fails with the
// reason (DESIGN §7.5).
func TestDecideThroughputRefusedPastTheHoldLimitFails(t *testing.T) {
	r, _ := pacedRig(t, dispatch.Options{HoldLimit: time.Hour})
	r.sender.answer = failWith(&provider.Error{HTTPStatus: 429, Code: 130429, Title: "Rate limit hit", Class: provider.Retryable})
	m := domain.NewMessage("m1", tenant, channel, "5511987650004", "welcome",
		domain.TemplateMessage{Name: "welcome", Language: domain.Language{Code: "pt_BR"}}, now.Add(-time.Hour))
	r.st.put(m)
	if err := r.dispatch("m1"); err != nil {
		t.Fatalf("err = %v, want nil: the message is settled", err)
	}
	got := r.message("m1")
	if got.Status != domain.StatusFailed || got.Error == nil || got.Error.Title != "refused for throughput for over 1h0m0s: Rate limit hit" {
		t.Fatalf("message %s error %+v, want failed with the reason", got.Status, got.Error)
	}
}

// TestDecidePacedRefusalClaimsAndSendsNothing: when the channel has no
// room within PaceWait, the job goes back to Pub/Sub with the message
// untouched: not claimed, no attempt, nothing sent.
func TestDecidePacedRefusalClaimsAndSendsNothing(t *testing.T) {
	r, p := pacedRig(t, dispatch.Options{})
	p.answer = func() (bool, time.Duration, error) { return false, 2 * time.Second, nil }
	before := r.accepted("m1", "5511987650000")
	for i := range 3 {
		if err := r.dispatch("m1"); !errors.Is(err, dispatch.ErrPaced) {
			t.Fatalf("delivery %d: err = %v, want ErrPaced", i, err)
		}
	}
	if r.st.claims != 0 || len(r.sender.requests()) != 0 {
		t.Fatalf("%d claims, %d sends; want none", r.st.claims, len(r.sender.requests()))
	}
	if got := r.message("m1"); !reflect.DeepEqual(got, before) {
		t.Fatalf("message = %+v, want it untouched: %+v", got, before)
	}
	if len(p.unused) != 0 {
		t.Errorf("gave back %d tokens it was never granted", len(p.unused))
	}

	p.answer = func() (bool, time.Duration, error) { return false, 0, pacing.ErrClosed }
	if err := r.dispatch("m1"); !errors.Is(err, pacing.ErrClosed) || r.st.claims != 0 {
		t.Fatalf("closed pacer: err = %v, %d claims; want the error and no claim", err, r.st.claims)
	}
}

// TestDecidePacerAskedBeforeTheClaim: the pacer is asked with the
// channel's setting (80 when unset, at most 1,000), the job's class and
// PaceWait; a job that does not name its channel reads the message for it.
func TestDecidePacerAskedBeforeTheClaim(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mps      int
		job      queue.Job
		rate     int
		class    pacing.Class
		readsMsg int
	}{
		{"single without its channel", 80, queue.Job{Tenant: tenant, Message: "m1"}, 80, pacing.Single, 1},
		{"bulk with its channel", 80, queue.Job{Tenant: tenant, Message: "m1", Channel: channel, Bulk: true}, 80, pacing.Bulk, 0},
		{"unset setting", 0, queue.Job{Tenant: tenant, Message: "m1", Channel: channel}, 80, pacing.Single, 0},
		{"setting past Meta's most", 5000, queue.Job{Tenant: tenant, Message: "m1", Channel: channel}, 1000, pacing.Single, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, p := pacedRig(t, dispatch.Options{})
			ch, _ := r.st.channel(tenant, channel)
			ch.MessagesPerSecond = tc.mps
			r.st.putChannel(tenant, ch)
			r.accepted("m1", "5511987650000")
			if err := r.d.Dispatch(r.ctx, tc.job); err != nil {
				t.Fatal(err)
			}
			want := []acquired{{pacing.ChannelKey{Tenant: tenant, Channel: channel, Rate: tc.rate}, tc.class, tenant, paceWait}}
			if !reflect.DeepEqual(p.acquires, want) {
				t.Errorf("acquired %+v, want %+v", p.acquires, want)
			}
			if r.st.reads != tc.readsMsg {
				t.Errorf("%d message reads, want %d", r.st.reads, tc.readsMsg)
			}
			if got := r.message("m1"); got.Status != domain.StatusPending {
				t.Errorf("message %s, want pending", got.Status)
			}
		})
	}
}

// TestDecideUnsentTokensGoBack: a token granted for a delivery that then
// sends nothing (a duplicate's lost claim, a paused broadcast) goes back
// to the channel; a message already past accepted is not paced at all.
func TestDecideUnsentTokensGoBack(t *testing.T) {
	t.Run("claim lost", func(t *testing.T) {
		r, p := pacedRig(t, dispatch.Options{})
		r.accepted("m1", "5511987650000")
		if err := r.st.move(tenant, "m1", domain.StatusDispatching, now); err != nil {
			t.Fatal(err)
		}
		if err := r.d.Dispatch(r.ctx, queue.Job{Tenant: tenant, Message: "m1", Channel: channel, Bulk: true}); err != nil {
			t.Fatal(err)
		}
		if len(p.acquires) != 1 || !reflect.DeepEqual(p.unused, []pacing.ChannelKey{mainKey}) || len(r.sender.requests()) != 0 {
			t.Fatalf("acquired %d, gave back %+v, sent %d; want one token given back and nothing sent", len(p.acquires), p.unused, len(r.sender.requests()))
		}
	})
	t.Run("not accepted, channel unknown to the job", func(t *testing.T) {
		r, p := pacedRig(t, dispatch.Options{})
		r.accepted("m1", "5511987650000")
		if err := r.st.move(tenant, "m1", domain.StatusDispatching, now); err != nil {
			t.Fatal(err)
		}
		if err := r.dispatch("m1"); err != nil {
			t.Fatal(err)
		}
		if len(p.acquires) != 0 || len(p.unused) != 0 {
			t.Fatalf("acquired %d, gave back %d; want neither", len(p.acquires), len(p.unused))
		}
	})
	t.Run("broadcast paused", func(t *testing.T) {
		r, p := pacedRig(t, dispatch.Options{Batches: gateFunc(func(m domain.Message) bool {
			return strings.HasPrefix(m.ID, "b")
		})})
		r.accepted("b1", "5511987650000")
		if err := r.d.Dispatch(r.ctx, queue.Job{Tenant: tenant, Message: "b1", Channel: channel, Bulk: true}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.unused, []pacing.ChannelKey{mainKey}) || len(r.sender.requests()) != 0 {
			t.Fatalf("gave back %+v, sent %d; want the token back and nothing sent", p.unused, len(r.sender.requests()))
		}
	})
}
