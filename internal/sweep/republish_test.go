package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/sweep"
)

// backlogStore is a Store in memory whose only work is a backlog of lost
// single sends per tenant, each list in (updatedAt, id) order. Each page
// read calls onPage (a test's clock) and is recorded with its cursor.
type backlogStore struct {
	tenants []string
	stale   map[string][]store.StaleMessage
	onPage  func()

	mu    sync.Mutex
	reads []store.StaleMessage // the cursor of each page read
}

func (f *backlogStore) TenantIDs(context.Context) ([]string, error) { return f.tenants, nil }

func (f *backlogStore) StaleAccepted(_ context.Context, tenant string, _ time.Time, after store.StaleMessage, limit int) ([]store.StaleMessage, error) {
	f.mu.Lock()
	f.reads = append(f.reads, after)
	f.mu.Unlock()
	if f.onPage != nil {
		f.onPage()
	}
	list := f.stale[tenant]
	i := 0
	if after.ID != "" {
		i = slices.IndexFunc(list, func(m store.StaleMessage) bool { return m.ID == after.ID }) + 1
	}
	return slices.Clone(list[i:min(i+limit, len(list))]), nil
}

func (f *backlogStore) ExpiredLeases(context.Context, string, time.Time, int) ([]string, error) {
	return nil, nil
}

func (f *backlogStore) ExpireLease(context.Context, string, string, time.Time, time.Duration) (domain.Message, error) {
	return domain.Message{}, errors.New("no leases here")
}

func (f *backlogStore) CloseExpiredConversations(context.Context, string, time.Time, int) (int, error) {
	return 0, nil
}

func (f *backlogStore) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	return domain.Tenant{ID: id}, nil
}

func (f *backlogStore) ExpiredHolds(context.Context, string, time.Time, int) ([]string, error) {
	return nil, nil
}

func (f *backlogStore) ExpireHold(context.Context, string, string, time.Duration, time.Time) (domain.Message, error) {
	return domain.Message{}, errors.New("no holds here")
}

func (f *backlogStore) DueUnknown(context.Context, string, time.Time, int) ([]string, error) {
	return nil, nil
}

func (f *backlogStore) ResendUnknown(context.Context, string, string, time.Time) (domain.Message, error) {
	return domain.Message{}, errors.New("no unknowns here")
}

func (f *backlogStore) KeepUnknown(context.Context, string, string) (domain.Message, error) {
	return domain.Message{}, errors.New("no unknowns here")
}

// messages is a backlog of n lost single sends of tenant on channel
// "main", a second apart from t0.
func messages(tenant string, n int, t0 time.Time) []store.StaleMessage {
	out := make([]store.StaleMessage, n)
	for i := range out {
		out[i] = store.StaleMessage{ID: fmt.Sprintf("%s-%03d", tenant, i), Channel: "main", UpdatedAt: t0.Add(time.Duration(i) * time.Second)}
	}
	return out
}

// jobLog is a Publisher that records every job in order; from the
// failFrom-th publish on (1-based; 0 never) it fails, as Pub/Sub down.
type jobLog struct {
	mu       sync.Mutex
	calls    int
	failFrom int
	got      []queue.Job
}

func (l *jobLog) Publish(_ context.Context, j queue.Job) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.failFrom > 0 && l.calls >= l.failFrom {
		return errors.New("pubsub is down")
	}
	l.got = append(l.got, j)
	return nil
}

// counts is how often each message was published.
func (l *jobLog) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, j := range l.got {
		out[j.Message]++
	}
	return out
}

func quiet() context.Context {
	return logging.WithLogger(context.Background(), slog.New(slog.DiscardHandler))
}

// A tenant's 100,000 lost messages do not hold up another's ten: a run
// serves one page of each tenant in turn, so B's three messages go out
// within the first two pages' worth of publishes, not after A's five
// pages. And the run drains both backlogs whole, not one page of each.
func TestRepublishServesTenantsInTurns(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	st := &backlogStore{tenants: []string{"a", "b"}, stale: map[string][]store.StaleMessage{"a": messages("a", 50, t0), "b": messages("b", 3, t0)}}
	pub := &jobLog{}
	// One publish at a time: the order published is the order read.
	r, err := sweep.New(st, pub, sweep.Options{Batch: 10, Parallel: 1}).Run(quiet())
	if err != nil {
		t.Fatal(err)
	}
	if r.Republished != 53 || r.Pages != 6 || r.Backlogged != 2 || r.OverBudget {
		t.Errorf("report %+v, want 53 republished in 6 pages of 2 tenants, within budget", r)
	}
	last := -1
	for i, j := range pub.got {
		if j.Tenant == "b" {
			last = i
		}
	}
	if last < 0 || last >= 20 {
		t.Errorf("B's last message was publish %d of %d, want within the first 20 (two pages)", last+1, len(pub.got))
	}
	for id, n := range pub.counts() {
		if n != 1 {
			t.Errorf("%s published %d times", id, n)
		}
	}
	if len(pub.counts()) != 53 {
		t.Errorf("%d messages published, want 53", len(pub.counts()))
	}
}

// overlapping returns its pages as a store might while messages move
// under the cursor: each page starts again at the last message of the one
// before.
type overlapping struct{ backlogStore }

func (o *overlapping) StaleAccepted(ctx context.Context, tenant string, before time.Time, after store.StaleMessage, limit int) ([]store.StaleMessage, error) {
	list := o.stale[tenant]
	i := max(slices.IndexFunc(list, func(m store.StaleMessage) bool { return m.ID == after.ID }), 0)
	return slices.Clone(list[i:min(i+limit, len(list))]), nil
}

// lostJobsOf is a Batches whose running broadcasts lost the given jobs.
type lostJobsOf []queue.Job

func (l lostJobsOf) Sweep(_ context.Context, tenant string, _, _ time.Time, _ int) (batch.SweepReport, error) {
	var r batch.SweepReport
	for _, j := range l {
		if j.Tenant == tenant {
			r.Stale = append(r.Stale, j)
		}
	}
	return r, nil
}

// A message named twice in one run, by two pages or by a page and a
// broadcast's lost jobs, is published once.
func TestRepublishPublishesAMessageOncePerRun(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	st := &overlapping{backlogStore{tenants: []string{"a"}, stale: map[string][]store.StaleMessage{"a": messages("a", 12, t0)}}}
	pub := &jobLog{}
	twice := lostJobsOf{{Tenant: "a", Message: "a-011", Channel: "main", Bulk: true}, {Tenant: "a", Message: "a-003", Channel: "main", Bulk: true}}
	r, err := sweep.New(st, pub, sweep.Options{Batch: 4, Batches: twice}).Run(quiet())
	if err != nil {
		t.Fatal(err)
	}
	counts := pub.counts()
	for id, n := range counts {
		if n != 1 {
			t.Errorf("%s published %d times in one run", id, n)
		}
	}
	if len(counts) != 12 || r.Republished != 12 {
		t.Errorf("%d messages published, report %+v; want all 12", len(counts), r)
	}
}

// A run stops reading pages when its budget ends, and the next carries on
// where it stopped, without reading again what it republished.
func TestRepublishCarriesOnAfterTheBudget(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	st := &backlogStore{tenants: []string{"a"}, stale: map[string][]store.StaleMessage{"a": messages("a", 50, now.Add(-time.Hour))}}
	// Each page takes a minute.
	st.onPage = func() { now = now.Add(time.Minute) }
	pub := &jobLog{}
	s := sweep.New(st, pub, sweep.Options{Batch: 10, Parallel: 1, Budget: 150 * time.Second, AcceptedAfter: time.Hour, Now: func() time.Time { return now }})

	r, err := s.Run(quiet())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OverBudget || r.Republished != 30 || r.Pages != 3 {
		t.Fatalf("first run %+v, want 3 pages (30 messages) and out of budget", r)
	}
	r, err = s.Run(quiet())
	if err != nil {
		t.Fatal(err)
	}
	if r.OverBudget || r.Republished != 20 || r.Pages != 2 {
		t.Fatalf("second run %+v, want the other 20 in 2 pages, within budget", r)
	}
	if got := st.reads[3]; got.ID != "a-029" {
		t.Errorf("the second run started after %q, want after a-029, where the first stopped", got.ID)
	}
	counts := pub.counts()
	if len(counts) != 50 {
		t.Errorf("%d messages published, want 50", len(counts))
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("%s published %d times", id, n)
		}
	}
}

// Pub/Sub goes down mid-run: the run stops publishing at the first
// failure and fails, and what it could not publish is not counted as
// republished, so the next run publishes exactly those.
func TestRepublishStopsAtTheFirstFailedPublish(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	st := &backlogStore{tenants: []string{"a"}, stale: map[string][]store.StaleMessage{"a": messages("a", 30, t0)}}
	down := &jobLog{failFrom: 12}
	s := sweep.New(st, down, sweep.Options{Batch: 10, Parallel: 1})
	r, err := s.Run(quiet())
	if err == nil || r.Republished != 11 {
		t.Fatalf("run with Pub/Sub down: %+v, %v; want an error and 11 republished", r, err)
	}
	if down.calls != 12 {
		t.Errorf("%d publishes tried, want 12: none after the first failure", down.calls)
	}

	// Pub/Sub is back. The same instance remembers what it published,
	// and only that.
	down.failFrom = 0
	r, err = s.Run(quiet())
	if err != nil || r.Republished != 19 {
		t.Fatalf("run with Pub/Sub back: %+v, %v; want the other 19", r, err)
	}
	counts := down.counts()
	if len(counts) != 30 {
		t.Errorf("%d messages published over both runs, want 30", len(counts))
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("%s published %d times", id, n)
		}
	}
}

// A broadcast's lost job goes back on the bulk topic, marked bulk and
// naming the broadcast's channel; a single send's names its channel, so
// dispatch paces either without reading the message first.
func TestRepublishedJobsCarryWhatDispatchPacesBy(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	single := store.StaleMessage{ID: "s1", Channel: "main", UpdatedAt: t0}
	st := &backlogStore{tenants: []string{"a"}, stale: map[string][]store.StaleMessage{"a": {single}}}
	lost := lostJobsOf{{Tenant: "a", Message: "b1", Channel: "second", Bulk: true}}
	singles, bulk := &jobLog{}, &jobLog{}
	if _, err := sweep.New(st, singles, sweep.Options{Batches: lost, Bulk: bulk}).Run(quiet()); err != nil {
		t.Fatal(err)
	}
	if want := []queue.Job{{Tenant: "a", Message: "s1", Channel: "main"}}; !slices.Equal(singles.got, want) {
		t.Errorf("single sends' topic got %+v, want %+v", singles.got, want)
	}
	if want := []queue.Job(lost); !slices.Equal(bulk.got, want) {
		t.Errorf("bulk topic got %+v, want %+v", bulk.got, want)
	}
}
