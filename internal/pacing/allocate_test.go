package pacing

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestWaterfillMeetsModestWantsAndSplitsTheRest(t *testing.T) {
	got := waterfill(78, []float64{100, 5, 100})
	if !near(got[1], 5) || !near(got[0], 36.5) || !near(got[2], 36.5) {
		t.Fatalf("waterfill = %v, want [36.5 5 36.5]", got)
	}
	got = waterfill(78, []float64{10, 20})
	if !near(got[0], 10) || !near(got[1], 20) {
		t.Fatalf("waterfill under capacity = %v, want the wants", got)
	}
}

func TestAllocateServesSingleSendsFirstAndKeepsTheReserve(t *testing.T) {
	got := allocate(80, 2, []want{{singles: 10, bulk: 80}, {bulk: 80}})
	if !near(got[0], 10+34) || !near(got[1], 34) {
		t.Fatalf("allocate = %v, want [44 34]", got)
	}
	// Singles may use the reserve; bulk never does.
	got = allocate(80, 2, []want{{bulk: 80}, {singles: 3}})
	if !near(got[0], 75) || !near(got[1], 3) {
		t.Fatalf("allocate = %v, want [75 3]", got)
	}
	got = allocate(80, 2, []want{{bulk: 80}})
	if !near(got[0], 78) {
		t.Fatalf("a lone busy instance gets %v, want 78 (the rate less the reserve)", got[0])
	}
}

func TestAllocationsNeverExceedTheRate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10_000; i++ {
		rate := []float64{20, 80, 1000}[r.IntN(3)]
		wants := make([]want, 1+r.IntN(100))
		for j := range wants {
			wants[j] = want{singles: r.Float64() * rate * float64(r.IntN(2)), bulk: r.Float64() * 2 * rate}
		}
		parts := allocate(rate, reserveOf(rate), wants)
		sum := 0.0
		for j, p := range parts {
			if p < 0 || p > wants[j].singles+wants[j].bulk+1e-9 {
				t.Fatalf("part %v outside [0, want %+v]", p, wants[j])
			}
			sum += p
		}
		if sum > rate*(1+1e-12) {
			t.Fatalf("parts add up to %v over the rate %v", sum, rate)
		}
	}
}

func TestTheReserve(t *testing.T) {
	for _, c := range []struct{ rate, want float64 }{{80, 2}, {1000, 25}, {20, 1}, {5, 0.5}} {
		if got := reserveOf(c.rate); !near(got, c.want) {
			t.Errorf("reserveOf(%v) = %v, want %v", c.rate, got, c.want)
		}
	}
}
