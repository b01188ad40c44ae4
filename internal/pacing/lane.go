package pacing

import "time"

// lane is one channel's pacing on this instance: the share of the
// channel's rate its lease grants, the bucket that spends it, the waiting
// acquisitions, and what it measures of its own demand. Its methods take
// the time in milliseconds and read no clock; the Pacer holds its lock
// around every call.
type lane struct {
	tenant, channel string
	rate            int   // the channel's limit, as the last Acquire knew it
	even            bool  // ask for the whole rate (ChannelKey.Even)
	burst           int64 // ms of the share the bucket may hold
	period          int64 // ms between renewals

	share float64 // messages per second the lease grants
	until int64   // the share is good until then, by this instance's clock
	b     bucket
	q     fairQueue

	own    backoff
	others float64 // the lowest backoff factor another instance reported

	d       demand
	lastUse int64
	kick    chan struct{} // asks the keeper for an early renewal
	retired bool
}

func newLane(key ChannelKey, now, burst, period int64) *lane {
	return &lane{
		tenant: key.Tenant, channel: key.Channel, rate: key.rate(),
		burst: burst, period: period,
		others: 1, b: bucket{at: now}, d: demand{start: now}, lastUse: now,
		kick: make(chan struct{}, 1),
	}
}

// pace is the rate the lane sends at now: its share, slowed by Meta's
// refusals on this instance or another, and nothing once the share has
// lapsed.
func (l *lane) pace(now int64) float64 {
	if now >= l.until {
		return 0
	}
	return l.share * min(l.own.factor(now), l.others)
}

// depth is how many tokens the bucket may hold at rate r: burst's worth,
// and at least one.
func (l *lane) depth(r float64) float64 {
	return max(1, r*float64(l.burst)/1000)
}

func (l *lane) fill(now int64) {
	r := l.pace(now)
	l.b.fill(now, r, l.depth(r), l.until)
}

// setShare puts a new share in force, good until until. A lane that had
// nothing may send one message at once, so that a single send on an
// instance that has just joined goes without waiting a whole token.
func (l *lane) setShare(now int64, share float64, until int64) {
	l.fill(now)
	was := l.pace(now)
	l.share, l.until = max(0, share), until
	r := l.pace(now)
	if was == 0 && r > 0 {
		l.b.tokens = max(l.b.tokens, 1)
	}
	l.b.tokens = min(l.b.tokens, l.depth(r))
}

// admit decides an acquisition: go now (a token is there and nothing it
// must let go first is waiting), wait (the returned waiter, until at most
// maxWait), or try again after retry milliseconds when the wait would be
// longer than maxWait even at the channel's whole rate, or canWait forbids
// waiting. With no share yet the acquisition waits, since one may come
// within maxWait.
func (l *lane) admit(now int64, c Class, tenant string, maxWait int64, canWait bool) (w *waiter, ok bool, retry int64) {
	l.lastUse = now
	l.d.arrive(c)
	l.fill(now)
	if l.q.queued(Single) == 0 && (c == Single || l.q.len() == 0) && l.b.take() {
		return nil, true, 0
	}
	ahead := float64(l.q.ahead(c, tenant) + 1)
	wait := l.b.after(ahead, l.pace(now))
	// Refused at once is only a wait that would pass maxWait even were
	// this instance to hold the channel's whole rate. The share is only
	// settled at renewals (it starts near nothing while instances join),
	// and a refusal costs the message a redelivery after Pub/Sub's
	// backoff, 10 s or more: far longer than a wait that turns out to fit.
	// A waiter the share does not reach is refused at its deadline.
	if !canWait || maxWait <= 0 || l.b.after(ahead, float64(l.rate)) > maxWait {
		if c == Bulk {
			l.d.hungry = true
		}
		return nil, false, l.retryAfter(wait)
	}
	w = &waiter{class: c, tenant: tenant, enqueued: now, deadline: now + maxWait, done: make(chan verdict, 1)}
	l.q.push(w)
	return w, false, 0
}

// retryAfter turns an estimated wait into the delay a refused acquisition
// is told: the wait itself, at least minRetry and at most a renewal period,
// since the lane's share may change at each renewal; a renewal period when
// there is no rate to estimate from.
func (l *lane) retryAfter(wait int64) int64 {
	if wait < 0 {
		return l.period
	}
	return min(max(wait, minRetry), l.period)
}

const minRetry = 100 // ms

// step grants the waiters the bucket has tokens for, in the queue's order,
// then refuses those whose deadline has passed; it returns every waiter it
// settled.
func (l *lane) step(now int64) []*waiter {
	if l.q.len() == 0 {
		return nil
	}
	l.fill(now)
	var done []*waiter
	for l.q.len() > 0 && l.b.take() {
		w := l.q.pop()
		if w.class == Bulk && now-w.enqueued >= l.hungerAt(now) {
			l.d.hungry = true
		}
		w.done <- verdict{ok: true}
		done = append(done, w)
	}
	for w := l.q.earliest(); w != nil && w.deadline <= now; w = l.q.earliest() {
		l.q.remove(w)
		if w.class == Bulk {
			l.d.hungry = true
		}
		w.done <- verdict{retry: time.Duration(l.retryAfter(l.b.after(float64(l.q.len()+1), l.pace(now)))) * time.Millisecond}
		done = append(done, w)
	}
	return done
}

// next is when step has something to do: the next token for a waiter, or
// the first deadline; -1 when nothing waits.
func (l *lane) next(now int64) int64 {
	w := l.q.earliest()
	if w == nil {
		return -1
	}
	t := w.deadline
	l.fill(now)
	if a := l.b.after(1, l.pace(now)); a >= 0 && now+a < l.until {
		t = min(t, now+a)
	}
	return t
}

// refund gives back a token granted to an acquisition that was cancelled
// before it could use it.
func (l *lane) refund(now int64) {
	l.fill(now)
	l.b.tokens = min(l.b.tokens+1, l.depth(l.pace(now)))
}

// hungerAt is how long a bulk send may wait before the lane counts as
// having more bulk work than its share: four tokens' time, at least 100 ms;
// with no rate at all, any wait.
func (l *lane) hungerAt(now int64) int64 {
	r := l.pace(now)
	if r <= 0 {
		return 0
	}
	return max(100, int64(4000/r))
}

// idle says the lane has had no acquisition for idle ms and none waits:
// its lease can go.
func (l *lane) idle(now, idle int64) bool {
	return l.q.len() == 0 && now-l.lastUse >= idle
}
