package batch_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// clock is a test's time, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// fourOfTwo creates a batch of four recipients in two chunks.
func fourOfTwo(t *testing.T, e *apptest.Env, svc *batch.Service, sendAt time.Time) batch.Batch {
	t.Helper()
	sp := spec("")
	sp.SendAt = sendAt
	var rs []batch.Recipient
	for i := range 4 {
		rs = append(rs, national(fmt.Sprintf("119876524%02d", i), "Ana"))
	}
	b, err := svc.Create(context.Background(), token(t, e), sp, recipients(rs...))
	if err != nil || b.Accepted != 4 {
		t.Fatalf("create: %+v %v", b, err)
	}
	return b
}

func progress(t *testing.T, svc *batch.Service, e *apptest.Env, code string) batch.Progress {
	t.Helper()
	p, err := svc.Progress(context.Background(), e.Tenant, code)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fanoutAll(t *testing.T, w *batch.Worker, events []batch.Fanout) {
	t.Helper()
	for _, ev := range events {
		if err := w.Fanout(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScheduledBatchStartsWhenItsTimeComes(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	clk := newClock()
	fan := &fanouts{}
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 2, Now: clk.Now})
	sendAt := clk.Now().Add(time.Hour)
	b := fourOfTwo(t, e, svc, sendAt)
	if got := fan.take(); len(got) != 0 {
		t.Fatalf("a scheduled batch published %d fan-out events at acceptance", len(got))
	}
	p := progress(t, svc, e, b.Code)
	if p.State != domain.BatchScheduled || !p.SendAt.Equal(sendAt) || !p.StartedAt.IsZero() || p.Counts.Accepted != 4 {
		t.Fatalf("progress of a scheduled batch: %+v %+v", p, p.Counts)
	}

	// A fan-out event that arrives anyway makes nothing yet.
	j := &jobs{}
	w := batch.NewWorker(e.Store, j, clk.Now)
	fanoutAll(t, w, []batch.Fanout{{Tenant: e.Tenant, Batch: b.ID, Chunk: 0}})
	if n := messages(t, e); n != 0 {
		t.Fatalf("a scheduled batch's chunk made %d messages", n)
	}

	if r, err := svc.Sweep(ctx, e.Tenant, sendAt.Add(-time.Second), sendAt, 10); err != nil || r.Started != 0 || r.Chunks != 0 {
		t.Fatalf("sweep before its time: %+v %v", r, err)
	}
	r, err := svc.Sweep(ctx, e.Tenant, sendAt, sendAt, 10)
	if err != nil || r.Started != 1 || r.Chunks != 2 {
		t.Fatalf("sweep at its time: %+v %v, want it started with its 2 chunks", r, err)
	}
	fanoutAll(t, w, fan.take())
	if n := messages(t, e); n != 4 || j.total() != 4 {
		t.Fatalf("once started: %d messages, %d jobs; want 4 and 4", n, j.total())
	}
	p = progress(t, svc, e, b.Code)
	if p.State != domain.BatchRunning || !p.StartedAt.Equal(sendAt) {
		t.Fatalf("progress once started: %+v", p)
	}
	if r, err := svc.Sweep(ctx, e.Tenant, sendAt.Add(time.Minute), sendAt, 10); err != nil || r.Started != 0 {
		t.Fatalf("a started batch started again: %+v %v", r, err)
	}
}

func TestPauseHoldsBackAndResumeSends(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	clk := newClock()
	fan := &fanouts{}
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 2, Now: clk.Now})
	b := fourOfTwo(t, e, svc, time.Time{})
	events := fan.take()
	j := &jobs{}
	w := batch.NewWorker(e.Store, j, clk.Now)
	fanoutAll(t, w, events[:1])
	if j.total() != 2 {
		t.Fatalf("chunk 0 published %d jobs, want 2", j.total())
	}

	if p, err := svc.Pause(ctx, e.Tenant, b.Code); err != nil || p.State != domain.BatchPaused {
		t.Fatalf("pause: %+v %v", p, err)
	}
	// Chunk 1 arrives while paused: no message is made.
	fanoutAll(t, w, events[1:])
	if n := messages(t, e); n != 2 || j.total() != 2 {
		t.Fatalf("while paused: %d messages, %d jobs; want 2 and 2", n, j.total())
	}
	// A job of chunk 0 reaches dispatch: its claim is undone.
	id := batch.MessageID(b.ID, 0)
	claimed, err := e.Store.Claim(ctx, e.Tenant, id, clk.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	held, err := batch.NewGate(e.Store, time.Minute, clk.Now).Hold(ctx, claimed)
	if err != nil || !held {
		t.Fatalf("gate of a paused batch: held %v, %v", held, err)
	}
	m, err := e.Store.Message(ctx, e.Tenant, id)
	if err != nil || m.Status != domain.StatusAccepted || m.Attempts != 0 || len(m.History) != 1 || !m.LeaseUntil.IsZero() {
		t.Fatalf("held message: %+v %v, want accepted as if never claimed", m, err)
	}
	// Sweep leaves a paused batch alone, whatever the age of its messages.
	if r, err := svc.Sweep(ctx, e.Tenant, clk.Now(), clk.Now().Add(time.Hour), 10); err != nil || r.Chunks != 0 || len(r.Stale) != 0 {
		t.Fatalf("sweep of a paused batch: %+v %v", r, err)
	}
	p := progress(t, svc, e, b.Code)
	if p.State != domain.BatchPaused || p.Counts.Accepted != 4 || p.ETA != (time.Time{}) {
		t.Fatalf("progress while paused: %+v %+v", p, p.Counts)
	}

	clk.Add(time.Minute)
	p, err = svc.Resume(ctx, e.Tenant, b.Code)
	if err != nil || p.State != domain.BatchRunning {
		t.Fatalf("resume: %+v %v", p, err)
	}
	events = fan.take()
	if len(events) != 2 {
		t.Fatalf("resume handed back %d chunks, want both", len(events))
	}
	before := j.total()
	fanoutAll(t, w, events)
	if n, got := messages(t, e), j.total()-before; n != 4 || got != 4 {
		t.Fatalf("after resume: %d messages, %d new jobs; want 4 and 4 (every message still accepted)", n, got)
	}
	claimed, err = e.Store.Claim(ctx, e.Tenant, id, clk.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := batch.NewGate(e.Store, time.Minute, clk.Now).Hold(ctx, claimed); err != nil || held {
		t.Fatalf("gate of a resumed batch: held %v, %v", held, err)
	}
	rec, err := e.Store.Batch(ctx, e.Tenant, b.ID)
	if err != nil || rec.PausedSeconds != 60 || !rec.PausedAt.IsZero() {
		t.Fatalf("after resume: paused %vs, pausedAt %v (%v); want 60s and none", rec.PausedSeconds, rec.PausedAt, err)
	}
	// Resuming a running batch changes nothing and hands nothing back.
	if _, err := svc.Resume(ctx, e.Tenant, b.Code); err != nil || len(fan.take()) != 0 {
		t.Fatalf("second resume: %v", err)
	}
}

func TestCancelCancelsWhatIsNotSent(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Store.PutTenant(ctx, domain.Tenant{ID: e.Tenant, Name: "Demo", CountryCode: demo.CountryCode, ConversationLimit: 100}); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	fan := &fanouts{}
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 2, Now: clk.Now})
	b := fourOfTwo(t, e, svc, time.Time{})
	events := fan.take()
	w := batch.NewWorker(e.Store, &jobs{}, clk.Now)
	fanoutAll(t, w, events[:1])
	month := domain.MonthKey(time.Now())
	if n, err := e.Store.ConversationsOpened(ctx, e.Tenant, month); err != nil || n != 2 {
		t.Fatalf("chunk 0 reserved %d conversations (%v), want 2", n, err)
	}
	// Recipient 0 reached Meta; recipient 1's job is being claimed.
	sent := domain.Update{ProviderMessageID: "wamid.0", Status: domain.StatusSent, At: clk.Now()}
	if _, _, err := e.Store.ApplyUpdate(ctx, e.Tenant, batch.MessageID(b.ID, 0), sent); err != nil {
		t.Fatal(err)
	}
	claimed, err := e.Store.Claim(ctx, e.Tenant, batch.MessageID(b.ID, 1), clk.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	p, err := svc.Cancel(ctx, e.Tenant, b.Code)
	if err != nil || p.State != domain.BatchCancelled || p.FinishedAt.IsZero() {
		t.Fatalf("cancel: %+v %v", p, err)
	}
	if held, err := batch.NewGate(e.Store, time.Minute, clk.Now).Hold(ctx, claimed); err != nil || !held {
		t.Fatalf("gate of a cancelled batch: held %v, %v", held, err)
	}
	fanoutAll(t, w, fan.take())
	p = progress(t, svc, e, b.Code)
	want := batch.Counts{Sent: 1, Cancelled: 3}
	if p.State != domain.BatchCancelled || !reflect.DeepEqual(*p.Counts, want) || messages(t, e) != 2 {
		t.Fatalf("after cancel: %s %+v with %d messages, want cancelled %+v with 2", p.State, *p.Counts, messages(t, e), want)
	}
	var statuses []domain.Status
	if err := svc.Items(ctx, e.Tenant, b.Code, func(it batch.Item) error { statuses = append(statuses, it.Status); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []domain.Status{domain.StatusSent, domain.StatusCancelled, domain.StatusCancelled, domain.StatusCancelled}; !reflect.DeepEqual(statuses, want) {
		t.Errorf("items %v, want %v", statuses, want)
	}
	// The cancelled message gave back the conversation it reserved.
	if n, err := e.Store.ConversationsOpened(ctx, e.Tenant, month); err != nil || n != 1 {
		t.Errorf("after cancel %d conversations are counted (%v), want the sent one's", n, err)
	}

	if _, err := svc.Cancel(ctx, e.Tenant, b.Code); err != nil || len(fan.take()) != 0 {
		t.Errorf("second cancel: %v, want nothing done again", err)
	}
	for name, do := range map[string]func(context.Context, string, string) (batch.Progress, error){"pause": svc.Pause, "resume": svc.Resume} {
		if _, err := do(ctx, e.Tenant, b.Code); domain.KindOf(err) != domain.KindConflict {
			t.Errorf("%s of a cancelled batch: %v, want KindConflict", name, err)
		}
	}
	if r, err := svc.Sweep(ctx, e.Tenant, clk.Now(), clk.Now().Add(time.Second), 10); err != nil || r.Closed != 1 {
		t.Fatalf("sweep of a cancelled batch with nothing left: %+v %v, want it closed", r, err)
	}
	if _, err := svc.Pause(ctx, e.Tenant, "nope"); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("pause of an unknown code: %v, want KindNotFound", err)
	}
}

// midway is the store as a fan-out worker sees it when the batch's state
// changes while the worker makes a chunk's messages: its second read of
// the batch comes after change.
type midway struct {
	*store.Store
	change func()
	once   sync.Once
}

func (m *midway) Batch(ctx context.Context, tenant, id string) (store.BatchRecord, error) {
	m.once.Do(m.change)
	return m.Store.Batch(ctx, tenant, id)
}

func TestPauseOrCancelWhileAChunkIsMade(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(*batch.Service, context.Context, string, string) (batch.Progress, error)
		want domain.Status
	}{
		{"pause", (*batch.Service).Pause, domain.StatusAccepted},
		{"cancel", (*batch.Service).Cancel, domain.StatusCancelled},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := apptest.New(t)
			ctx := context.Background()
			fan := &fanouts{}
			svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 2})
			b := fourOfTwo(t, e, svc, time.Time{})
			events := fan.take()
			j := &jobs{}
			st := &midway{Store: e.Store, change: func() {
				if _, err := c.do(svc, ctx, e.Tenant, b.Code); err != nil {
					t.Error(err)
				}
			}}
			if err := batch.NewWorker(st, j, nil).Fanout(ctx, events[0]); err != nil {
				t.Fatal(err)
			}
			if j.total() != 0 {
				t.Errorf("%d jobs published after the %s, want none", j.total(), c.name)
			}
			for i := range 2 {
				m, err := e.Store.Message(ctx, e.Tenant, batch.MessageID(b.ID, i))
				if err != nil || m.Status != c.want {
					t.Errorf("message %d: %s %v, want %s", i, m.Status, err, c.want)
				}
			}
		})
	}
}

func TestProgressRateAndETA(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	clk := newClock()
	fan := &fanouts{}
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 2, Now: clk.Now})
	b := fourOfTwo(t, e, svc, time.Time{})
	fanoutAll(t, batch.NewWorker(e.Store, &jobs{}, clk.Now), fan.take())
	for i := range 2 {
		u := domain.Update{ProviderMessageID: fmt.Sprintf("wamid.%d", i), Status: domain.StatusDelivered, At: clk.Now()}
		if _, _, err := e.Store.ApplyUpdate(ctx, e.Tenant, batch.MessageID(b.ID, i), u); err != nil {
			t.Fatal(err)
		}
	}
	now := clk.Add(10 * time.Second)
	p := progress(t, svc, e, b.Code)
	if p.Rate != 0.2 || !p.ETA.Equal(now.Add(10*time.Second).Truncate(time.Second)) || p.Counts.Delivered != 2 || p.Counts.Accepted != 2 {
		t.Fatalf("2 of 4 in 10 s: rate %v, ETA %v (now %v), counts %+v; want 0.2/s and 10 s more", p.Rate, p.ETA, now, *p.Counts)
	}
	// Paused time does not count against the rate, and a paused batch has
	// no ETA.
	if _, err := svc.Pause(ctx, e.Tenant, b.Code); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if p = progress(t, svc, e, b.Code); p.Rate != 0.2 || !p.ETA.IsZero() {
		t.Fatalf("paused: rate %v, ETA %v; want 0.2 and none", p.Rate, p.ETA)
	}
}

func TestGateTrustsRunningForItsTTL(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	clk := newClock()
	fan := &fanouts{}
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 2, Now: clk.Now})
	b := fourOfTwo(t, e, svc, time.Time{})
	fanoutAll(t, batch.NewWorker(e.Store, &jobs{}, clk.Now), fan.take())
	gate := batch.NewGate(e.Store, time.Second, clk.Now)
	hold := func(i int) bool {
		t.Helper()
		m, err := e.Store.Claim(ctx, e.Tenant, batch.MessageID(b.ID, i), clk.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		held, err := gate.Hold(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}
	if hold(0) {
		t.Fatal("a running batch's message was held")
	}
	if _, err := svc.Pause(ctx, e.Tenant, b.Code); err != nil {
		t.Fatal(err)
	}
	if hold(1) {
		t.Fatal("within its TTL the gate read the batch again")
	}
	clk.Add(time.Second)
	if !hold(2) {
		t.Fatal("past its TTL the gate still let a paused batch's message through")
	}
	if held, err := gate.Hold(ctx, domain.Message{ID: "x", Tenant: e.Tenant}); err != nil || held {
		t.Errorf("a single send was held: %v %v", held, err)
	}
	if held, err := gate.Hold(ctx, domain.Message{ID: "x", Tenant: e.Tenant, Batch: "gone"}); err != nil || held {
		t.Errorf("a message of an expired batch was held: %v %v", held, err)
	}
}
