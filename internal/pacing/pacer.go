// Package pacing keeps each channel's messages per second under the
// channel's limit across every dispatch instance together, with single
// sends ahead of bulk sends and tenants served in turn.
//
// Each instance that has work for a channel holds a lease on a share of
// the channel's rate (LeaseStore; Firestore in the cloud and on the
// emulator), renewed every couple of seconds: a few writes per instance and
// channel, never one per message. Shares only grow in a transaction that
// sees every other lease, so the live shares never add up to more than the
// rate. Locally each instance spends its share through a token bucket that
// serves single sends first and bulk sends round robin by tenant, and that
// never keeps an acquisition waiting longer than the caller allows: the
// caller asks before it claims a message, and a "try later" holds nothing.
// The same leases limit each tenant's requests per second on the send
// routes (Requests, under the reserved channel name RequestsChannel).
// docs/pacing.md tells the whole mechanism and its limits.
package pacing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultRate is a channel's messages per second when its setting is
// unset: Meta's default throughput for a number.
const DefaultRate = 80

// ChannelKey names a channel and carries its messages-per-second setting.
type ChannelKey struct {
	Tenant  string
	Channel string
	// Rate is the channel's limit in messages per second; 0 means
	// DefaultRate. The latest Acquire's value is the one used.
	Rate int
	// Even has every instance with work ask for the whole rate, whatever
	// it measured, so the instances holding a lease split it evenly:
	// for a tenant's request limit, whose requests come in bursts that a
	// share sized to the measured rate would refuse.
	Even bool
}

func (k ChannelKey) rate() int {
	if k.Rate <= 0 {
		return DefaultRate
	}
	return k.Rate
}

// Class is the priority of a send. The zero value is Bulk, so a caller
// that forgets to say never jumps the queue.
type Class int

const (
	// Bulk is a message of a broadcast: it goes when no single send waits,
	// in turn with the other tenants' bulk sends.
	Bulk Class = iota
	// Single is a message sent on its own, often with someone waiting for
	// the answer: it goes ahead of every bulk send.
	Single
)

// ErrClosed is Acquire's error once the Pacer is closed.
var ErrClosed = errors.New("pacer closed")

// Options tune a Pacer. The zero value is the production setting.
type Options struct {
	// Instance names this instance's leases; random when empty. Two
	// Pacers must never share one.
	Instance string
	// Renew is how often a lease is renewed (default 2 s); TTL how long a
	// lease lasts without renewal, after which a dead instance's share goes
	// back to the others (default, and at least, 3 × Renew when not above
	// Renew).
	Renew time.Duration
	TTL   time.Duration
	// Skew is how far apart instances' clocks may be (default 1 s): an
	// instance stops using its share when its lease expires by its own
	// clock, and the others take the share back Skew later.
	Skew time.Duration
	// Burst is how much of its share an idle instance may save up and send
	// at once (default 250 ms' worth, at least one message).
	Burst time.Duration
	// Idle is how long a channel goes without an acquisition before this
	// instance gives its lease back (default 30 s).
	Idle time.Duration
	// MaxWaiting bounds the bulk acquisitions this instance keeps waiting
	// at once, shared evenly among tenants (default 256; negative: no
	// bound). Set it near the instance's request concurrency.
	MaxWaiting int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives renewal failures (default slog.Default()).
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Instance == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b) // crypto/rand does not fail on supported systems
		o.Instance = hex.EncodeToString(b)
	}
	if o.Renew <= 0 {
		o.Renew = 2 * time.Second
	}
	if o.TTL <= o.Renew {
		o.TTL = 3 * o.Renew
	}
	if o.Skew <= 0 {
		o.Skew = time.Second
	}
	if o.Burst <= 0 {
		o.Burst = 250 * time.Millisecond
	}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Second
	}
	switch {
	case o.MaxWaiting == 0:
		o.MaxWaiting = 256
	case o.MaxWaiting < 0:
		o.MaxWaiting = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Pacer paces the channels one instance sends through. Its methods are
// safe for concurrent use.
type Pacer struct {
	store LeaseStore
	opt   Options

	mu     sync.Mutex
	lanes  map[laneKey]*lane
	slots  slots
	closed bool

	manual bool // tests drive ticks and renewals themselves
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	wg     sync.WaitGroup
}

type laneKey struct{ tenant, channel string }

// New returns a Pacer keeping its leases in store. Close it to give its
// leases back at once; otherwise they expire after Options.TTL.
func New(store LeaseStore, opt Options) *Pacer {
	p := newPacer(store, opt, false)
	p.wg.Add(1)
	go p.pump()
	return p
}

func newPacer(store LeaseStore, opt Options, manual bool) *Pacer {
	p := &Pacer{store: store, opt: opt.withDefaults(), lanes: map[laneKey]*lane{}, manual: manual,
		wake: make(chan struct{}, 1)}
	p.slots.max = p.opt.MaxWaiting
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Instance is the id of this Pacer's leases.
func (p *Pacer) Instance() string { return p.opt.Instance }

func (p *Pacer) ms() int64 { return p.opt.Now().UnixMilli() }

// Acquire asks to send one message through key's channel. It returns
// ok=true when the message may go now, possibly after waiting; or ok=false
// and how long to wait before asking again when the message cannot go
// within maxWait (maxWait <= 0: only if it can go at once). It never waits
// longer than maxWait, so a caller asks before it claims the message and
// holds no lease while it waits. tenant is whose send this is: bulk sends
// are served round robin by tenant, and each tenant keeps at most its part
// of the instance's waiting slots. err is set only when ctx ends (the
// token, if one was granted meanwhile, goes back) or the Pacer is closed.
func (p *Pacer) Acquire(ctx context.Context, key ChannelKey, class Class, tenant string, maxWait time.Duration) (ok bool, retryAfter time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return false, 0, fmt.Errorf("pace %s/%s: %w", key.Tenant, key.Channel, err)
	}
	now := p.ms()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false, 0, ErrClosed
	}
	l := p.lane(key, now)
	canWait := class == Single || p.slots.free(tenant)
	w, ok, retry := l.admit(now, class, tenant, maxWait.Milliseconds(), canWait)
	if w != nil && class == Bulk {
		p.slots.take(tenant)
	}
	starving := w != nil && l.pace(now) == 0
	p.mu.Unlock()
	if w == nil {
		return ok, time.Duration(retry) * time.Millisecond, nil
	}
	if starving {
		nudge(l.kick) // a lane with nothing to send with renews early
	}
	nudge(p.wake)

	select {
	case v := <-w.done:
		return v.ok, v.retry, v.err
	case <-ctx.Done():
	}
	p.mu.Lock()
	if w.index >= 0 {
		l.q.remove(w)
		p.settled(w)
		p.mu.Unlock()
		return false, 0, fmt.Errorf("pace %s/%s: %w", key.Tenant, key.Channel, ctx.Err())
	}
	p.mu.Unlock()
	if v := <-w.done; v.ok {
		p.mu.Lock()
		l.refund(p.ms())
		p.mu.Unlock()
	}
	return false, 0, fmt.Errorf("pace %s/%s: %w", key.Tenant, key.Channel, ctx.Err())
}

// lane returns key's lane, made (and its lease sought) on first use.
// Callers hold p.mu.
func (p *Pacer) lane(key ChannelKey, now int64) *lane {
	k := laneKey{key.Tenant, key.Channel}
	l := p.lanes[k]
	if l == nil {
		l = newLane(key, now, p.opt.Burst.Milliseconds(), p.opt.Renew.Milliseconds())
		p.lanes[k] = l
		if !p.manual {
			p.wg.Add(1)
			go p.keep(l)
		}
	}
	l.rate, l.even = key.rate(), key.Even
	return l
}

// settled gives back the slot of a waiter that stopped waiting. Callers
// hold p.mu.
func (p *Pacer) settled(w *waiter) {
	if w.class == Bulk {
		p.slots.give(w.tenant)
	}
}

// Close refuses the acquisitions still waiting, stops renewing and gives
// every lease back, so that the other instances can grow into the room at
// their next renewal rather than after the leases expire.
func (p *Pacer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	lanes := make([]*lane, 0, len(p.lanes))
	for _, l := range p.lanes {
		lanes = append(lanes, l)
		for w := l.q.earliest(); w != nil; w = l.q.earliest() {
			l.q.remove(w)
			p.settled(w)
			w.done <- verdict{err: ErrClosed}
		}
		l.share, l.until = 0, 0
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs := make([]error, len(lanes))
	var wg sync.WaitGroup
	for i, l := range lanes {
		if l.retired {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.store.Release(ctx, l.tenant, l.channel, p.opt.Instance)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// nudge signals c without blocking; one pending signal is enough.
func nudge(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
