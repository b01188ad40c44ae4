package pacing

// demand is what a lane measures of its own work between renewals.
type demand struct {
	start         int64 // ms: the measurement began
	singles, bulk int   // acquisitions asked for since start
	hungry        bool  // since start, a bulk send was refused or waited long
	estSingles    float64
	estBulk       float64
	measured      bool // a whole measurement has been taken
}

func (d *demand) arrive(c Class) {
	if c == Single {
		d.singles++
	} else {
		d.bulk++
	}
}

// Headroom over the measured rates, so that a lane asking for what it
// used is not held to exactly that while its work grows.
const (
	singlesHeadroom = 2
	bulkHeadroom    = 1.25
)

// ask is what the lane asks of the channel at a renewal. Single sends ask
// for twice their measured rate plus one, and for what is queued. Bulk
// sends ask for the channel's whole rate while they have more work than
// the lane's share (a send refused or kept waiting, or the lane has not
// measured a whole period yet), so that max-min fairness splits the rate
// evenly among busy instances; otherwise for their measured rate with
// headroom, so that a lane with little work does not strand capacity. The
// measurement restarts when at least half a period has passed; an early
// renewal keeps counting.
func (l *lane) ask(now int64) want {
	d := &l.d
	hungry := d.hungry
	if el := now - d.start; el >= l.period/2 && el > 0 {
		d.estSingles = float64(d.singles) * 1000 / float64(el)
		d.estBulk = float64(d.bulk) * 1000 / float64(el)
		d.measured = true
		d.start, d.singles, d.bulk, d.hungry = now, 0, 0, false
	}
	if l.even {
		// Asked as bulk, so that the reserve stays for an instance
		// that joins: it takes that at once instead of waiting for the
		// others to shrink.
		return want{bulk: float64(l.rate)}
	}
	queuedBulk := l.q.queued(Bulk)
	if queuedBulk > 0 && now-l.oldestBulk() >= l.hungerAt(now) {
		hungry = true
	}
	var w want
	if s := float64(l.q.queued(Single)); d.estSingles > 0 || s > 0 || d.singles > 0 {
		w.singles = d.estSingles*singlesHeadroom + 1 + s
	}
	switch {
	case hungry, !d.measured && (d.bulk > 0 || queuedBulk > 0):
		w.bulk = float64(l.rate)
	case d.estBulk > 0:
		w.bulk = d.estBulk*bulkHeadroom + 1
	}
	return w
}

// oldestBulk is when the longest-waiting bulk send arrived.
func (l *lane) oldestBulk() int64 {
	oldest := int64(-1)
	for _, q := range l.q.bulk {
		if e := q.Front(); e != nil {
			if t := e.Value.(*waiter).enqueued; oldest < 0 || t < oldest {
				oldest = t
			}
		}
	}
	return oldest
}
