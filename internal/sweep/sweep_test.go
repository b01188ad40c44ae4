package sweep_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/sweep"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

type downPublisher struct{}

func (downPublisher) Publish(context.Context, queue.Job) error { return errors.New("pubsub is down") }

type recorder struct {
	mu  sync.Mutex
	got []domain.Message
}

func (r *recorder) Notify(_ context.Context, m domain.Message) {
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
}

// acceptWhilePubSubIsDown sends through the real accept path with a
// publisher that fails: the client gets its 2xx, nothing reaches dispatch.
func acceptWhilePubSubIsDown(t *testing.T, e *apptest.Env, phone string) string {
	t.Helper()
	svc := accept.New(e.Catalog, e.Store, downPublisher{}, accept.Options{})
	tok, err := e.Catalog.Authenticate(context.Background(), apptest.Token)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	ans, err := svc.Send(context.Background(), tok, accept.Request{TemplateID: "welcome", Phone: phone, Params: map[string]string{"1": "Ana", "2": "x"}}, nil,
		func(r accept.Result) accept.Answer { id = r.MessageID; return accept.Answer{Code: 202} })
	if err != nil || ans.Code != 202 {
		t.Fatalf("accept: %v %+v", err, ans)
	}
	return id
}

func TestSweepRepublishesWhatPubSubLost(t *testing.T) {
	e := apptest.New(t)
	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	deliveries := e.Push(t, apptest.Topic, d.HandleEvent)
	id := acceptWhilePubSubIsDown(t, e, "5511987650200")
	time.Sleep(20 * time.Millisecond)
	if m, _ := e.Store.Message(context.Background(), e.Tenant, id); m.Status != domain.StatusAccepted {
		t.Fatalf("message %s before sweep, want accepted", m.Status)
	}

	s := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Millisecond})
	// Two sweeps at once republish it twice: dispatch still sends it once.
	var wg sync.WaitGroup
	reports := make([]sweep.Report, 2)
	for i := range reports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if reports[i], err = s.Run(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if reports[0].Republished+reports[1].Republished < 1 {
		t.Fatalf("sweep republished nothing: %+v", reports)
	}
	e.WaitStatus(t, id, domain.StatusPending)
	deadline := time.Now().Add(10 * time.Second)
	for deliveries() < reports[0].Republished+reports[1].Republished && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.Sandbox.CountByCallback(id); n != 1 {
		t.Fatalf("the provider got the message %d times, want once", n)
	}
	// Dispatched now: a later sweep leaves it alone.
	r, err := s.Run(context.Background())
	if err != nil || r.Republished != 0 {
		t.Errorf("sweep after dispatch: %+v %v", r, err)
	}
}

func TestSweepTurnsExpiredLeasesUnknownOnce(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	id := acceptWhilePubSubIsDown(t, e, "5511987650201")
	// A dispatch that claimed it and died: its lease ran out a minute ago.
	if _, err := e.Store.Claim(ctx, e.Tenant, id, time.Now().Add(-2*time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	n := &recorder{}
	s := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Hour, Notifier: n})
	var wg sync.WaitGroup
	var mu sync.Mutex
	unknown := 0
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Run(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			unknown += r.Unknown
			mu.Unlock()
		}()
	}
	wg.Wait()
	m, err := e.Store.Message(ctx, e.Tenant, id)
	if err != nil || m.Status != domain.StatusUnknown || m.Error == nil {
		t.Fatalf("message %s error %+v (%v), want unknown with a reason", m.Status, m.Error, err)
	}
	if unknown != 1 || len(n.got) != 1 || n.got[0].Status != domain.StatusUnknown {
		t.Errorf("two sweeps marked %d messages unknown and sent %d callbacks, want 1 and 1", unknown, len(n.got))
	}
	// Never resent: a redelivery of its job does not reach the provider.
	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	if err := d.Dispatch(ctx, queue.Job{Tenant: e.Tenant, Message: id}); err != nil {
		t.Fatal(err)
	}
	if c := e.Sandbox.CountByCallback(id); c != 0 {
		t.Errorf("an unknown message was resent %d times", c)
	}
}

func TestSweepLeavesLiveLeasesAlone(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	id := acceptWhilePubSubIsDown(t, e, "5511987650202")
	if _, err := e.Store.Claim(ctx, e.Tenant, id, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if r, err := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Millisecond}).Run(ctx); err != nil || r.Unknown != 0 || r.Republished != 0 {
		t.Fatalf("sweep touched a live attempt: %+v %v", r, err)
	}
}

func TestSweepClosesExpiredConversationsOfEveryTenant(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := demo.Seed(ctx, e.Store, "second", "second-token"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tenant := range []string{e.Tenant, "second"} {
		for phone, exp := range map[string]time.Time{"5511987650210": now.Add(-time.Minute), "5511987650211": now.Add(time.Hour)} {
			c := domain.Conversation{ID: "c-" + phone, Channel: demo.ChannelID, Phone: phone, ExpiresAt: exp}
			if err := e.Store.PutConversation(ctx, tenant, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := sweep.New(e.Store, e.Publisher, sweep.Options{}).Run(ctx)
	if err != nil || r.Conversations != 2 || r.Tenants != 2 {
		t.Fatalf("report %+v %v, want 2 conversations closed over 2 tenants", r, err)
	}
	for _, tenant := range []string{e.Tenant, "second"} {
		if c, _ := e.Store.Conversation(ctx, tenant, demo.ChannelID, "5511987650210"); c.ID != "" {
			t.Errorf("%s: expired conversation still there", tenant)
		}
		if c, _ := e.Store.Conversation(ctx, tenant, demo.ChannelID, "5511987650211"); c.ID == "" {
			t.Errorf("%s: open conversation closed", tenant)
		}
	}
}

type downFanout struct{}

func (downFanout) PublishJSON(context.Context, any, map[string]string) error {
	return errors.New("pubsub is down")
}

func TestSweepResumesABulkSendWhoseFanoutWasLost(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	tok, err := e.Catalog.Authenticate(ctx, apptest.Token)
	if err != nil {
		t.Fatal(err)
	}
	// Accepted while Pub/Sub was down: the batch is stored, no chunk fans out.
	rs := []batch.Recipient{{Phone: "5511987650220", Raw: "11987650220", Params: map[string]string{"1": "Ana"}}}
	next := func() (batch.Recipient, bool, error) {
		if len(rs) == 0 {
			return batch.Recipient{}, false, nil
		}
		r := rs[0]
		rs = rs[1:]
		return r, true, nil
	}
	b, err := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, downFanout{}, batch.Options{}).Create(ctx, tok, batch.Spec{Source: "emkt", TemplateName: "alerta1"}, next)
	if err != nil {
		t.Fatal(err)
	}

	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	e.Push(t, apptest.Topic, d.HandleEvent)
	e.Push(t, "fanout", batch.NewWorker(e.Store, e.Publisher, nil).HandleEvent)
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, e.TopicPublisher(t, "fanout"), batch.Options{})
	time.Sleep(10 * time.Millisecond) // older than AcceptedAfter
	r, err := sweep.New(e.Store, e.Publisher, sweep.Options{AcceptedAfter: time.Millisecond, Batches: svc}).Run(ctx)
	if err != nil || r.Chunks != 1 {
		t.Fatalf("sweep %+v %v, want the lost chunk republished", r, err)
	}
	e.WaitStatus(t, batch.MessageID(b.ID, 0), domain.StatusPending)
	if n := e.Sandbox.CountByCallback(batch.MessageID(b.ID, 0)); n != 1 {
		t.Errorf("sent %d times, want once", n)
	}
}

// stuckPublisher is Pub/Sub unreachable the way its client meets it: a
// publish waits, retrying, until its context ends.
type stuckPublisher struct{}

func (stuckPublisher) Publish(ctx context.Context, _ queue.Job) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestSweepPublishIsBounded: with Pub/Sub unreachable a run gives up on
// republishing within its PublishTimeout and still expires leases, rather
// than hanging until Pub/Sub answers again.
func TestSweepPublishIsBounded(t *testing.T) {
	e := apptest.New(t)
	id := acceptWhilePubSubIsDown(t, e, "5511987650210")
	leased := acceptWhilePubSubIsDown(t, e, "5511987650211")
	if _, err := e.Store.Claim(context.Background(), e.Tenant, leased, time.Now().Add(-time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	s := sweep.New(e.Store, stuckPublisher{}, sweep.Options{AcceptedAfter: time.Millisecond, PublishTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := s.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the run waited for Pub/Sub")
	}
	if err == nil || r.Republished != 0 || r.Unknown != 1 {
		t.Fatalf("report %+v, error %v: want a publish error, nothing republished, the expired lease unknown", r, err)
	}
	if m, _ := e.Store.Message(context.Background(), e.Tenant, id); m.Status != domain.StatusAccepted {
		t.Fatalf("message %s, want still accepted for the next run", m.Status)
	}
}

// countingPublisher takes every publish and delivers none, as when
// dispatch's subscription lags behind.
type countingPublisher struct {
	mu  sync.Mutex
	got map[string]int
}

func (c *countingPublisher) Publish(_ context.Context, j queue.Job) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[j.Message]++
	return nil
}

func (c *countingPublisher) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[id]
}

// TestSweepRepublishesOncePerWindow: runs that come back to back (ticks
// queued while Pub/Sub was away) republish a message still waiting for
// its delivery once, not once each; it is due again after AcceptedAfter.
func TestSweepRepublishesOncePerWindow(t *testing.T) {
	e := apptest.New(t)
	id := acceptWhilePubSubIsDown(t, e, "5511987650220")
	const window = 300 * time.Millisecond
	time.Sleep(window)
	pub := &countingPublisher{got: map[string]int{}}
	s := sweep.New(e.Store, pub, sweep.Options{AcceptedAfter: window})
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Run(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := pub.count(id); n != 1 {
		t.Fatalf("five runs at once republished it %d times, want once", n)
	}
	time.Sleep(window)
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := pub.count(id); n != 2 {
		t.Fatalf("republished %d times after the window, want twice", n)
	}
}
