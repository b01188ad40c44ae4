package pacing_test

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/pacing"
)

func newRequests(t *testing.T, store pacing.LeaseStore) *pacing.Requests {
	t.Helper()
	r := pacing.NewRequests(store, pacing.Options{Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// A burst of a tenant's requests far over its limit is mostly refused at
// once with a delay to retry after; another tenant's requests on the same
// instance are not.
func TestRequestsOverTheLimitAreRefused(t *testing.T) {
	r := newRequests(t, pacing.NewMemoryLeases())
	const limit, burst = 5, 40
	var mu sync.Mutex
	admitted, refused := 0, 0
	var wg sync.WaitGroup
	for range burst {
		wg.Go(func() {
			ok, retry, err := r.Allow(context.Background(), "t1", limit)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("Allow: %v", err)
			case ok:
				admitted++
			case retry <= 0:
				t.Errorf("refused without a delay to retry after")
			default:
				refused++
			}
		})
	}
	wg.Wait()
	// Within the 250 ms a request may wait: the first token, and what the
	// share earns meanwhile.
	if admitted < 1 || admitted > limit {
		t.Errorf("%d of %d simultaneous requests admitted at %d/s", admitted, burst, limit)
	}
	if ok, _, err := r.Allow(context.Background(), "t2", limit); !ok || err != nil {
		t.Errorf("another tenant's first request: %t, %v", ok, err)
	}
	if ok, _, err := r.Allow(context.Background(), "t3", 0); !ok || err != nil {
		t.Errorf("a request without a limit: %t, %v", ok, err)
	}
}

// failingLeases is a lease store that is down.
type failingLeases struct{}

var errDown = errors.New("firestore unavailable")

func (failingLeases) Leases(context.Context, string, string) ([]pacing.Lease, error) {
	return nil, errDown
}
func (failingLeases) Renew(context.Context, string, string, pacing.Lease) error { return errDown }
func (failingLeases) Claim(context.Context, string, string, func([]pacing.Lease) (pacing.Lease, []string)) (pacing.Lease, error) {
	return pacing.Lease{}, errDown
}
func (failingLeases) Release(context.Context, string, string, string) error { return errDown }

// With its store down a limiter that never held a share cannot know the
// limit: past its warm-up bucket it says so with an error rather than
// refusing every request.
func TestRequestsWithTheStoreDownAreNotRefused(t *testing.T) {
	r := newRequests(t, failingLeases{})
	var last error
	wait.Until(t, 10*time.Second, "Allow to report the store's failure", func() bool {
		ok, retry, err := r.Allow(context.Background(), "t1", 5)
		if !ok && err == nil {
			t.Fatalf("refused (retry after %v) while the store is down", retry)
		}
		last = err
		return err != nil
	})
	if !errors.Is(last, errDown) {
		t.Errorf("Allow's error %v does not wrap the store's", last)
	}
}

// Two instances, each with its own limiter, on one tenant at 5/s on the
// Firestore emulator, offered eight times the limit: once past their
// warm-up (two renewals, when each may also spend a bucket of its own),
// together they admit about 5/s, each a part of it.
func TestTwoInstancesKeepOneTenantsRequestLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("offers two instances' requests in real time for 10 s on the Firestore emulator; run without -short")
	}
	const (
		limit   = 5
		offered = 20              // requests a second per instance
		settle  = 5 * time.Second // past the warm-up's 4 s
		measure = 5 * time.Second
	)
	store := pacing.NewFirestoreLeases(client(t))
	warmUp(t, store)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var grants []time.Duration
	per := make([]int, 2)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range per {
		r := pacing.NewRequests(store, pacing.Options{})
		t.Cleanup(func() { _ = r.Close() })
		wg.Go(func() {
			// A load generator: a request every 1/offered s, each on its
			// own, as an instance's concurrent requests arrive.
			tick := time.NewTicker(time.Second / offered)
			defer tick.Stop()
			var reqs sync.WaitGroup
			defer reqs.Wait()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				reqs.Go(func() {
					ok, _, err := r.Allow(ctx, "rated", limit)
					if err != nil || !ok {
						return
					}
					mu.Lock()
					grants = append(grants, time.Since(start))
					per[i]++
					mu.Unlock()
				})
			}
		})
	}
	deadline := settle + measure
	select {
	case <-time.After(deadline - time.Since(start)):
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	sort.Slice(grants, func(i, j int) bool { return grants[i] < grants[j] })

	steady := 0
	for _, g := range grants {
		if g >= settle && g < deadline {
			steady++
		}
	}
	// The instances' buckets may save a quarter second of their shares,
	// and each may spend one token as its share is first granted.
	most := limit*(measure.Seconds()+0.25) + float64(len(per))
	t.Logf("admitted %d in all, %d from %v to %v (%.1f/s), per instance %v", len(grants), steady, settle, deadline,
		float64(steady)/measure.Seconds(), per)
	if float64(steady) > most {
		t.Errorf("%d admitted in %v at %d/s, over %.1f", steady, measure, limit, most)
	}
	if float64(steady) < 0.7*limit*measure.Seconds() {
		t.Errorf("%d admitted in %v at %d/s: the instances together fall far short of the limit", steady, measure, limit)
	}
	for i, n := range per {
		if n == 0 {
			t.Errorf("instance %d admitted nothing: the limit was not shared", i)
		}
	}
}
