package pacing

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest/wait"
)

// fullChannel is a store where another instance holds all of a channel's
// 80/s for an hour, so nothing is left for a newcomer.
func fullChannel(t *testing.T) (*MemoryLeases, ChannelKey) {
	t.Helper()
	store := NewMemoryLeases()
	key := ChannelKey{Tenant: "t", Channel: "c", Rate: 80}
	_, err := store.Claim(context.Background(), "t", "c", func([]Lease) (Lease, []string) {
		return Lease{Instance: "other", Share: 80, Rate: 80, Bulk: 80, Expires: time.Now().Add(time.Hour)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return store, key
}

func newTestPacer(t *testing.T, store LeaseStore, opt Options) *Pacer {
	t.Helper()
	opt.Log = discard
	p := New(store, opt)
	t.Cleanup(func() { p.Close() })
	return p
}

func (p *Pacer) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lanes {
		n += l.q.len()
	}
	return n
}

func TestAFirstAcquireWaitsForItsShareAndGoes(t *testing.T) {
	p := newTestPacer(t, NewMemoryLeases(), Options{})
	key := ChannelKey{Tenant: "t", Channel: "c", Rate: 80}
	ok, retry, err := p.Acquire(context.Background(), key, Single, "t", 2*time.Second)
	if err != nil || !ok {
		t.Fatalf("Acquire = %v, %v, %v; want a grant once the lease is claimed", ok, retry, err)
	}
}

func TestAcquireNeverWaitsPastMaxWait(t *testing.T) {
	store, key := fullChannel(t)
	p := newTestPacer(t, store, Options{})
	const maxWait = 300 * time.Millisecond
	start := time.Now()
	ok, retry, err := p.Acquire(context.Background(), key, Bulk, "t", maxWait)
	took := time.Since(start)
	if err != nil || ok {
		t.Fatalf("Acquire = %v, %v, %v with no share to be had; want a refusal", ok, retry, err)
	}
	if retry <= 0 {
		t.Fatal("refused without saying when to try again")
	}
	if took > maxWait+250*time.Millisecond {
		t.Fatalf("Acquire waited %v with maxWait %v", took, maxWait)
	}
	if p.queued() != 0 {
		t.Fatal("a refused acquisition is still queued")
	}
}

func TestACancelledAcquireLeavesTheQueue(t *testing.T) {
	store, key := fullChannel(t)
	p := newTestPacer(t, store, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, _, err := p.Acquire(ctx, key, Bulk, "t", time.Minute)
		got <- err
	}()
	wait.Until(t, 10*time.Second, "the acquisition waits", func() bool { return p.queued() == 1 })
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire returned %v, want context.Canceled", err)
	}
	if n := p.queued(); n != 0 {
		t.Fatalf("after the cancel %d still wait", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.slots.held) != 0 {
		t.Fatalf("after the cancel slots %v are held", p.slots.held)
	}
}

func TestCloseRefusesWaitersAndGivesTheLeasesBack(t *testing.T) {
	store, key := fullChannel(t)
	p := New(store, Options{Log: discard})
	got := make(chan error, 1)
	go func() {
		_, _, err := p.Acquire(context.Background(), key, Single, "t", time.Minute)
		got <- err
	}()
	wait.Until(t, 10*time.Second, "the acquisition waits", func() bool { return p.queued() == 1 })
	wait.Until(t, 10*time.Second, "the pacer holds a lease", func() bool {
		ls, _ := store.Leases(context.Background(), "t", "c")
		return len(ls) == 2
	})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, ErrClosed) {
		t.Fatalf("a waiter got %v when the pacer closed, want ErrClosed", err)
	}
	ls, _ := store.Leases(context.Background(), "t", "c")
	if len(ls) != 1 || ls[0].Instance != "other" {
		t.Fatalf("leases after Close: %+v, want only the other instance's", ls)
	}
	if _, _, err := p.Acquire(context.Background(), key, Single, "t", 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close: %v, want ErrClosed", err)
	}
}

func TestATenantOverItsWaitingSlotsIsToldToRetryAtOnce(t *testing.T) {
	store, key := fullChannel(t)
	p := newTestPacer(t, store, Options{MaxWaiting: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 2; i++ {
		go p.Acquire(ctx, key, Bulk, "big", time.Minute)
	}
	wait.Until(t, 10*time.Second, "big's two acquisitions wait", func() bool { return p.queued() == 2 })
	start := time.Now()
	ok, retry, err := p.Acquire(ctx, key, Bulk, "big", time.Minute)
	if ok || err != nil || retry <= 0 || time.Since(start) > time.Second {
		t.Fatalf("a third waiting acquisition of big: %v, %v, %v after %v; want an immediate retry", ok, retry, err, time.Since(start))
	}
	go p.Acquire(ctx, key, Bulk, "small", time.Minute)
	wait.Until(t, 10*time.Second, "small's acquisition waits beside big's", func() bool { return p.queued() == 3 })
}

func TestAnIdleChannelsLeaseIsGivenBack(t *testing.T) {
	store := NewMemoryLeases()
	p := newTestPacer(t, store, Options{Renew: 100 * time.Millisecond, Idle: 300 * time.Millisecond})
	key := ChannelKey{Tenant: "t", Channel: "c"}
	if ok, _, err := p.Acquire(context.Background(), key, Single, "t", 2*time.Second); !ok || err != nil {
		t.Fatalf("Acquire: %v %v", ok, err)
	}
	wait.Until(t, 10*time.Second, "the idle lease is released", func() bool {
		ls, _ := store.Leases(context.Background(), "t", "c")
		return len(ls) == 0
	})
	// The channel comes back: a new lease.
	if ok, _, err := p.Acquire(context.Background(), key, Single, "t", 2*time.Second); !ok || err != nil {
		t.Fatalf("Acquire after idling: %v %v", ok, err)
	}
}

func TestAnUnusedTokenGoesBack(t *testing.T) {
	p := newTestPacer(t, NewMemoryLeases(), Options{})
	key := ChannelKey{Tenant: "t", Channel: "c", Rate: 1}
	if ok, _, err := p.Acquire(context.Background(), key, Single, "t", 2*time.Second); !ok || err != nil {
		t.Fatalf("Acquire: %v %v", ok, err)
	}
	// At 1/s the bucket is empty now; a second message cannot go at once.
	if ok, _, _ := p.Acquire(context.Background(), key, Single, "t", 0); ok {
		t.Fatal("two messages went at once at 1/s")
	}
	p.Unused(key)
	if ok, _, _ := p.Acquire(context.Background(), key, Single, "t", 0); !ok {
		t.Fatal("the token given back could not be spent")
	}
}
