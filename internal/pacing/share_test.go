package pacing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// errCut is the store's answer to an instance cut off from it.
var errCut = errors.New("cut off from the lease store")

// cutStore is a LeaseStore one instance can be cut off from.
type cutStore struct {
	LeaseStore
	cut bool
}

func (c *cutStore) Leases(ctx context.Context, tenant, channel string) ([]Lease, error) {
	if c.cut {
		return nil, errCut
	}
	return c.LeaseStore.Leases(ctx, tenant, channel)
}

func (c *cutStore) Renew(ctx context.Context, tenant, channel string, l Lease) error {
	if c.cut {
		return errCut
	}
	return c.LeaseStore.Renew(ctx, tenant, channel, l)
}

func (c *cutStore) Claim(ctx context.Context, tenant, channel string, decide func([]Lease) (Lease, []string)) (Lease, error) {
	if c.cut {
		return Lease{}, errCut
	}
	return c.LeaseStore.Claim(ctx, tenant, channel, decide)
}

func (c *cutStore) Release(ctx context.Context, tenant, channel, instance string) error {
	if c.cut {
		return errCut
	}
	return c.LeaseStore.Release(ctx, tenant, channel, instance)
}

// sim runs instances of one channel on a simulated clock: each has its own
// Pacer, its own clock skew, and a demand; renewals run when due.
type sim struct {
	t     *testing.T
	store *MemoryLeases
	key   ChannelKey
	now   int64   // true time, ms
	limit float64 // what the instances together must never pace over
	all   []*simInstance
	n     int
}

type simInstance struct {
	p     *Pacer
	l     *lane
	store *cutStore
	skew  int64
	due   int64 // true time of the next renewal
	last  int64 // true time of the last renewal
	load  int   // try-acquisitions per 10 ms step
	every int   // ... or one every this many steps, for light demand
	step  int
	dead  bool // the process is gone: it neither sends nor renews
}

func newSim(t *testing.T, rate int) *sim {
	return &sim{t: t, store: NewMemoryLeases(), key: ChannelKey{Tenant: "t", Channel: "c", Rate: rate}, now: 1_000_000, limit: float64(rate)}
}

func (s *sim) join(skew int64, load, every int) *simInstance {
	s.n++
	in := &simInstance{store: &cutStore{LeaseStore: s.store}, skew: skew, load: load, every: every, due: s.now}
	in.p = newPacer(in.store, Options{Instance: fmt.Sprintf("i%02d", s.n), Log: discard,
		Now: func() time.Time { return time.UnixMilli(s.now + in.skew) }}, true)
	in.p.mu.Lock()
	in.l = in.p.lane(s.key, s.now+skew)
	in.p.mu.Unlock()
	s.all = append(s.all, in)
	return in
}

// pace is what the live instances send at together now, each by its own
// clock.
func (s *sim) pace() float64 {
	sum := 0.0
	for _, in := range s.all {
		if in.dead || in.l.retired {
			continue
		}
		in.p.mu.Lock()
		sum += in.l.pace(s.now + in.skew)
		in.p.mu.Unlock()
	}
	return sum
}

// run advances the clock by ms in 10 ms steps: instances ask for tokens as
// their load says, renew when due, and after every step the live instances
// together must pace at no more than the rate.
func (s *sim) run(ms int64) {
	s.t.Helper()
	for end := s.now + ms; s.now < end; {
		s.now += 10
		for _, in := range s.all {
			if in.dead || in.l.retired {
				continue
			}
			now := s.now + in.skew
			in.step++
			in.p.mu.Lock()
			n := in.load
			if in.every > 0 && in.step%in.every == 0 {
				n++
			}
			for i := 0; i < n; i++ {
				in.l.admit(now, Bulk, "t", 0, true)
			}
			in.p.mu.Unlock()
			gap := in.p.opt.Renew.Milliseconds() / 4
			select {
			case <-in.l.kick: // as keep does
				in.due = min(in.due, in.last+gap)
			default:
			}
			if s.now >= in.due {
				next, _ := in.p.renew(in.l)
				in.last = s.now
				in.due = s.now + max(next.Milliseconds(), gap)
			}
			if got := s.pace(); got > s.limit*(1+1e-9) {
				s.t.Fatalf("at %d ms the instances pace at %.3f/s together, over %.0f/s (%s)", s.now, got, s.limit, s.shares())
			}
		}
	}
}

func (s *sim) shares() string {
	out := ""
	for _, in := range s.all {
		state := ""
		switch {
		case in.dead:
			state = " dead"
		case in.store.cut:
			state = " cut off"
		}
		out += fmt.Sprintf("%s=%.2f%s ", in.p.opt.Instance, in.l.pace(s.now+in.skew), state)
	}
	return out
}

var discard = newDiscardLogger()

func TestSharesNeverExceedTheRateAsInstancesComeAndGo(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			s := newSim(t, []int{20, 80, 1000}[r.IntN(3)])
			skew := func() int64 { return r.Int64N(800) - 400 } // within Options.Skew (1 s) of each other
			for i := 0; i < 1+r.IntN(4); i++ {
				s.join(skew(), 1+r.IntN(3), 0)
			}
			for round := 0; round < 40; round++ {
				live := []*simInstance{}
				for _, in := range s.all {
					if !in.dead && !in.l.retired {
						live = append(live, in)
					}
				}
				switch e := r.IntN(10); {
				case e < 3 && len(live) < 12:
					if r.IntN(2) == 0 {
						s.join(skew(), 1+r.IntN(3), 0)
					} else {
						s.join(skew(), 0, 1+r.IntN(20)) // light demand
					}
				case e < 4 && len(live) > 0:
					in := live[r.IntN(len(live))]
					in.dead = true // gone without a word: its lease expires
				case e < 5 && len(live) > 0:
					in := live[r.IntN(len(live))]
					if err := in.p.Close(); err != nil && !errors.Is(err, errCut) {
						t.Fatal(err)
					}
					in.dead = true
				case e < 7 && len(live) > 0:
					in := live[r.IntN(len(live))]
					in.store.cut = !in.store.cut // partitioned: keeps its share until it expires, then stops
				case e < 8 && len(live) > 0:
					in := live[r.IntN(len(live))]
					in.load, in.every = 0, 1+r.IntN(20)
				case len(live) > 0:
					in := live[r.IntN(len(live))]
					in.load, in.every = 1+r.IntN(3), 0
				}
				s.run(int64(200 + r.IntN(3000)))
			}
		})
	}
}

func TestBusyInstancesConvergeOnEqualShares(t *testing.T) {
	s := newSim(t, 80)
	for i := 0; i < 4; i++ {
		s.join(int64(i*100-150), 2, 0) // 200 asks a second each, far over a share
	}
	s.run(5_000)
	for _, in := range s.all {
		if got := in.l.pace(s.now + in.skew); got < 19 || got > 19.5+1e-9 {
			t.Fatalf("after 5 s a busy instance paces at %.2f/s, want (80 - 2 reserved)/4 = 19.5 (%s)", got, s.shares())
		}
	}
}

func TestALightInstanceLeavesItsRoomToBusyOnes(t *testing.T) {
	s := newSim(t, 80)
	light := s.join(0, 0, 20) // 5 asks a second
	s.join(200, 2, 0)
	s.join(-200, 2, 0)
	s.run(10_000)
	if got := light.l.pace(s.now); got > 5*bulkHeadroom+1+1e-9 || got < 5 {
		t.Fatalf("a light instance asking 5/s holds %.2f/s (%s)", got, s.shares())
	}
	if got := s.pace(); got < 0.95*80-1e-9 {
		t.Fatalf("together %.2f/s of 80/s with two busy instances (%s)", got, s.shares())
	}
}

func TestADeadInstancesShareGoesBackToTheOthers(t *testing.T) {
	s := newSim(t, 80)
	var all []*simInstance
	for i := 0; i < 4; i++ {
		all = append(all, s.join(int64(i*100), 2, 0))
	}
	s.run(5_000)
	all[0].dead = true
	// TTL 6 s, Skew 1 s and the next renewals: within about 8 s the three
	// left hold what the four held.
	s.run(9_000)
	if got := s.pace(); got < 0.95*80-1e-9 {
		t.Fatalf("9 s after an instance died the others pace at %.2f/s together (%s)", got, s.shares())
	}
	leases, _ := s.store.Leases(context.Background(), "t", "c")
	for _, l := range leases {
		if l.Instance == all[0].p.Instance() {
			t.Fatal("the dead instance's lease was not taken back")
		}
	}
}

func TestAClosedInstancesShareGoesBackAtTheNextRenewals(t *testing.T) {
	s := newSim(t, 80)
	a := s.join(0, 2, 0)
	s.join(0, 2, 0)
	s.run(5_000)
	if err := a.p.Close(); err != nil {
		t.Fatal(err)
	}
	a.dead = true
	s.run(3_000)
	if got := s.pace(); got < 0.95*80-1e-9 {
		t.Fatalf("3 s after an instance closed the other paces at %.2f/s (%s)", got, s.shares())
	}
}

func TestAPartitionedInstanceStopsWhenItsLeaseExpires(t *testing.T) {
	s := newSim(t, 80)
	a := s.join(0, 2, 0)
	s.join(0, 2, 0)
	s.run(5_000)
	a.store.cut = true
	s.run(int64(a.p.opt.TTL/time.Millisecond) + 100)
	if got := a.l.pace(s.now); got != 0 {
		t.Fatalf("cut off from the store for a whole lease, it still paces at %.2f/s", got)
	}
	s.run(5_000)
	a.store.cut = false
	s.run(5_000)
	if got := a.l.pace(s.now); got < 19 {
		t.Fatalf("back in touch, it paces at %.2f/s, want about half (%s)", got, s.shares())
	}
}

func TestALoweredRateTakesHoldAtTheNextRenewals(t *testing.T) {
	s := newSim(t, 80)
	a := s.join(0, 2, 0)
	s.join(0, 2, 0)
	s.run(5_000)
	a.l.rate = 20 // a learns the new setting first; b still knows 80
	s.run(int64(2 * a.p.opt.Renew / time.Millisecond))
	if got := s.pace(); got > 20+1e-9 {
		t.Fatalf("two renewals after the rate went to 20/s the instances pace at %.2f/s (%s)", got, s.shares())
	}
	s.limit = 20
	s.run(10_000)
}

func TestThrottlingSlowsEveryInstanceOfTheChannel(t *testing.T) {
	s := newSim(t, 80)
	a := s.join(0, 2, 0)
	b := s.join(0, 2, 0)
	s.run(5_000)
	before := b.l.pace(s.now)
	if d := a.p.Throttled(s.key, CodeNumberRate, time.Second); d < time.Second {
		t.Fatalf("a 130429 asks to wait %v, want at least Meta's second", d)
	}
	if got := a.l.pace(s.now); got > before*0.5+1e-9 {
		t.Fatalf("after its 130429, a paces at %.2f/s, want at most half of %.2f", got, before)
	}
	// a's early renewal reports the cut; b reads it at its next renewal,
	// while a is still at most 0.2 above its floor of 0.5.
	s.run(int64(a.p.opt.Renew / time.Millisecond))
	if got := b.l.pace(s.now); got > before*0.7+1e-9 {
		t.Fatalf("a renewal after a's 130429, b paces at %.2f/s, want at most 0.7 of %.2f", got, before)
	}
	s.run(20_000)
	if got := b.l.pace(s.now); got < before-1e-9 {
		t.Fatalf("20 s after the refusal b paces at %.2f/s, want back to %.2f", got, before)
	}
}

func TestAPairRateRefusalLeavesTheChannelAlone(t *testing.T) {
	s := newSim(t, 80)
	a := s.join(0, 2, 0)
	s.run(3_000)
	before := a.l.pace(s.now)
	if d := a.p.Throttled(s.key, CodePairRate, 0); d < 6*time.Second {
		t.Fatalf("a 131056 asks to wait %v, want at least 6 s for that recipient", d)
	}
	if got := a.l.pace(s.now); got != before {
		t.Fatalf("a recipient's refusal moved the channel's pace from %.2f to %.2f", before, got)
	}
}
