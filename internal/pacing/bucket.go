package pacing

import "math"

// bucket is a token bucket whose rate and depth change while it runs.
// Times are milliseconds; it never reads a clock.
type bucket struct {
	tokens float64
	at     int64 // when tokens was last brought up to now
}

// fill adds what rate (messages per second) earned since the last fill,
// up to depth. Nothing is earned past until: a share is only good until
// its lease runs out.
func (b *bucket) fill(now int64, rate, depth float64, until int64) {
	end := min(now, until)
	if end > b.at && rate > 0 {
		b.tokens = min(depth, b.tokens+rate*float64(end-b.at)/1000)
	}
	if now > b.at {
		b.at = now
	}
}

// take spends one token when there is one.
func (b *bucket) take() bool {
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// after is how long from the last fill until n more tokens are there at
// rate, in whole milliseconds; -1 when rate is zero.
func (b *bucket) after(n, rate float64) int64 {
	if rate <= 0 {
		return -1
	}
	need := n - b.tokens
	if need <= 0 {
		return 0
	}
	return int64(math.Ceil(need * 1000 / rate))
}
