package bench

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of d: the
// smallest value at least p % of the values are at or below. It sorts d in
// place; it is 0 for no values.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	rank := int(math.Ceil(p / 100 * float64(len(d))))
	rank = min(max(rank, 1), len(d))
	return d[rank-1]
}

// op is one unit of load, numbered from 0 in the order ops start. It
// returns an error for an op that did not do what it should (a refused
// send, a failed commit).
type op func(ctx context.Context, i int) error

// run is what a load phase did.
type run struct {
	ok, failed int
	firstErr   error
	elapsed    time.Duration   // from the first op's start to the last op's end
	latencies  []time.Duration // of the successful ops
}

func (r run) perSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

func (r run) ms(p float64) float64 { return percentileMs(slices.Clone(r.latencies), p) }

// percentileMs is Percentile in milliseconds; it sorts d in place.
func percentileMs(d []time.Duration, p float64) float64 {
	return float64(Percentile(d, p)) / float64(time.Millisecond)
}

// recorder collects op outcomes from many goroutines.
type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	failed   int
	firstErr error
}

func (r *recorder) add(lat time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.lat = append(r.lat, lat)
}

func (r *recorder) run(elapsed time.Duration) run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return run{ok: len(r.lat), failed: r.failed, firstErr: r.firstErr, elapsed: elapsed, latencies: r.lat}
}

// closedLoop runs conc workers, each starting its next op as soon as its
// last one ended, until d has passed: the throughput the system sustains
// at that concurrency.
func closedLoop(ctx context.Context, conc int, d time.Duration, do op) run {
	var (
		rec  recorder
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := do(ctx, int(next.Add(1)-1))
				rec.add(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	return rec.run(time.Since(start))
}

// openLoop starts ops at a fixed rate for d, whether or not earlier ones
// have ended, as independent clients do; an op's latency counts from when
// it was due, so a system that falls behind shows it in its latency
// rather than by slowing the load down. At most maxInFlight ops run at
// once, which bounds the load generator's own goroutines if the system
// stalls.
func openLoop(ctx context.Context, rate float64, d time.Duration, maxInFlight int, do op) run {
	var (
		rec recorder
		wg  sync.WaitGroup
	)
	slots := make(chan struct{}, maxInFlight)
	start := time.Now()
	n := int(rate * d.Seconds())
	for i := range n {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			err := do(ctx, i)
			rec.add(time.Since(due), err)
			<-slots
		})
	}
	wg.Wait()
	return rec.run(time.Since(start))
}
