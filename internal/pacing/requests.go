package pacing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// RequestsChannel is the channel name a tenant's request limit is leased
// under (tenants/{t}/pacing/~requests). Channel ids are letters, digits,
// - and _ (templategw channel add), so no channel's pacing can share it.
const RequestsChannel = "~requests"

// requestWait is how long a request may wait for its tenant's token at
// least: long enough for a cold instance's first Claim on Firestore (tens
// of milliseconds), so that its first request waits for its lease instead
// of being refused, and short enough that a client over its limit hears
// so at once.
const requestWait = 250 * time.Millisecond

// Requests limits each tenant's requests per second across every instance,
// with the mechanism that paces a channel's messages: the tenant's limit is
// a channel's rate (RequestsChannel), each instance holds a leased share of
// it and spends it through its token bucket, one token a request.
//
// An instance that has just started taking a tenant's requests holds only
// the reserve until the others shrink at their renewals (a couple of
// seconds): meanwhile a refusal of its shared share falls back on a token
// bucket of its own at the whole limit (warm), so that a client within its
// limit is not refused because its requests reached a new instance. Over
// those seconds the tenant may pass its limit by what the new instances
// take; after them, the shares are the guarantee.
type Requests struct {
	p      *Pacer
	health *watched

	mu   sync.Mutex
	warm map[string]*warming
}

// warming is an instance's first seconds with a tenant's requests.
type warming struct {
	since, last int64 // ms: the first request, the latest
	b           bucket
}

// NewRequests returns a limiter keeping its leases in store. Close it with
// the process, to give its leases back.
func NewRequests(store LeaseStore, opt Options) *Requests {
	h := &watched{LeaseStore: store, seen: map[laneKey]*health{}}
	p := New(h, opt)
	// Set before the first Acquire starts a keeper that could call h.
	h.now, h.ttl = p.opt.Now, p.opt.TTL
	return &Requests{p: p, health: h, warm: map[string]*warming{}}
}

// warmUp is how long after its first request (or after an idle spell) an
// instance may fall back on its own bucket: two renewals, by which the
// other instances have shrunk and its share has grown.
func (r *Requests) warmUp() int64 { return 2 * r.p.opt.Renew.Milliseconds() }

// warmToken takes a token of tenant's own warm-up bucket at limit per
// second, while the instance is warming up for tenant.
func (r *Requests) warmToken(tenant string, limit int, now int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.warm[tenant]
	if w == nil || now-w.last >= r.p.opt.Idle.Milliseconds() {
		// New, or idle long enough for its lease to have gone back.
		w = &warming{since: now, b: bucket{tokens: 1, at: now}}
		r.warm[tenant] = w
	}
	w.last = now
	if now-w.since >= r.warmUp() {
		return false
	}
	rate := float64(limit)
	w.b.fill(now, rate, max(1, rate*float64(r.p.opt.Burst.Milliseconds())/1000), now+1)
	return w.b.take()
}

// seen notes a request of tenant that went through the shares, so the
// warm-up clock knows the instance is not idle.
func (r *Requests) seen(tenant string, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.warm[tenant]; w != nil && now-w.last < r.p.opt.Idle.Milliseconds() {
		w.last = now
		return
	}
	r.warm[tenant] = &warming{since: now, last: now, b: bucket{tokens: 1, at: now}}
}

// Allow takes one of tenant's requests against limit requests a second
// (limit <= 0: no limit). ok=false comes with how long to wait before
// trying again. err is set when the limit cannot be known: ctx ended, the
// limiter is closed, or the lease store has been failing since the
// tenant's share lapsed, so that a refusal would only echo the outage.
// The caller decides what an unknown limit means.
func (r *Requests) Allow(ctx context.Context, tenant string, limit int) (ok bool, retryAfter time.Duration, err error) {
	if limit <= 0 {
		return true, 0, nil
	}
	key := ChannelKey{Tenant: tenant, Channel: RequestsChannel, Rate: limit, Even: true}
	// A token at the whole limit must fit in the wait, or a cold instance
	// of a tenant limited below 4/s would refuse every first request: the
	// lane refuses at once what could not go within maxWait at the whole
	// rate.
	wait := max(requestWait, time.Duration((1000+limit-1)/limit)*time.Millisecond)
	ok, retryAfter, err = r.p.Acquire(ctx, key, Single, tenant, wait)
	now := r.p.ms()
	if err != nil || ok {
		if ok {
			r.seen(tenant, now)
		}
		return ok, retryAfter, err
	}
	if r.warmToken(tenant, limit, now) {
		return true, 0, nil
	}
	if ferr := r.health.failing(tenant, RequestsChannel); ferr != nil {
		return false, retryAfter, fmt.Errorf("request limit of %s unknown: %w", tenant, ferr)
	}
	return false, retryAfter, nil
}

// Close gives the leases back; Allow fails afterwards.
func (r *Requests) Close() error { return r.p.Close() }

// watched is a LeaseStore that remembers, per channel, when it last
// answered and when it last failed: a lane whose store fails keeps its
// share until its lease expires and then has nothing to spend, so a
// refusal after that says nothing about the limit.
type watched struct {
	LeaseStore
	now func() time.Time
	ttl time.Duration

	mu   sync.Mutex
	seen map[laneKey]*health
}

type health struct {
	ok, failed time.Time
	err        error
}

func (w *watched) note(tenant, channel string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := laneKey{tenant, channel}
	h := w.seen[k]
	if h == nil {
		h = &health{}
		w.seen[k] = h
	}
	if err == nil || errors.Is(err, ErrLeaseLost) {
		// The store answered: a lost lease is an answer too.
		h.ok, h.err = w.now(), nil
		return
	}
	h.failed, h.err = w.now(), err
}

// failing returns the store's last error for the channel when it failed
// since it last answered and that answer is older than a lease lasts (or
// there never was one): the share this instance held has lapsed, and only
// the store's failure keeps it from holding another.
func (w *watched) failing(tenant, channel string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.seen[laneKey{tenant, channel}]
	if h == nil || h.err == nil {
		return nil
	}
	if !h.ok.IsZero() && w.now().Sub(h.ok) < w.ttl {
		return nil
	}
	return h.err
}

// Leases reads through, noting the outcome.
func (w *watched) Leases(ctx context.Context, tenant, channel string) ([]Lease, error) {
	ls, err := w.LeaseStore.Leases(ctx, tenant, channel)
	w.observe(ctx, tenant, channel, err)
	return ls, err
}

// Renew writes through, noting the outcome.
func (w *watched) Renew(ctx context.Context, tenant, channel string, l Lease) error {
	err := w.LeaseStore.Renew(ctx, tenant, channel, l)
	w.observe(ctx, tenant, channel, err)
	return err
}

// Claim claims through, noting the outcome.
func (w *watched) Claim(ctx context.Context, tenant, channel string, decide func([]Lease) (Lease, []string)) (Lease, error) {
	l, err := w.LeaseStore.Claim(ctx, tenant, channel, decide)
	w.observe(ctx, tenant, channel, err)
	return l, err
}

// Release releases through, noting the outcome.
func (w *watched) Release(ctx context.Context, tenant, channel, instance string) error {
	err := w.LeaseStore.Release(ctx, tenant, channel, instance)
	w.observe(ctx, tenant, channel, err)
	return err
}

// observe notes err, unless the Pacer's own context ended: a renewal
// cut short by Close says nothing about the store.
func (w *watched) observe(ctx context.Context, tenant, channel string, err error) {
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return
	}
	w.note(tenant, channel, err)
}
