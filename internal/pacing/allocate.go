package pacing

import "sort"

// want is what one instance asks of a channel's rate, in messages per
// second: for its single sends, then for its bulk sends.
type want struct {
	singles float64
	bulk    float64
}

// allocate splits rate among the instances' wants, single sends first: each
// instance gets its singles' want or an equal part of rate, whichever is
// less, and the parts left by modest wants go to the larger ones
// (max-min fairness). Bulk sends are split the same way out of what single
// sends left, minus reserve: the reserve stays unclaimed so that an
// instance holding nothing can take it at once for a single send, without
// waiting for the others to shrink. The parts never add up to more than
// rate.
func allocate(rate, reserve float64, wants []want) []float64 {
	singles := make([]float64, len(wants))
	bulk := make([]float64, len(wants))
	for i, w := range wants {
		singles[i], bulk[i] = w.singles, w.bulk
	}
	given := waterfill(rate, singles)
	left := rate - reserve
	for _, g := range given {
		left -= g
	}
	more := waterfill(left, bulk)
	for i := range given {
		given[i] += more[i]
	}
	return given
}

// waterfill is max-min fairness: the smallest wants are met in full while
// they are below an equal part of what is left, and the rest share the
// remainder equally.
func waterfill(capacity float64, wants []float64) []float64 {
	out := make([]float64, len(wants))
	if capacity <= 0 {
		return out
	}
	order := make([]int, len(wants))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return wants[order[a]] < wants[order[b]] })
	for k, i := range order {
		g := min(max(wants[i], 0), capacity/float64(len(order)-k))
		out[i] = g
		capacity -= g
	}
	return out
}

// reserveOf is the part of a channel's rate bulk sends leave unclaimed for
// single sends on instances that hold no share yet: 2.5 % of the rate, at
// least one message a second, never more than a tenth of the rate.
func reserveOf(rate float64) float64 {
	return min(rate/10, max(1, rate/40))
}
