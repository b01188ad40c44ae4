package pacing

// view is a channel's leases as one instance sees them at one time.
type view struct {
	rate        float64  // the lowest limit a live holder knows
	othersShare float64  // what the other live holders hold
	backoff     float64  // the lowest factor another live holder slows to
	wants       []want   // what the other live holders ask for
	stale       []string // other holders' leases past expiry and skew
	mine        *Lease
}

// see reads leases as instance self does at now (ms), knowing rate. Another
// holder's lease counts until skew after it expires, because that holder
// stops when it expires by its own clock, which may run up to skew behind.
func see(leases []Lease, self string, rate float64, now, skew int64) view {
	v := view{rate: rate, backoff: 1}
	for i, l := range leases {
		if l.Instance == self {
			v.mine = &leases[i]
			continue
		}
		if l.Expires.UnixMilli()+skew <= now {
			v.stale = append(v.stale, l.Instance)
			continue
		}
		if l.Rate > 0 {
			v.rate = min(v.rate, float64(l.Rate))
		}
		if l.Backoff > 0 && l.Backoff < 1 {
			v.backoff = min(v.backoff, l.Backoff)
		}
		v.othersShare += max(0, l.Share)
		v.wants = append(v.wants, want{singles: l.Singles, bulk: l.Bulk})
	}
	return v
}

// target is this instance's part of the channel's rate by the allocation
// rule, given what it asks for.
func (v view) target(ask want) float64 {
	wants := make([]want, 0, len(v.wants)+1)
	for _, w := range append(v.wants, ask) {
		wants = append(wants, want{singles: min(w.singles, v.rate), bulk: min(w.bulk, v.rate)})
	}
	parts := allocate(v.rate, reserveOf(v.rate), wants)
	return parts[len(parts)-1]
}

// free is what the other live holders leave of the rate.
func (v view) free() float64 {
	return max(0, v.rate-v.othersShare)
}

// Hysteresis of a renewal, so that a share a little off its target does
// not cost a transaction or a write of its own.
const (
	growAbove    = 1.05 // ask for more only past 5 % over the share
	shrinkBelow  = 0.95 // give back only past 5 % under the share
	shareEpsilon = 0.01
)

// renewal is what a lane brings to a renewal.
type renewal struct {
	ask    want
	cur    float64 // the share in force, 0 once it has lapsed
	held   bool    // the lane's lease is in force by its own clock
	rate   float64
	factor float64 // this instance's own backoff factor
}

// keep is the rule of a renewal without a transaction: when the lease is
// there and in force and the target is not above the share, the holder
// keeps its share or gives some back (lowering its own rate before the
// others can see the room) and the second result is true. Otherwise it
// must Claim.
func (v view) keep(in renewal) (float64, bool) {
	if v.mine == nil || !in.held {
		return 0, false
	}
	t := v.target(in.ask)
	if t > in.cur*growAbove+shareEpsilon {
		return 0, false
	}
	share := in.cur
	if t < in.cur*shrinkBelow {
		share = t
	}
	return min(share, v.free()), true
}

// grant is the rule inside Claim: the target, as far as the others leave
// room, and never less than the share in force when the room is there (a
// Claim only grows a share; shrinking is keep's, which lowers the rate
// before anyone sees the room).
func (v view) grant(in renewal) float64 {
	cur := in.cur
	if v.mine == nil {
		cur = 0
	}
	free := v.free()
	return max(min(v.target(in.ask), free), min(cur, free))
}
