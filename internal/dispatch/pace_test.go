package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/pacing"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
)

// TestFourInstancesKeepOneNumbersRate: four dispatch instances, each with
// its own Pacer and catalog over one Firestore, drain a broadcast through
// one number Meta (the sandbox) limits to 80/s. Deliveries are pushed as
// Pub/Sub would, 40 at a time per instance, and redelivered after a short
// backoff when dispatch returns an error. Every message ends pending, the
// number is kept busy, and Meta refuses few calls for throughput. cmd/bench
// runs the full 4,000 messages.
func TestFourInstancesKeepOneNumbersRate(t *testing.T) {
	if testing.Short() {
		t.Skip("paces 480 messages through an 80/s number on the emulator for about 7 s; skipped under -short")
	}
	const (
		instances   = 4
		concurrency = 40 // each instance's request concurrency, as deployed
		messages    = 480
		mps         = 80
	)
	e := apptest.New(t)
	ctx := context.Background()

	cfg := sandbox.Default()
	cfg.Numbers[0].MessagesPerSecond = mps
	sb := sandbox.New(cfg)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sb.Close)
	meta := provider.New(provider.Config{BaseURL: srv.URL, Version: "v24.0", Timeout: 5 * time.Second}, nil)

	ch := demo.Channel()
	ch.MessagesPerSecond = mps
	if err := e.Store.PutChannel(ctx, e.Tenant, ch); err != nil {
		t.Fatal(err)
	}
	ids := acceptMany(t, e, messages)

	ds := make([]*dispatch.Dispatcher, instances)
	for i := range ds {
		p := pacing.New(pacing.NewFirestoreLeases(e.Firestore), pacing.Options{MaxWaiting: concurrency})
		t.Cleanup(func() { _ = p.Close() })
		ds[i] = dispatch.New(e.Store, catalog.New(e.Store, time.Minute), meta, secret.Env{}, dispatch.Options{
			Lease: time.Minute, MaxAttempts: 3, Pacer: p, PaceWait: 10 * time.Second,
		})
	}

	// Pub/Sub, pushing to the four instances: a job that errs comes back
	// after a backoff, to any instance.
	jobs := make(chan queue.Job, messages)
	for _, id := range ids {
		jobs <- queue.Job{Tenant: e.Tenant, Message: id, Channel: ch.ID, Bulk: true}
	}
	var (
		done, paced, throttled atomic.Int64
		unexpected             = make(chan error, 1)
		wg                     sync.WaitGroup
	)
	runCtx, stop := context.WithTimeout(ctx, 2*time.Minute)
	defer stop()
	for _, d := range ds {
		for range concurrency {
			wg.Go(func() {
				for {
					var job queue.Job
					select {
					case job = <-jobs:
					case <-runCtx.Done():
						return
					}
					err := d.Dispatch(runCtx, job)
					switch {
					case err == nil:
						if done.Add(1) == messages {
							stop()
						}
						continue
					case errors.Is(err, dispatch.ErrPaced):
						paced.Add(1)
					case errors.Is(err, dispatch.ErrThrottled):
						throttled.Add(1)
					case runCtx.Err() != nil:
						return
					default:
						select {
						case unexpected <- err:
						default:
						}
					}
					backoff := 100*time.Millisecond + rand.N(200*time.Millisecond)
					time.AfterFunc(backoff, func() { jobs <- job })
				}
			})
		}
	}
	wg.Wait()
	select {
	case err := <-unexpected:
		t.Errorf("a delivery failed other than for pace or throughput: %v", err)
	default:
	}
	if n := done.Load(); n != messages {
		t.Fatalf("%d of %d jobs done within two minutes", n, messages)
	}

	byStatus := map[domain.Status]int{}
	for _, id := range ids {
		m, err := e.Store.Message(ctx, e.Tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		byStatus[m.Status]++
	}
	if byStatus[domain.StatusPending] != messages {
		t.Errorf("statuses %v, want all %d pending: none failed, none unknown", byStatus, messages)
	}

	reqs := sb.Requests()
	var first, last time.Time
	accepted, refused := 0, 0
	for _, r := range reqs {
		switch r.ErrorCode {
		case 0:
			accepted++
			if first.IsZero() || r.At.Before(first) {
				first = r.At
			}
			if r.At.After(last) {
				last = r.At
			}
		case pacing.CodeNumberRate:
			refused++
		}
	}
	rate := float64(accepted-1) / last.Sub(first).Seconds()
	t.Logf("%d sends in %s: %.1f/s; %d calls, %d refused with 130429; %d paced and %d throttled deliveries redelivered",
		accepted, last.Sub(first).Round(time.Millisecond), rate, len(reqs), refused, paced.Load(), throttled.Load())
	if accepted != messages {
		t.Errorf("the sandbox accepted %d sends, want %d: each message once", accepted, messages)
	}
	if rate < 0.9*mps {
		t.Errorf("achieved %.1f/s, want at least %.0f/s (0.9 × %d)", rate, 0.9*mps, mps)
	}
	if float64(refused) > 0.05*float64(len(reqs)) {
		t.Errorf("%d of %d calls refused with 130429, want at most 5 %%", refused, len(reqs))
	}
}

// acceptMany stores n accepted template messages to distinct recipients,
// so no recipient's own limit (131056) is reached.
func acceptMany(t *testing.T, e *apptest.Env, n int) []string {
	t.Helper()
	ctx := context.Background()
	tpl, err := e.Catalog.Template(ctx, e.Tenant, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := domain.Render(tpl, map[string]string{"1": "Maria", "2": "templategw"})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			phone := fmt.Sprintf("55119%04d7700", i)
			m := domain.NewMessage(store.NewID(), e.Tenant, demo.ChannelID, phone, tpl.ID, rendered, time.Now().UTC())
			m.Batch = "pace"
			ids[i] = m.ID
			_, errs[i] = e.Store.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: m.CreatedAt}})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return ids
}
