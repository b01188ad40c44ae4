package batch_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/templategw/templategw/internal/accept"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// fanouts records fan-out events, or fails them while down.
type fanouts struct {
	mu   sync.Mutex
	got  []batch.Fanout
	down atomic.Bool
}

func (f *fanouts) PublishJSON(_ context.Context, v any, _ map[string]string) error {
	if f.down.Load() {
		return errors.New("pubsub is down")
	}
	f.mu.Lock()
	f.got = append(f.got, v.(batch.Fanout))
	f.mu.Unlock()
	return nil
}

// take returns the events recorded so far, by chunk: they are published
// concurrently.
func (f *fanouts) take() []batch.Fanout {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	slices.SortFunc(out, func(a, b batch.Fanout) int { return cmp.Compare(a.Chunk, b.Chunk) })
	return out
}

// jobs records dispatch jobs, or fails them while down.
type jobs struct {
	mu  sync.Mutex
	got map[string]int
	// carried are the jobs that carry their message, for a claim
	// without a read.
	carried []queue.Job
	down    atomic.Bool
}

func (j *jobs) Publish(_ context.Context, job queue.Job) error {
	if j.down.Load() {
		return errors.New("pubsub is down")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.got == nil {
		j.got = map[string]int{}
	}
	j.got[job.Message]++
	if _, ok := job.Carried(); ok {
		j.carried = append(j.carried, job)
	}
	return nil
}

func (j *jobs) total() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, c := range j.got {
		n += c
	}
	return n
}

// recipients is a batch.Next over a list.
func recipients(rs ...batch.Recipient) batch.Next {
	return func() (batch.Recipient, bool, error) {
		if len(rs) == 0 {
			return batch.Recipient{}, false, nil
		}
		r := rs[0]
		rs = rs[1:]
		return r, true, nil
	}
}

func national(raw string, params ...string) batch.Recipient {
	r := batch.Recipient{Raw: raw, Params: map[string]string{}}
	for i, p := range params {
		r.Params[fmt.Sprint(i+1)] = p
	}
	return r
}

func spec(code string) batch.Spec {
	return batch.Spec{Source: "test", Code: code, TemplateName: "alerta1", Channel: demo.SenderCode, National: true, Positional: true}
}

func token(t *testing.T, e *apptest.Env) domain.Token {
	t.Helper()
	tok, err := e.Catalog.Authenticate(context.Background(), apptest.Token)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func messages(t *testing.T, e *apptest.Env) int {
	t.Helper()
	docs, err := e.Firestore.Collection("tenants").Doc(e.Tenant).Collection("messages").Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

func TestRedeliveredChunkCreatesNothingTwice(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Store.PutTenant(ctx, domain.Tenant{ID: e.Tenant, Name: "Demo", CountryCode: demo.CountryCode, CallbackURL: "https://crm.example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	fan := &fanouts{}
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 3})
	b, err := svc.Create(ctx, token(t, e), spec("LOTE1"), recipients(
		national("11987652001", "Ana"), national("11987652002", "Bia"), national("bad", "Cy"),
		national("11987652004", "Di"), national("11987652005", "Ed"), national("11987652006", "Fê"),
		national("11987652007", "Gil"),
	))
	if err != nil || b.Code != "LOTE1" || b.Accepted != 6 || b.Failed != 1 || b.Replayed {
		t.Fatalf("create: %+v %v", b, err)
	}
	events := fan.take()
	if len(events) != 3 {
		t.Fatalf("%d fan-out events, want one per chunk (3)", len(events))
	}

	j := &jobs{}
	w := batch.NewWorker(e.Store, j, nil)
	// Two deliveries of chunk 0 at once.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := w.Fanout(ctx, events[0]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := messages(t, e); n != 2 {
		t.Fatalf("two deliveries of chunk 0 made %d messages, want its 2 sendable recipients", n)
	}

	// Chunk 1's jobs cannot be published: its messages exist, it is not
	// done, and the redelivery republishes them without creating any.
	j.down.Store(true)
	if err := w.Fanout(ctx, events[1]); err == nil {
		t.Fatal("a fan-out whose jobs were lost succeeded")
	}
	j.down.Store(false)
	before := j.total()
	if err := w.Fanout(ctx, events[1]); err != nil {
		t.Fatal(err)
	}
	if n, got := messages(t, e), j.total()-before; n != 5 || got != 3 {
		t.Fatalf("redelivery: %d messages and %d jobs, want 5 and 3", n, got)
	}
	// A job carries its message only from the delivery that created it:
	// one of chunk 0's two, none of chunk 1's redelivery.
	if len(j.carried) != 2 {
		t.Fatalf("%d jobs carry their message, want chunk 0's 2", len(j.carried))
	}
	// Recipient 1's: the checks below want 0, 3 and 6 still accepted.
	i := slices.IndexFunc(j.carried, func(job queue.Job) bool { return job.Message == batch.MessageID(b.ID, 1) })
	if i < 0 {
		t.Fatalf("recipient 1's job does not carry its message: %+v", j.carried)
	}
	carried, _ := j.carried[i].Carried()
	if m, err := e.Store.ClaimAccepted(ctx, carried, time.Now(), time.Minute); err != nil || m.Status != domain.StatusDispatching || m.Attempts != 1 {
		t.Fatalf("claim of a carried bulk message = %+v, %v", m, err)
	}
	// Done chunks are skipped.
	before = j.total()
	for _, ev := range events {
		if err := w.Fanout(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if n, got := messages(t, e), j.total()-before; n != 6 || got != 1 {
		t.Fatalf("after every chunk: %d messages and %d new jobs, want 6 and 1 (chunk 2's)", n, got)
	}

	for i, phone := range map[int]string{0: "5511987652001", 3: "5511987652004", 6: "5511987652007"} {
		m, err := e.Store.Message(ctx, e.Tenant, batch.MessageID(b.ID, i))
		if err != nil {
			t.Fatalf("message of recipient %d: %v", i, err)
		}
		if m.PhoneNumber != phone || m.ClientRef != "LOTE1" || m.CallbackURL != "https://crm.example.com/hook" || m.Status != domain.StatusAccepted || m.Channel != demo.ChannelID {
			t.Errorf("message of recipient %d: %+v", i, m)
		}
	}
	if _, err := e.Store.Message(ctx, e.Tenant, batch.MessageID(b.ID, 2)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused recipient has a message: %v", err)
	}
}

func TestItemsInOrderBeforeAndAfterFanout(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, &fanouts{}, batch.Options{ChunkSize: 2})
	var rs []batch.Recipient
	for i := range 9 {
		rs = append(rs, national(fmt.Sprintf("119876521%02d", i+10), "Ana"))
	}
	rs[4] = national("11987652114") // no parameter
	rs[7] = batch.Recipient{Raw: "x", Problem: "the dialect refused it"}
	b, err := svc.Create(ctx, token(t, e), spec(""), recipients(rs...))
	if err != nil {
		t.Fatal(err)
	}
	collect := func() []batch.Item {
		var out []batch.Item
		if err := svc.Items(ctx, e.Tenant, b.Code, func(it batch.Item) error { out = append(out, it); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	items := collect()
	if len(items) != 9 {
		t.Fatalf("%d items, want 9", len(items))
	}
	for i, it := range items {
		want := domain.StatusAccepted
		if i == 4 || i == 7 {
			want = domain.StatusFailed
		}
		if it.Raw != rs[i].Raw || it.Status != want || (want == domain.StatusFailed) != (it.Reason != "") {
			t.Errorf("item %d = %+v, want raw %s %s", i, it, rs[i].Raw, want)
		}
	}
	if items[7].Reason != "the dialect refused it" {
		t.Errorf("a dialect's problem is reported as %q", items[7].Reason)
	}

	w := batch.NewWorker(e.Store, &jobs{}, nil)
	for n := range 5 {
		if err := w.Fanout(ctx, batch.Fanout{Tenant: e.Tenant, Batch: b.ID, Chunk: n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Store.Claim(ctx, e.Tenant, batch.MessageID(b.ID, 0), time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	items = collect()
	if items[0].Status != domain.StatusDispatching || items[1].Status != domain.StatusAccepted || items[0].Phone != "5511987652110" {
		t.Errorf("after fan-out: %+v", items[:2])
	}

	err = svc.Items(ctx, e.Tenant, "nope", func(batch.Item) error { return nil })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown code: %v, want ErrNotFound", err)
	}
	stop := errors.New("stop")
	if err := svc.Items(ctx, e.Tenant, b.Code, func(batch.Item) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("yield's error: %v", err)
	}
}

func TestSweepRepublishesLostFanoutThenCloses(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	fan := &fanouts{}
	fan.down.Store(true)
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{ChunkSize: 2})
	b, err := svc.Create(ctx, token(t, e), spec(""), recipients(
		national("11987652201", "Ana"), national("11987652202", "Bia"), national("11987652203", "Cy")))
	if err != nil {
		t.Fatalf("a batch whose fan-out was lost must still be accepted: %v", err)
	}
	sweepAt := func(before time.Time) (batch.SweepReport, error) {
		return svc.Sweep(ctx, e.Tenant, time.Now(), before, 10)
	}
	if r, err := sweepAt(time.Now().Add(-time.Minute)); err != nil || r.Chunks != 0 {
		t.Fatalf("sweep before the batch's time: %+v %v", r, err)
	}
	if _, err := sweepAt(time.Now().Add(time.Second)); err == nil {
		t.Fatal("sweep while Pub/Sub is down succeeded")
	}
	fan.down.Store(false)
	if r, err := sweepAt(time.Now().Add(time.Second)); err != nil || r.Chunks != 2 {
		t.Fatalf("sweep republished %+v (%v), want both chunks", r, err)
	}
	w := batch.NewWorker(e.Store, &jobs{}, nil)
	for _, ev := range fan.take() {
		if err := w.Fanout(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if n := messages(t, e); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
	// Every chunk is done, but the messages still wait for dispatch, whose
	// jobs count as lost once older than before: sweep hands them back and
	// keeps the batch open.
	r, err := sweepAt(time.Now().Add(time.Second))
	if err != nil || r.Chunks != 0 || len(r.Stale) != 3 || r.Closed != 0 {
		t.Fatalf("sweep after the fan-out: %+v %v, want the 3 accepted messages as stale", r, err)
	}
	for i := range 3 {
		u := domain.Update{ProviderMessageID: fmt.Sprintf("wamid.%d", i), Status: domain.StatusSent, At: time.Now()}
		if _, _, err := e.Store.ApplyUpdate(ctx, e.Tenant, batch.MessageID(b.ID, i), u); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := sweepAt(time.Now().Add(time.Second)); err != nil || r.Closed != 1 || len(r.Stale) != 0 {
		t.Fatalf("sweep once every message was sent: %+v %v, want the batch closed", r, err)
	}
	if r, err := e.Store.Batch(ctx, e.Tenant, b.ID); err != nil || r.Open || r.FinishedAt.IsZero() {
		t.Fatalf("batch still open after everything was sent: %+v %v", r, err)
	}
	p, err := svc.Progress(ctx, e.Tenant, b.Code)
	if err != nil || p.State != domain.BatchDone || p.Counts.Sent != 3 {
		t.Fatalf("progress %+v %v, want done with 3 sent", p, err)
	}
}

func TestCreateRefusals(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, &fanouts{}, batch.Options{})
	tok := token(t, e)
	ana := national("11987652301", "Ana")
	for _, c := range []struct {
		name  string
		spec  batch.Spec
		next  batch.Next
		kind  domain.Kind
		field string
	}{
		{"bad code", spec("a/b"), recipients(ana), domain.KindInvalid, "code"},
		{"no template", batch.Spec{Channel: demo.SenderCode}, recipients(ana), domain.KindTemplate, "template"},
		{"unknown channel", batch.Spec{TemplateName: "alerta1", Channel: "nope"}, recipients(ana), domain.KindInvalid, "channel"},
		{"no recipients", spec(""), recipients(), domain.KindInvalid, "recipients"},
		{"next fails", spec(""), func() (batch.Recipient, bool, error) {
			return batch.Recipient{}, false, domain.Errorf(domain.KindNoData, "bad body")
		}, domain.KindNoData, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.Create(ctx, tok, c.spec, c.next)
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != c.kind || (c.field != "" && (len(de.Fields) != 1 || de.Fields[0] != c.field)) {
				t.Fatalf("err %#v, want kind %d field %q", err, c.kind, c.field)
			}
		})
	}
}
