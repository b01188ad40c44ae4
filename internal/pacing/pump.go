package pacing

import "time"

// pump grants waiting acquisitions as tokens come and refuses them at their
// deadline, sleeping until the next such moment on any lane.
func (p *Pacer) pump() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(p.tick(p.ms()))
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// tick settles what is due at now on every lane and returns how long until
// the next thing is due.
func (p *Pacer) tick(now int64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := int64(-1)
	for _, l := range p.lanes {
		for _, w := range l.step(now) {
			p.settled(w)
		}
		if t := l.next(now); t >= 0 && (next < 0 || t < next) {
			next = t
		}
	}
	if next < 0 {
		return time.Hour
	}
	return time.Duration(max(next-now, 1)) * time.Millisecond
}
