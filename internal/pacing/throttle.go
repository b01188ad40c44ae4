package pacing

import "time"

// Unused gives back a token Acquire granted for key's channel that was not
// spent: the caller asks before it claims the message, and the claim can
// still lose to a duplicate delivery.
func (p *Pacer) Unused(key ChannelKey) {
	now := p.ms()
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.lanes[laneKey{key.Tenant, key.Channel}]; l != nil {
		l.refund(now)
	}
	nudge(p.wake)
}

// Meta's throughput refusals (REFERENCE §2).
const (
	CodeNumberRate = 130429 // the number is over its messages per second
	CodePairRate   = 131056 // too many messages to one recipient
	CodeWABARate   = 80007  // the business account's call rate
	CodeAppRate    = 4      // the app's call rate
)

// pairWait is the least a recipient's refusal asks: about one message per
// 6 s to the same user.
const pairWait = 6 * time.Second

// Throttled records Meta's throughput refusal code for a message sent
// through key's channel, with Meta's suggested wait, and returns how long
// that message should wait before it is tried again; such a refusal never
// counts as an attempt. 130429 (and the account's and app's call rates)
// halve the channel's rate on this instance for a cool-down, and the lease
// carries it to the other instances at their next renewal; 131056 is the
// recipient's limit and leaves the channel's pace alone.
func (p *Pacer) Throttled(key ChannelKey, code int, retryAfter time.Duration) time.Duration {
	switch code {
	case CodePairRate:
		return max(retryAfter, pairWait)
	case CodeNumberRate, CodeWABARate, CodeAppRate:
	default:
		return retryAfter
	}
	now := p.ms()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return max(retryAfter, p.opt.Renew)
	}
	l := p.lanes[laneKey{key.Tenant, key.Channel}]
	if l == nil {
		// Nothing of this channel is paced here any more.
		p.mu.Unlock()
		return max(retryAfter, time.Second)
	}
	l.fill(now)
	cut := l.own.halve(now)
	if cut {
		l.b.tokens = 0 // a burst saved up is what the channel cannot take now
	}
	p.mu.Unlock()
	if cut {
		nudge(l.kick)
	}
	return max(retryAfter, time.Second)
}
