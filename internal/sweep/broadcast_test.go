package sweep_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/sweep"
)

// oneRecipient is a batch.Next of one emkt-style recipient.
func oneRecipient(phone string) batch.Next {
	done := false
	return func() (batch.Recipient, bool, error) {
		if done {
			return batch.Recipient{}, false, nil
		}
		done = true
		return batch.Recipient{Phone: phone, Raw: phone, Params: map[string]string{"1": "Ana"}}, true, nil
	}
}

func TestSweepStartsAScheduledBulkSend(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	tok, err := e.Catalog.Authenticate(ctx, apptest.Token)
	if err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3, Batches: batch.NewGate(e.Store, 0, nil)})
	e.Push(t, apptest.Topic, d.HandleEvent)
	e.Push(t, "fanout", batch.NewWorker(e.Store, e.Publisher, nil).HandleEvent)
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, e.TopicPublisher(t, "fanout"), batch.Options{})
	sendAt := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	b, err := svc.Create(ctx, tok, batch.Spec{Source: "emkt", TemplateName: "alerta1", SendAt: sendAt}, oneRecipient("5511987650230"))
	if err != nil {
		t.Fatal(err)
	}

	at := sendAt.Add(-time.Minute)
	s := sweep.New(e.Store, e.Publisher, sweep.Options{Batches: svc, Now: func() time.Time { return at }})
	if r, err := s.Run(ctx); err != nil || r.Started != 0 {
		t.Fatalf("sweep a minute early: %+v %v", r, err)
	}
	at = sendAt
	if r, err := s.Run(ctx); err != nil || r.Started != 1 || r.Chunks != 1 {
		t.Fatalf("sweep at the time: %+v %v, want the batch started with its chunk", r, err)
	}
	id := batch.MessageID(b.ID, 0)
	e.WaitStatus(t, id, domain.StatusPending)
	if n := e.Sandbox.CountByCallback(id); n != 1 {
		t.Errorf("sent %d times, want once", n)
	}
}

// lostJobs is a dispatch topic that loses every job it is given.
type lostJobs struct {
	mu  sync.Mutex
	ids []string
}

func (l *lostJobs) Publish(_ context.Context, j queue.Job) error {
	l.mu.Lock()
	l.ids = append(l.ids, j.Message)
	l.mu.Unlock()
	return nil
}

// A paused broadcast's messages stay accepted, untouched, for as long as
// the pause lasts: sweep must not republish them (dispatch would only put
// them back), and they must not fill the single sends' share of a run.
func TestSweepLeavesAPausedBulkSendAlone(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	tok, err := e.Catalog.Authenticate(ctx, apptest.Token)
	if err != nil {
		t.Fatal(err)
	}
	fan := e.TopicPublisher(t, "fanout")
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fan, batch.Options{})
	b, err := svc.Create(ctx, tok, batch.Spec{Source: "emkt", TemplateName: "alerta1"}, oneRecipient("5511987650231"))
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.NewWorker(e.Store, &lostJobs{}, nil).Fanout(ctx, batch.Fanout{Tenant: e.Tenant, Batch: b.ID, Chunk: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Pause(ctx, e.Tenant, b.Code); err != nil {
		t.Fatal(err)
	}
	single := acceptWhilePubSubIsDown(t, e, "5511987650232")

	pub := &lostJobs{}
	later := time.Now().Add(time.Hour)
	r, err := sweep.New(e.Store, pub, sweep.Options{Batches: svc, Batch: 1, Now: func() time.Time { return later }}).Run(ctx)
	if err != nil || r.Republished != 1 || len(pub.ids) != 1 || pub.ids[0] != single {
		t.Fatalf("sweep %+v %v republished %v, want only the single send %s", r, err, pub.ids, single)
	}
	if m, err := e.Store.Message(ctx, e.Tenant, batch.MessageID(b.ID, 0)); err != nil || m.Status != domain.StatusAccepted {
		t.Fatalf("the paused batch's message: %+v %v", m, err)
	}
}
