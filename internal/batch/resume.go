package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// SweepReport counts what one Sweep of a tenant did.
type SweepReport struct {
	Started   int // scheduled batches whose time came
	Chunks    int // fan-out events published: started batches' and lost ones
	Cancelled int // messages of cancelled batches cancelled here
	Closed    int // batches with nothing left to do
	// Stale are the dispatch jobs of running batches' messages accepted
	// and untouched since before: their job was lost. They are built as
	// the fan-out builds them (bulk, naming the batch's channel), and the
	// caller republishes them (sweep, on the bulk topic).
	Stale []queue.Job
}

// errMoved refuses a sweep's change to a batch whose state changed since
// it was read (paused or cancelled meanwhile).
var errMoved = errors.New("the batch's state changed meanwhile")

// Sweep keeps the tenant's broadcasts going; sweep calls it for each
// tenant on every tick. Pub/Sub cannot deliver at a time, so this is how a
// scheduled batch starts: one whose time came is made running and its
// chunks are published. Then, for each open batch accepted before
// before (at most limit batches, and limit chunks or messages each):
//
//   - scheduled and paused batches wait;
//   - chunks no worker finished are republished (the promise of a 2xx
//     when Pub/Sub lost a fan-out event or a worker gave up);
//   - a cancelled batch's messages still accepted or held are cancelled;
//   - a running batch's messages accepted and untouched since before are
//     returned as Stale, since sweep's own republishing looks only at
//     single sends and must not send a paused batch's messages;
//   - a batch with nothing of this left is closed (done, or cancelled
//     through), and never looked at again.
func (s *Service) Sweep(ctx context.Context, tenant string, now, before time.Time, limit int) (SweepReport, error) {
	var r SweepReport
	log := logging.FromContext(ctx).With("tenant", tenant)
	due, err := s.store.DueBatches(ctx, tenant, now, limit)
	if err != nil {
		return r, err
	}
	var errs []error
	started := map[string]bool{}
	for _, b := range due {
		if err := s.start(ctx, tenant, b, now, &r); err != nil {
			errs = append(errs, err)
		}
		started[b.ID] = true // its chunks were just published, or will be next run
	}
	open, err := s.store.OpenBatches(ctx, tenant, before, limit)
	if err != nil {
		return r, errors.Join(append(errs, err)...)
	}
	for _, b := range open {
		if started[b.ID] {
			continue
		}
		if err := s.sweepOne(ctx, log, tenant, b, now, before, limit, &r); err != nil {
			errs = append(errs, fmt.Errorf("batch %s/%s: %w", tenant, b.ID, err))
		}
	}
	return r, errors.Join(errs...)
}

// start makes a scheduled batch running and publishes its chunks.
func (s *Service) start(ctx context.Context, tenant string, b store.BatchRecord, now time.Time, r *SweepReport) error {
	rec, err := s.store.ChangeBatch(ctx, tenant, b.ID, func(rec *store.BatchRecord) error {
		if rec.State.Of() != domain.BatchScheduled {
			return errMoved
		}
		rec.State, rec.StartedAt = domain.BatchRunning, now
		return nil
	})
	if errors.Is(err, errMoved) {
		return nil
	}
	if err != nil {
		return err
	}
	r.Started++
	r.Chunks += s.publishFanout(ctx, tenant, rec.ID, rec.Chunks)
	logging.FromContext(ctx).Info("scheduled batch started", "tenant", tenant, "batch", rec.ID, "code", rec.Code, "sendAt", rec.SendAt)
	return nil
}

func (s *Service) sweepOne(ctx context.Context, log *slog.Logger, tenant string, b store.BatchRecord, now, before time.Time, limit int, r *SweepReport) error {
	st := b.State.Of()
	if st == domain.BatchScheduled || st == domain.BatchPaused {
		return nil
	}
	undone, err := s.store.UndoneBatchChunks(ctx, tenant, b.ID, limit)
	if err != nil {
		return err
	}
	if len(undone) > 0 {
		for _, n := range undone {
			if err := s.fanout.PublishJSON(ctx, Fanout{Tenant: tenant, Batch: b.ID, Chunk: n}, map[string]string{"tenant": tenant}); err != nil {
				return fmt.Errorf("republish chunk %d: %w", n, err)
			}
			r.Chunks++
		}
		log.Info("republished the fan-out of unfinished chunks", "batch", b.ID, "chunks", len(undone))
		return nil
	}
	if st == domain.BatchCancelled {
		ids, err := s.store.BatchMessageIDs(ctx, tenant, b.ID, []domain.Status{domain.StatusAccepted, domain.StatusHeld}, time.Time{}, limit)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			cancelled, err := s.store.CancelBatchMessages(ctx, tenant, ids, b.ConversationLimit > 0, now)
			r.Cancelled += len(cancelled)
			logCancelled(ctx, logging.SourceSweep, tenant, b, -1, cancelled)
			return err
		}
		return s.close(ctx, tenant, b, now, r)
	}
	n, err := s.store.CountBatchWaiting(ctx, tenant, b.ID, waiting)
	if err != nil {
		return err
	}
	if n == 0 {
		return s.close(ctx, tenant, b, now, r)
	}
	stale, err := s.store.BatchMessageIDs(ctx, tenant, b.ID, []domain.Status{domain.StatusAccepted}, before, limit)
	for _, id := range stale {
		r.Stale = append(r.Stale, queue.Job{Tenant: tenant, Message: id, Channel: b.Channel, Bulk: true})
	}
	return err
}

// close records that nothing of the batch is left to do, unless its state
// changed meanwhile.
func (s *Service) close(ctx context.Context, tenant string, b store.BatchRecord, now time.Time, r *SweepReport) error {
	_, err := s.store.ChangeBatch(ctx, tenant, b.ID, func(rec *store.BatchRecord) error {
		if rec.State.Of() != b.State.Of() {
			return errMoved
		}
		rec.Open = false
		if rec.FinishedAt.IsZero() {
			rec.FinishedAt = now
		}
		return nil
	})
	if errors.Is(err, errMoved) {
		return nil
	}
	if err == nil {
		r.Closed++
	}
	return err
}
