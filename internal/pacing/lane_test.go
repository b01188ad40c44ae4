package pacing

import (
	"math"
	"math/rand/v2"
	"testing"
)

// forever is a lease expiry no test reaches.
const forever = math.MaxInt64 / 2

func testLane(share float64) *lane {
	l := newLane(ChannelKey{Tenant: "t", Channel: "c", Rate: 80}, 0, 250, 2000)
	l.setShare(0, share, forever)
	return l
}

// drain spends the lane's saved tokens so tests start from an empty bucket.
func drain(t *testing.T, l *lane, now int64) {
	l.fill(now)
	t.Helper()
	for l.b.take() {
	}
	if l.q.len() != 0 {
		t.Fatal("drain: waiters queued")
	}
}

func TestSingleGoesAheadOfAThousandQueuedBulk(t *testing.T) {
	l := testLane(80)
	drain(t, l, 0)
	for i := 0; i < 1000; i++ {
		w, ok, retry := l.admit(0, Bulk, "acme", 60_000, true)
		if w == nil {
			t.Fatalf("bulk %d not queued (ok=%v retry=%d)", i, ok, retry)
		}
	}
	single, ok, retry := l.admit(0, Single, "other", 5_000, true)
	if single == nil {
		t.Fatalf("single send refused behind bulk (ok=%v retry=%d ms)", ok, retry)
	}
	for now := int64(1); now <= 1000; now++ {
		done := l.step(now)
		if len(done) == 0 {
			continue
		}
		if done[0] != single {
			t.Fatalf("at %d ms the first grant went to a %v send, not the single one", now, done[0].class)
		}
		if v := <-single.done; !v.ok {
			t.Fatalf("single send refused: %+v", v)
		}
		if now > 13 {
			t.Fatalf("single send waited %d ms; one token at 80/s takes 12.5 ms", now)
		}
		if got := l.q.queued(Bulk); got != 1000 {
			t.Fatalf("%d bulk sends still queued, want all 1000", got)
		}
		return
	}
	t.Fatal("nothing granted within a second")
}

func TestBulkTenantsTakeTurns(t *testing.T) {
	l := testLane(50)
	drain(t, l, 0)
	for i := 0; i < 100; i++ {
		l.admit(0, Bulk, "big", 600_000, true)
	}
	for i := 0; i < 10; i++ {
		l.admit(0, Bulk, "small", 600_000, true)
	}
	var order []string
	for now := int64(1); l.q.len() > 0 && now < 600_000; now++ {
		if now == 1000 {
			// A third tenant arriving later gets its turn in the next round.
			for i := 0; i < 3; i++ {
				l.admit(now, Bulk, "late", 600_000, true)
			}
		}
		for _, w := range l.step(now) {
			order = append(order, w.tenant)
		}
	}
	if len(order) != 113 {
		t.Fatalf("%d grants, want 113", len(order))
	}
	// The first 20 grants alternate big and small.
	for i := 0; i < 20; i++ {
		want := []string{"big", "small"}[i%2]
		if order[i] != want {
			t.Fatalf("grant %d went to %s, want %s: %v", i, order[i], want, order[:20])
		}
	}
	// "late" (arrived at 1 s, after 50 grants) waits at most one round
	// behind "big", and is never served twice while big waits.
	first := -1
	for i, tn := range order {
		if tn == "late" {
			if first < 0 {
				first = i
			}
			if i+1 < len(order) && order[i+1] == "late" {
				t.Fatalf("late served twice in a row at %d while big waited: %v", i, order[i-3:i+3])
			}
		}
	}
	if first < 0 || first > 52 {
		t.Fatalf("late first served at grant %d; it arrived when about 50 had gone", first)
	}
}

func TestRateOverASimulatedMinuteMatchesTheShare(t *testing.T) {
	for _, tc := range []struct {
		name  string
		share float64
		steps func(r *rand.Rand) int64 // ms between pump wake-ups
	}{
		{"80/s every ms", 80, func(*rand.Rand) int64 { return 1 }},
		{"19.5/s at irregular wake-ups", 19.5, func(r *rand.Rand) int64 { return 1 + r.Int64N(60) }},
		{"1000/s every 3 ms", 1000, func(*rand.Rand) int64 { return 3 }},
		{"20/s late wake-ups within the burst", 20, func(r *rand.Rand) int64 { return 1 + r.Int64N(200) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			l := testLane(tc.share)
			drain(t, l, 0)
			granted := 0
			for now := int64(0); now <= 60_000; now += tc.steps(r) {
				// Keep plenty waiting, as a busy instance would.
				for l.q.len() < 50 {
					if w, _, _ := l.admit(now, Bulk, "t", 600_000, true); w == nil {
						t.Fatal("could not queue")
					}
				}
				granted += len(l.step(now))
			}
			want := tc.share * 60
			if math.Abs(float64(granted)-want) > want/100 {
				t.Fatalf("%d granted in a minute at %.1f/s, want %.0f within 1 %%", granted, tc.share, want)
			}
		})
	}
}

func TestAWaitLongerThanMaxWaitIsRefusedAtOnce(t *testing.T) {
	l := testLane(10)
	drain(t, l, 0)
	for i := 0; i < 20; i++ {
		l.admit(0, Bulk, "t", 10_000, true)
	}
	// Twenty ahead: the next would wait 2.1 s at the share of 10/s, and
	// 263 ms even at the channel's whole 80/s.
	w, ok, retry := l.admit(0, Bulk, "t", 200, true)
	if w != nil || ok {
		t.Fatalf("queued or granted with a 263 ms wait at the whole rate and maxWait 200 ms")
	}
	if retry != 2000 {
		t.Fatalf("retry after %d ms, want the renewal period (the queue needs 2.1 s at the share)", retry)
	}
	if !l.d.hungry {
		t.Fatal("a refused bulk send did not mark the lane as having more work than its share")
	}
	if _, ok, _ := l.admit(0, Bulk, "t", 0, true); ok {
		t.Fatal("maxWait 0 granted with nothing in the bucket")
	}
}

func TestAWaitThatFitsAtTheWholeRateWaits(t *testing.T) {
	l := testLane(10)
	drain(t, l, 0)
	for i := 0; i < 5; i++ {
		l.admit(0, Bulk, "t", 10_000, true)
	}
	// Five ahead: 600 ms at the share of 10/s, 75 ms at the channel's
	// 80/s. The share may grow at the next renewal, so it waits.
	if w, _, _ := l.admit(0, Bulk, "t", 200, true); w == nil {
		t.Fatal("refused at once although the wait fits maxWait at the channel's whole rate")
	}
}

func TestAWaiterPushedBackPastItsDeadlineIsToldToRetry(t *testing.T) {
	l := testLane(10)
	drain(t, l, 0)
	bulk, _, _ := l.admit(0, Bulk, "t", 250, true) // 100 ms ahead of it: fits
	if bulk == nil {
		t.Fatal("bulk not queued")
	}
	for i := 0; i < 5; i++ {
		l.admit(0, Single, "t", 10_000, true) // jump ahead: 600 ms now
	}
	for now := int64(1); now <= 250; now++ {
		for _, w := range l.step(now) {
			if w != bulk {
				continue
			}
			v := <-w.done
			if v.ok {
				t.Fatalf("bulk granted at %d ms behind five single sends at 10/s", now)
			}
			if now != 250 {
				t.Fatalf("bulk refused at %d ms, want at its deadline 250 ms", now)
			}
			if v.retry <= 0 {
				t.Fatalf("refused without a retry delay: %+v", v)
			}
			return
		}
	}
	t.Fatal("bulk neither granted nor refused by its deadline")
}

func TestALapsedShareSendsNothing(t *testing.T) {
	l := newLane(ChannelKey{Tenant: "t", Channel: "c"}, 0, 250, 2000)
	l.setShare(0, 100, 1000)
	drain(t, l, 0)
	granted, refused, last := 0, 0, int64(0)
	for i := 0; i < 500; i++ {
		// Past 400 even the channel's whole 80/s would not reach them
		// within 5 s: those are refused at once.
		if w, _, _ := l.admit(0, Bulk, "t", 5_000, true); w == nil {
			refused++
		}
	}
	for now := int64(1); now <= 5000; now++ {
		for _, w := range l.step(now) {
			if (<-w.done).ok {
				granted++
				last = now
			} else {
				refused++
			}
		}
	}
	// 100/s for the second the lease lasted, then nothing: the waiters
	// left are refused at their deadline, the rest were at once.
	if granted < 99 || granted > 101 || last > 1000 {
		t.Fatalf("%d granted, the last at %d ms; want 100 within the lease's second", granted, last)
	}
	if refused != 500-granted {
		t.Fatalf("%d refused, want the %d left", refused, 500-granted)
	}
}

func TestANewShareLetsOneMessageGoAtOnce(t *testing.T) {
	l := newLane(ChannelKey{Tenant: "t", Channel: "c"}, 0, 250, 2000)
	if _, ok, _ := l.admit(0, Single, "t", 0, true); ok {
		t.Fatal("granted with no share")
	}
	l.setShare(10, 1, 10_000)
	if _, ok, _ := l.admit(10, Single, "t", 0, true); !ok {
		t.Fatal("a lane that just got a share of 1/s could not send its first message")
	}
	if _, ok, _ := l.admit(10, Single, "t", 0, true); ok {
		t.Fatal("a second message went at once at 1/s")
	}
}

func TestBackoffHalvesOncePerBurstAndRecovers(t *testing.T) {
	var b backoff
	if b.factor(0) != 1 {
		t.Fatal("factor without a cut is not 1")
	}
	if !b.halve(1000) || b.factor(1000) != 0.5 {
		t.Fatalf("after a cut the factor is %v, want 0.5", b.factor(1000))
	}
	if b.halve(1500) || b.factor(1500) != 0.5 {
		t.Fatal("refusals of calls already in flight cut again")
	}
	if b.factor(3000) != 0.5 {
		t.Fatalf("factor %v during the cool-down, want 0.5", b.factor(3000))
	}
	if f := b.factor(3000 + 2500); math.Abs(f-0.75) > 1e-9 {
		t.Fatalf("factor %v 2.5 s after the cool-down, want 0.75", f)
	}
	if b.factor(3000+10_000) != 1 {
		t.Fatal("factor did not recover to 1")
	}
	for i := int64(0); i < 10; i++ {
		b.halve(20_000 + i*1000)
	}
	if b.factor(29_000) != minFactor {
		t.Fatalf("repeated cuts went to %v, want the floor %v", b.factor(29_000), minFactor)
	}
}

func TestABackoffSlowsTheLane(t *testing.T) {
	l := testLane(80)
	l.own.halve(0)
	drain(t, l, 0)
	granted := 0
	for now := int64(0); now < 1000; now++ {
		for l.q.len() < 10 {
			l.admit(now, Bulk, "t", 60_000, true)
		}
		granted += len(l.step(now))
	}
	if granted < 38 || granted > 41 {
		t.Fatalf("%d granted in the second after a cut at 80/s, want about 40", granted)
	}
}

func TestEachTenantKeepsItsPartOfTheWaitingSlots(t *testing.T) {
	s := slots{max: 4}
	for i := 0; i < 4; i++ {
		if !s.free("a") {
			t.Fatalf("a refused slot %d of 4 while alone", i)
		}
		s.take("a")
	}
	if s.free("a") {
		t.Fatal("a got a fifth slot of 4")
	}
	if !s.free("b") {
		t.Fatal("b got no slot while a held all four")
	}
	s.take("b")
	s.take("b")
	if s.free("b") {
		t.Fatal("b got more than its half")
	}
	for i := 0; i < 4; i++ {
		s.give("a")
	}
	if !s.free("b") {
		t.Fatal("b still held to half once a left")
	}
}
