// Package sweep is the sweep function, fired by Cloud Scheduler through
// Pub/Sub: it republishes accepted messages that were never dispatched,
// the whole backlog of every tenant in turns within a time budget
// (republish.go), and the fan-out of bulk-send chunks no worker finished
// (so a 2xx answer holds even when Pub/Sub was down at accept time),
// starts scheduled bulk sends
// whose time came (Pub/Sub cannot deliver at a time), marks
// dispatching messages whose lease ran out as unknown, resends once the
// unknown messages Meta's webhook left unsettled past their wait, fails
// messages held past the hold limit (outcomes.go), and closes expired
// conversations. Every step is idempotent and safe to run
// twice at once: a republished job is claimed once at most, and the
// state-changing steps are transactions or conditional deletes.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/config"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// Store is what sweep reads and changes.
type Store interface {
	TenantIDs(ctx context.Context) ([]string, error)
	StaleAccepted(ctx context.Context, tenant string, before time.Time, after store.StaleMessage, limit int) ([]store.StaleMessage, error)
	ExpiredLeases(ctx context.Context, tenant string, now time.Time, limit int) ([]string, error)
	ExpireLease(ctx context.Context, tenant, id string, now time.Time, wait time.Duration) (domain.Message, error)
	CloseExpiredConversations(ctx context.Context, tenant string, now time.Time, limit int) (int, error)
	OutcomeStore
}

// Publisher hands a job to dispatch: the single sends' topic, or, as
// Options.Bulk, the broadcasts' one.
type Publisher interface {
	Publish(ctx context.Context, j queue.Job) error
}

// Notifier tells a tenant about a status change.
type Notifier interface {
	Notify(ctx context.Context, m domain.Message)
}

// Batches keeps a tenant's bulk sends going (batch.Service): scheduled
// starts, lost fan-out, cancellations, and the messages of running ones
// whose dispatch job was lost, whose jobs it returns for sweep to
// republish.
type Batches interface {
	Sweep(ctx context.Context, tenant string, now, before time.Time, limit int) (batch.SweepReport, error)
}

// Options tune sweep.
type Options struct {
	// AcceptedAfter is how long a message may stay accepted and untouched
	// before sweep republishes it; it should outlast Pub/Sub's own
	// redelivery of a retried message. Default 2m.
	AcceptedAfter time.Duration
	// Batch bounds each step's work per tenant and run; the next run
	// takes the rest. Republishing lost accepts pages on instead, Batch
	// at a time, until the backlog is done or Budget ends. Default 500.
	Batch int
	// Budget bounds how long a run republishes, counted from its start:
	// it must end before the function's timeout. What is left waits for
	// the next run. Default config's SWEEP_BUDGET.
	Budget time.Duration
	// Parallel bounds the republishes in flight. Default 64.
	Parallel int
	// Bulk publishes broadcasts' jobs, on dispatch's bulk topic, so they
	// are paced behind single sends as the fan-out's jobs are; nil
	// publishes them with the single sends' publisher (still marked bulk).
	Bulk Publisher
	// PublishTimeout bounds each republish. While Pub/Sub is unreachable
	// its client retries a publish with pauses growing to a minute, so an
	// unbounded one holds the run long after Pub/Sub is back; bounded, the
	// run fails and the next tick publishes afresh. Default 5s, as
	// PUBLISH_TIMEOUT.
	PublishTimeout time.Duration
	Notifier       Notifier // nil sends no callbacks
	Batches        Batches  // nil resumes no bulk sends
	// HoldLimit is how long a message may wait held before it fails with
	// its channel's reason. Default domain.DefaultHoldLimit, as HOLD_LIMIT.
	HoldLimit time.Duration
	// UnknownWait is how long an unknown message waits for Meta's webhook
	// before it is resent once. Default domain.DefaultUnknownWait, as
	// UNKNOWN_WAIT.
	UnknownWait time.Duration
	Now         func() time.Time
}

// Sweeper runs sweep.
type Sweeper struct {
	store Store
	pub   Publisher
	opt   Options

	// republished remembers, per tenant/message, when this instance last
	// republished it. The message stays accepted until a delivery claims
	// it, so without this every run until then republishes it again, and
	// runs that queued up while Pub/Sub was away, run back to back, each
	// add one more duplicate of the same backlog, whose claims then
	// contend for the same documents. It is an optimisation only: another
	// instance, or this one restarted, does not know it, and the duplicate
	// job it then publishes is harmless, since dispatch claims a message
	// once. Within one run a set of the run's own rules out duplicates.
	mu          sync.Mutex
	republished map[string]time.Time
	// resume is, per tenant, where a run that ran out of budget left its
	// backlog: the next run carries on from there rather than reading the
	// pages this instance has just republished again.
	resume map[string]store.StaleMessage
}

// New returns a sweeper.
func New(st Store, pub Publisher, opt Options) *Sweeper {
	if opt.AcceptedAfter <= 0 {
		opt.AcceptedAfter = 2 * time.Minute
	}
	if opt.Batch <= 0 {
		opt.Batch = 500
	}
	if opt.Budget <= 0 {
		opt.Budget = config.Defaults().Sweep.Budget
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 64
	}
	if opt.PublishTimeout <= 0 {
		opt.PublishTimeout = 5 * time.Second
	}
	if opt.HoldLimit <= 0 {
		opt.HoldLimit = domain.DefaultHoldLimit
	}
	if opt.UnknownWait <= 0 {
		opt.UnknownWait = domain.DefaultUnknownWait
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Sweeper{store: st, pub: pub, opt: opt, republished: map[string]time.Time{}, resume: map[string]store.StaleMessage{}}
}

// Report counts what one run did.
type Report struct {
	Tenants     int
	Republished int
	// Pages are the pages of lost accepts and of broadcasts' lost jobs
	// the run went through (empty ones not counted); Backlogged the
	// tenants that had any.
	Pages      int
	Backlogged int
	// OverBudget says the run stopped republishing when its Budget ended,
	// with a backlog left for the next run.
	OverBudget    bool
	Chunks        int // bulk-send chunks whose fan-out was published: started or lost
	Started       int // scheduled bulk sends whose time came
	Cancelled     int // messages of cancelled bulk sends cancelled here
	Unknown       int
	Conversations int
	HoldsExpired  int // held messages failed past the hold limit
	Resent        int // unknown messages resent once, past the wait
	LeftUnknown   int // unknown messages left for a person (the tenant's policy)
}

// HandleEvent is the CloudEvent function. The event's content does not
// matter: every tick sweeps everything. A failed run returns its error, so
// Pub/Sub retries it.
func (s *Sweeper) HandleEvent(ctx context.Context, _ event.Event) error {
	_, err := s.Run(ctx)
	return err
}

// Run sweeps every tenant once: first each tenant's bounded steps in
// turn, then the republishing of every tenant's lost accepts, in turns
// (republish.go). One tenant's failure does not stop the others; the
// errors are joined.
func (s *Sweeper) Run(ctx context.Context) (Report, error) {
	log := logging.FromContext(ctx)
	var r Report
	start := s.opt.Now().UTC()
	tenants, err := s.store.TenantIDs(ctx)
	if err != nil {
		return r, err
	}
	var errs []error
	bulk := map[string][]queue.Job{}
	for _, t := range tenants {
		r.Tenants++
		jobs, err := s.tenant(ctx, log.With("tenant", t), t, &r)
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep tenant %s: %w", t, err))
		}
		bulk[t] = jobs
	}
	if err := s.republish(ctx, log, tenants, bulk, start, &r); err != nil {
		errs = append(errs, err)
	}
	log.Info("sweep done", "tenants", r.Tenants, "republished", r.Republished, "pages", r.Pages, "backlogged", r.Backlogged,
		"overBudget", r.OverBudget, "chunks", r.Chunks, "batchesStarted", r.Started,
		"cancelled", r.Cancelled, "unknown", r.Unknown, "conversationsClosed", r.Conversations,
		"holdsExpired", r.HoldsExpired, "resent", r.Resent, "leftUnknown", r.LeftUnknown)
	return r, errors.Join(errs...)
}

// tenant runs a tenant's bounded steps and returns the jobs of its
// broadcasts' messages whose job was lost, for the republishing.
func (s *Sweeper) tenant(ctx context.Context, log *slog.Logger, tenant string, r *Report) ([]queue.Job, error) {
	now := s.opt.Now().UTC()
	var errs []error
	var stale []queue.Job
	if s.opt.Batches != nil {
		br, err := s.opt.Batches.Sweep(ctx, tenant, now, now.Add(-s.opt.AcceptedAfter), s.opt.Batch)
		r.Chunks += br.Chunks
		r.Started += br.Started
		r.Cancelled += br.Cancelled
		stale = br.Stale
		errs = append(errs, err)
	}

	ids, err := s.store.ExpiredLeases(ctx, tenant, now, s.opt.Batch)
	errs = append(errs, err)
	for _, id := range ids {
		m, err := s.store.ExpireLease(ctx, tenant, id, now, s.opt.UnknownWait)
		if errors.Is(err, store.ErrStale) {
			continue // settled or expired by someone else meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The line's reason says the lease ran out and it waits for Meta.
		logging.Transition(ctx, logging.Moved(logging.SourceSweep, m, domain.StatusDispatching))
		r.Unknown++
		if s.opt.Notifier != nil {
			s.opt.Notifier.Notify(ctx, m)
		}
	}

	errs = append(errs, s.outcomes(ctx, log, tenant, now, r))

	n, err := s.store.CloseExpiredConversations(ctx, tenant, now, s.opt.Batch)
	r.Conversations += n
	errs = append(errs, err)
	return stale, errors.Join(errs...)
}
