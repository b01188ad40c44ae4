package sandbox

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pairLimiter is Meta's pair rate limit (131056): a token bucket per
// (phone number id, recipient).
type pairLimiter struct {
	burst int
	every rate.Limit

	mu        sync.Mutex
	buckets   map[pairKey]*rate.Limiter
	pruneAt   int
	minPruneN int
}

type pairKey struct{ phoneNumberID, to string }

func newPairLimiter(burst int, interval time.Duration) *pairLimiter {
	p := &pairLimiter{burst: burst, every: rate.Every(interval), minPruneN: 4096}
	p.reset()
	return p
}

func (p *pairLimiter) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buckets = map[pairKey]*rate.Limiter{}
	p.pruneAt = p.minPruneN
}

// allow takes one token from the pair's bucket.
func (p *pairLimiter) allow(phoneNumberID, to string, now time.Time) bool {
	k := pairKey{phoneNumberID, to}
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.buckets[k]
	if !ok {
		if len(p.buckets) >= p.pruneAt {
			p.prune(now)
		}
		l = rate.NewLimiter(p.every, p.burst)
		p.buckets[k] = l
	}
	return l.AllowN(now, 1)
}

// prune drops full buckets, which behave exactly like absent ones, so a
// benchmark over many recipients does not grow the map without bound.
// Pruning only when the map has doubled keeps the cost amortised.
func (p *pairLimiter) prune(now time.Time) {
	for k, l := range p.buckets {
		if l.TokensAt(now) >= float64(p.burst) {
			delete(p.buckets, k)
		}
	}
	p.pruneAt = max(2*len(p.buckets), p.minPruneN)
}
