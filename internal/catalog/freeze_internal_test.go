package catalog

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// oneKey is a Source with one key, counting reads.
type oneKey struct {
	Source
	hash  string
	reads atomic.Int64
}

func (s *oneKey) Token(_ context.Context, hash string) (domain.Token, error) {
	s.reads.Add(1)
	if hash != s.hash {
		return domain.Token{}, store.ErrNotFound
	}
	return domain.Token{Tenant: "acme", LastUsedAt: time.Now()}, nil
}

// idleKeys is a Keys that is never asked: the test plays the listener.
type idleKeys struct{ Keys }

// An instance that was frozen (no CPU between requests, so its listener
// may be behind) drops its cached keys on the first request after.
func TestAFrozenInstanceRereadsItsKeys(t *testing.T) {
	src := &oneKey{hash: store.HashToken("valid")}
	c := New(src, time.Hour, WithKeys(idleKeys{}))
	k := c.keys
	k.once.Do(func() {}) // no listener, no ticker: the test sets the ticks
	k.live.Store(true)
	k.tick.Store(int64(time.Since(k.epoch)))
	ctx := context.Background()
	for range 2 {
		if _, err := c.Authenticate(ctx, "valid"); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.reads.Load(); n != 1 {
		t.Fatalf("a cached key was read %d times", n)
	}
	k.tick.Store(int64(time.Since(k.epoch) - 2*frozenAfter))
	if _, err := c.Authenticate(ctx, "valid"); err != nil {
		t.Fatal(err)
	}
	if n := src.reads.Load(); n != 2 {
		t.Errorf("after a freeze the key was read %d times in all, want once more", n)
	}
	if _, err := c.Authenticate(ctx, "valid"); err != nil || src.reads.Load() != 2 {
		t.Errorf("the key read after the freeze is not cached: %v, %d reads", err, src.reads.Load())
	}
}
