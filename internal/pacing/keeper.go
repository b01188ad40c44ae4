package pacing

import (
	"context"
	"errors"
	"time"
)

// keep renews l's lease: at once, then every Renew, sooner when the lane
// asked for more than it got or has nothing to send with (never more often
// than every quarter Renew), until the lane goes idle or the Pacer closes.
func (p *Pacer) keep(l *lane) {
	defer p.wg.Done()
	gap := p.opt.Renew.Milliseconds() / 4
	due, last := p.ms(), int64(0)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-l.kick:
			due = min(due, last+gap)
		case <-timer.C:
		}
		if now := p.ms(); now < due {
			timer.Reset(time.Duration(due-now) * time.Millisecond)
			continue
		}
		last = p.ms()
		next, retired := p.renew(l)
		if retired {
			return
		}
		due = last + max(next.Milliseconds(), gap)
		timer.Reset(time.Duration(due-p.ms()) * time.Millisecond)
	}
}

// renew is one renewal of l's lease. It returns when the next is due, or
// that the lane went idle and gave its lease back.
func (p *Pacer) renew(l *lane) (next time.Duration, retired bool) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opt.TTL/2)
	defer cancel()
	soon := p.opt.Renew / 4
	now := p.ms()

	p.mu.Lock()
	if !p.closed && l.idle(now, p.opt.Idle.Milliseconds()) {
		delete(p.lanes, laneKey{l.tenant, l.channel})
		l.share, l.until, l.retired = 0, 0, true
		p.mu.Unlock()
		if err := p.store.Release(ctx, l.tenant, l.channel, p.opt.Instance); err != nil {
			p.warn("pacing lease not released; it expires on its own", l, err)
		}
		return 0, true
	}
	in := renewal{ask: l.ask(now), rate: float64(l.rate), factor: l.own.factor(now), held: now < l.until}
	if in.held {
		in.cur = l.share
	}
	p.mu.Unlock()

	leases, err := p.store.Leases(ctx, l.tenant, l.channel)
	if err != nil {
		p.warn("pacing leases not read; the share holds until its lease expires", l, err)
		return soon, false
	}
	v := see(leases, p.opt.Instance, in.rate, now, p.opt.Skew.Milliseconds())
	if share, ok := v.keep(in); ok {
		return p.keepShare(ctx, l, in, v, share, now)
	}
	return p.claim(ctx, l, in)
}

// keepShare renews the lease at share, no more than the share in force:
// the lane slows down first, then the lease says so.
func (p *Pacer) keepShare(ctx context.Context, l *lane, in renewal, v view, share float64, now int64) (time.Duration, bool) {
	p.mu.Lock()
	l.setShare(p.ms(), min(share, l.share), l.until)
	l.others = v.backoff
	p.mu.Unlock()

	until := now + p.opt.TTL.Milliseconds()
	err := p.store.Renew(ctx, l.tenant, l.channel, p.lease(in, share, until))
	switch {
	case errors.Is(err, ErrLeaseLost):
		// Taken back while this instance was not renewing: its share may be
		// someone else's now.
		p.mu.Lock()
		l.setShare(p.ms(), 0, 0)
		p.mu.Unlock()
		return 0, false
	case err != nil:
		p.warn("pacing lease not renewed; the share holds until it expires", l, err)
		return p.opt.Renew / 4, false
	}
	p.mu.Lock()
	l.setShare(p.ms(), l.share, until)
	p.mu.Unlock()
	nudge(p.wake)
	return p.opt.Renew, false
}

// claim grows (or first takes) the lane's share in a transaction over the
// channel's leases, taking back those past expiry.
func (p *Pacer) claim(ctx context.Context, l *lane, in renewal) (time.Duration, bool) {
	var target, others float64
	got, err := p.store.Claim(ctx, l.tenant, l.channel, func(leases []Lease) (Lease, []string) {
		now := p.ms()
		v := see(leases, p.opt.Instance, in.rate, now, p.opt.Skew.Milliseconds())
		target, others = v.target(in.ask), v.backoff
		return p.lease(in, v.grant(in), now+p.opt.TTL.Milliseconds()), v.stale
	})
	if err != nil {
		p.warn("pacing lease not claimed; the share stays as it was", l, err)
		return p.opt.Renew / 4, false
	}
	p.mu.Lock()
	l.setShare(p.ms(), got.Share, got.Expires.UnixMilli())
	l.others = others
	p.mu.Unlock()
	nudge(p.wake)
	if got.Share < target*shrinkBelow-shareEpsilon {
		return p.opt.Renew / 4, false
	}
	return p.opt.Renew, false
}

// lease is this instance's lease for a renewal.
func (p *Pacer) lease(in renewal, share float64, until int64) Lease {
	return Lease{Instance: p.opt.Instance, Share: share, Rate: int(in.rate), Singles: in.ask.singles,
		Bulk: in.ask.bulk, Backoff: in.factor, Expires: time.UnixMilli(until)}
}

// warn logs a failed renewal, unless Close interrupted it.
func (p *Pacer) warn(msg string, l *lane, err error) {
	if p.ctx.Err() != nil {
		return
	}
	p.opt.Log.Warn(msg, "tenant", l.tenant, "channel", l.channel, "error", err.Error())
}
