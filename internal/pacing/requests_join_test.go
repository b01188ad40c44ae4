package pacing

import (
	"context"
	"testing"
	"time"
)

// TestAJoiningInstancesFirstRequestsGo: one instance holding a tenant's
// request limit, a second instance's first requests go at once (the
// reserve, then its warm-up bucket) instead of waiting for the first to
// shrink at its renewal.
func TestAJoiningInstancesFirstRequestsGo(t *testing.T) {
	store := NewMemoryLeases()
	a := NewRequests(store, Options{Log: discard})
	b := NewRequests(store, Options{Log: discard})
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx := context.Background()
	for i := range 10 {
		if ok, retry, err := a.Allow(ctx, "t", 100); !ok || err != nil {
			t.Fatalf("request %d of a burst of 10 at a limit of 100/s: %v, %v, %v", i, ok, retry, err)
		}
	}
	for i := range 5 {
		start := time.Now()
		if ok, retry, err := b.Allow(ctx, "t", 100); !ok || err != nil {
			t.Fatalf("a joining instance's request %d: %v, %v, %v after %v", i, ok, retry, err, time.Since(start))
		}
	}
}
