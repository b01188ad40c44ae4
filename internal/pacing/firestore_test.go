package pacing_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/pacing"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func client(t *testing.T) *firestore.Client {
	t.Helper()
	fs, err := firestore.NewClient(context.Background(), emulatortest.ProjectID(t), emulatortest.FirestoreOptions(t)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func TestFirestoreLeasesClaimRenewTakeBackRelease(t *testing.T) {
	s := pacing.NewFirestoreLeases(client(t))
	ctx := context.Background()
	exp := time.Now().Add(time.Minute).Truncate(time.Microsecond).UTC()
	a := pacing.Lease{Instance: "a", Share: 40, Rate: 80, Singles: 1.5, Bulk: 80, Backoff: 0.5, Expires: exp}
	if _, err := s.Claim(ctx, "t1", "main", func(ls []pacing.Lease) (pacing.Lease, []string) {
		if len(ls) != 0 {
			t.Errorf("a new channel has leases: %+v", ls)
		}
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	ls, err := s.Leases(ctx, "t1", "main")
	if err != nil || len(ls) != 1 {
		t.Fatalf("Leases = %+v, %v", ls, err)
	}
	if got := ls[0]; got.Instance != "a" || got.Share != 40 || got.Rate != 80 || got.Singles != 1.5 || got.Bulk != 80 ||
		got.Backoff != 0.5 || !got.Expires.Equal(exp) {
		t.Fatalf("read back %+v, wrote %+v", got, a)
	}

	a.Share = 20
	if err := s.Renew(ctx, "t1", "main", a); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Leases(ctx, "t1", "main"); len(ls) != 1 || ls[0].Share != 20 {
		t.Fatalf("after Renew: %+v", ls)
	}

	b := pacing.Lease{Instance: "b", Share: 80, Rate: 80, Expires: exp}
	if _, err := s.Claim(ctx, "t1", "main", func([]pacing.Lease) (pacing.Lease, []string) { return b, []string{"a"} }); err != nil {
		t.Fatal(err)
	}
	if err := s.Renew(ctx, "t1", "main", a); !errors.Is(err, pacing.ErrLeaseLost) {
		t.Fatalf("Renew of a lease taken back: %v, want ErrLeaseLost", err)
	}
	if ls, _ := s.Leases(ctx, "t1", "main"); len(ls) != 1 || ls[0].Instance != "b" {
		t.Fatalf("a Renew of a lost lease wrote something: %+v", ls)
	}
	if ls, _ := s.Leases(ctx, "t2", "main"); len(ls) != 0 {
		t.Fatalf("another tenant's channel of the same name sees %+v", ls)
	}
	for i := 0; i < 2; i++ {
		if err := s.Release(ctx, "t1", "main", "b"); err != nil {
			t.Fatalf("release %d: %v", i, err)
		}
	}
	if ls, _ := s.Leases(ctx, "t1", "main"); len(ls) != 0 {
		t.Fatalf("after Release: %+v", ls)
	}
}

// Each Claim takes all the room the others leave. Unless Claims
// serialize, two that read before either wrote both take it all.
func TestFirestoreClaimsNeverHandOutTheSameRoomTwice(t *testing.T) {
	s := pacing.NewFirestoreLeases(client(t))
	const rate = 80.0
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 8*3)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				_, err := s.Claim(context.Background(), "t1", "main", func(ls []pacing.Lease) (pacing.Lease, []string) {
					free := rate
					for _, l := range ls {
						if l.Instance != fmt.Sprint(i) {
							free -= l.Share
						}
					}
					return pacing.Lease{Instance: fmt.Sprint(i), Share: max(0, free), Rate: int(rate), Expires: exp}, nil
				})
				if err != nil {
					// Contention past the attempts is allowed: the share
					// stays as it was.
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		failed++
		t.Logf("claim not committed: %v", err)
	}
	if failed == 8*3 {
		t.Fatal("no claim committed")
	}
	ls, err := s.Leases(context.Background(), "t1", "main")
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, l := range ls {
		sum += l.Share
	}
	if sum > rate+1e-9 {
		t.Fatalf("the shares add up to %.2f over the rate %v: %+v", sum, rate, ls)
	}
}

// Four instances, as four dispatch processes, on one Firestore emulator,
// all with more work than one channel at 80/s takes.
func TestFourInstancesPaceOneChannelTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("paces four instances through one channel in real time for 11 s on the Firestore emulator; run without -short")
	}
	const (
		rate      = 80
		instances = 4
		settle    = 4 * time.Second // joins: one renewal period of the first instance, and a quarter
		measure   = 7 * time.Second
	)
	store := pacing.NewFirestoreLeases(client(t))
	warmUp(t, store)
	key := pacing.ChannelKey{Tenant: "t1", Channel: "main", Rate: rate}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var mu sync.Mutex
	var grants []time.Duration
	var refused int
	first := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < instances; i++ {
		p := pacing.New(store, pacing.Options{})
		t.Cleanup(func() {
			if err := p.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		for g := 0; g < 16; g++ { // as the instance's concurrent requests
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					ok, retry, err := p.Acquire(ctx, key, pacing.Bulk, "t1", time.Second)
					switch {
					case err != nil:
						return
					case ok:
						mu.Lock()
						grants = append(grants, time.Since(start))
						mu.Unlock()
						once.Do(func() { close(first) })
					default:
						mu.Lock()
						refused++
						mu.Unlock()
						// Redelivered after the delay it was told, as Pub/Sub would.
						select {
						case <-ctx.Done():
						case <-time.After(retry):
						}
					}
				}
			}()
		}
	}
	select {
	case <-first:
	case <-ctx.Done():
		t.Fatal("no instance was granted anything")
	}
	from := time.Since(start) + settle
	to := from + measure
	select {
	case <-time.After(to - time.Since(start)):
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	sort.Slice(grants, func(i, j int) bool { return grants[i] < grants[j] })

	// Σ bursts: a quarter second of the rate, plus up to one message per
	// instance whose share rounds its bucket's depth up to one.
	burst := float64(rate)*0.25 + instances
	worst, worstAt, steady := 0, time.Duration(0), 0
	for i, g := range grants {
		if g < from || g >= to {
			continue
		}
		steady++
		if g+time.Second > to {
			continue
		}
		n := sort.Search(len(grants), func(j int) bool { return grants[j] >= g+time.Second }) - i
		if n > worst {
			worst, worstAt = n, g
		}
	}
	mean := float64(steady) / measure.Seconds()
	perSecond := make([]int, int(to/time.Second)+1)
	for _, g := range grants {
		if i := int(g / time.Second); i < len(perSecond) {
			perSecond[i]++
		}
	}
	t.Logf("granted per second since the start: %v", perSecond)
	t.Logf("%d granted, %d told to retry; from %v to %v: %.1f/s; busiest second %d from %v",
		len(grants), refused, from.Round(time.Millisecond), to.Round(time.Millisecond), mean, worst, worstAt.Round(time.Millisecond))
	if float64(worst) > rate+burst {
		t.Errorf("%d granted in the second from %v, over %d/s plus the buckets' %.0f", worst, worstAt, rate, burst)
	}
	if mean > rate+burst/measure.Seconds() {
		t.Errorf("%.1f/s granted on average once settled, over %d/s", mean, rate)
	}
	if mean < 0.9*rate {
		t.Errorf("%.1f/s granted on average once settled, under 0.9 × %d/s", mean, rate)
	}
}

// warmUp makes the emulator's first, slow answers before the clock starts.
func warmUp(t *testing.T, s *pacing.FirestoreLeases) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := s.Claim(ctx, "warm", "up", func([]pacing.Lease) (pacing.Lease, []string) {
			return pacing.Lease{Instance: "w", Expires: time.Now()}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Leases(ctx, "warm", "up"); err != nil {
			t.Fatal(err)
		}
		if err := s.Renew(ctx, "warm", "up", pacing.Lease{Instance: "w", Expires: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Release(ctx, "warm", "up", "w"); err != nil {
		t.Fatal(err)
	}
}
