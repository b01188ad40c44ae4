package emkt_test

import (
	"context"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/batch"
)

// bulk is DESIGN §8's batch: 100,000 contacts in one 50.01.
const bulk = 100_000

// TestBulkDispatchedExactlyOnce sends a generated 100,000-contact 50.01
// through the real fan-out worker and dispatch, behind emulator push
// subscriptions (eight lanes each, see roundRobin), to the sandbox (1,000
// sends/s for the demo number), and checks that the provider accepted
// every contact exactly once and that 50.02 reports them all, in order. It
// takes about six minutes on two cores, over twenty under -race: -short
// skips it.
func TestBulkDispatchedExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 sends through the emulators take minutes; run without -short")
	}
	g := newGateway(t, 8, batch.Options{})
	ctx := context.Background()
	start := time.Now()
	code := wantCode(t, g.post(t, generated("", bulk)))
	t.Logf("50.01 of %d contacts answered in %s", bulk, time.Since(start).Round(time.Millisecond))
	rec, err := g.e.Store.BatchByCode(ctx, g.e.Tenant, code)
	if err != nil || rec.Recipients != bulk || rec.Accepted != bulk {
		t.Fatalf("batch %+v (%v), want %d recipients accepted", rec, err, bulk)
	}

	// Polling copies the sandbox's log, so once a second is plenty.
	deadline := time.Now().Add(20 * time.Minute)
	for len(accepted(g.e.Sandbox)) < bulk {
		if time.Now().After(deadline) {
			t.Fatalf("after 20 minutes the provider accepted %d of %d sends", len(accepted(g.e.Sandbox)), bulk)
		}
		time.Sleep(time.Second)
	}
	t.Logf("every contact reached the provider %s after the request", time.Since(start).Round(time.Second))

	// 50.02 streams every contact back; each must have settled (pending:
	// the sandbox sends no webhooks here), which also means no dispatch is
	// still under way to send one twice.
	settled := func() (pending int, others map[string]int) {
		w := g.post(t, strings.NewReader(statusXML(code)))
		if w.Code != http.StatusOK {
			t.Fatalf("50.02: %d %s", w.Code, w.Body.String()[:min(w.Body.Len(), 500)])
		}
		a := decode(t, w)
		others = map[string]int{}
		for i, it := range a.Emkt.Items {
			if it.Telefone != bulkPhone(i) {
				t.Fatalf("item %d is %s, want %s: 50.02 must keep the request's order", i, it.Telefone, bulkPhone(i))
			}
			if it.Status == "pending" {
				pending++
			} else {
				others[it.Status]++
			}
		}
		if len(a.Emkt.Items) != bulk {
			t.Fatalf("50.02 has %d items, want %d", len(a.Emkt.Items), bulk)
		}
		return pending, others
	}
	for {
		pending, others := settled()
		if pending == bulk {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pending, others %v", pending, bulk, others)
		}
		time.Sleep(time.Second)
	}

	sends := accepted(g.e.Sandbox)
	total := len(g.e.Sandbox.Requests())
	t.Logf("%d sends accepted, %d provider calls in all (refused ones are retried)", len(sends), total)
	for i := range bulk {
		id := batch.MessageID(rec.ID, i)
		r, ok := sends[id]
		if !ok {
			t.Fatalf("contact %d (message %s) was never accepted by the provider", i, id)
		}
		if r.To != "55"+bulkPhone(i) {
			t.Fatalf("contact %d was sent to %s, want 55%s", i, r.To, bulkPhone(i))
		}
	}
	accepts := map[string]int{}
	for _, r := range g.e.Sandbox.Requests() {
		if r.Status == http.StatusOK {
			accepts[r.CallbackData]++
		}
	}
	for id, n := range accepts {
		if n != 1 {
			t.Fatalf("message %s was accepted by the provider %d times", id, n)
		}
	}
}

// BenchmarkEmkt100k measures DESIGN §8's figure: a 100,000-contact 50.01,
// generated while it is sent, answered (every chunk stored, every fan-out
// event published) in ≤ 5 s with ≤ 64 MiB of added peak memory. It reports
// the slowest answer and the largest peak over the iterations. No worker
// runs, so only the answer is measured.
func BenchmarkEmkt100k(b *testing.B) {
	g := newGateway(b, 0, batch.Options{})
	var slowest time.Duration
	var peak uint64
	for b.Loop() {
		stop := watchHeap()
		start := time.Now()
		w := g.post(b, generated("", bulk))
		took := time.Since(start)
		added := stop()
		wantCode(b, w)
		b.Logf("answer %s, peak +%.1f MiB", took, float64(added)/(1<<20))
		slowest = max(slowest, took)
		peak = max(peak, added)
	}
	b.ReportMetric(slowest.Seconds(), "answer-s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
}

// watchHeap samples the heap (live and not yet collected objects) every
// millisecond from a collected baseline; stop returns the largest growth
// seen.
func watchHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if v := read(); v > base && v-base > peak.Load() {
				peak.Store(v - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak.Load()
	}
}
