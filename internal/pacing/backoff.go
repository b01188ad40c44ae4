package pacing

// Meta's 130429 says the number is over its throughput even though the
// instances together keep to the configured rate: the real limit is lower
// (inbound messages count too, or the number's setting is wrong). The
// channel then slows down multiplicatively and recovers additively.
const (
	cutGap       = 1000 // ms: refusals of calls already in flight when the first came back count once
	coolDown     = 2000 // ms after a cut before the rate starts to recover
	recoverPerMs = 0.1 / 1000
	minFactor    = 1.0 / 16
)

// backoff is the factor (0, 1] an instance applies to its share after
// Meta refused the channel's throughput. Times are milliseconds.
type backoff struct {
	floor float64 // the factor right after the last cut
	at    int64   // when the last cut happened
	cut   bool
}

// factor is 1 without a cut; after one it stays at the cut's floor for
// the cool-down, then climbs back to 1 by a tenth a second.
func (b *backoff) factor(now int64) float64 {
	if !b.cut {
		return 1
	}
	t := now - b.at - coolDown
	if t <= 0 {
		return b.floor
	}
	return min(1, b.floor+float64(t)*recoverPerMs)
}

// halve cuts the factor in half, unless a cut happened within cutGap; it
// says whether it cut.
func (b *backoff) halve(now int64) bool {
	if b.cut && now-b.at < cutGap {
		return false
	}
	b.floor = max(minFactor, b.factor(now)/2)
	b.at = now
	b.cut = true
	return true
}
