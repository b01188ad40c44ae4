package batch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// List is a page of the tenant's batches, newest first, without counts;
// next is the token of the page after, "" on the last. A token this
// service did not issue is a KindInvalid error naming pageToken.
func (s *Service) List(ctx context.Context, tenant string, limit int, pageToken string) (_ []Progress, next string, _ error) {
	recs, next, err := s.store.Batches(ctx, tenant, limit, pageToken)
	if errors.Is(err, store.ErrBadPageToken) {
		return nil, "", domain.Errorf(domain.KindInvalid, "pageToken: not a token this API issued", "pageToken")
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]Progress, len(recs))
	for i, r := range recs {
		out[i] = summary(r)
	}
	return out, next, nil
}

// Pause stops the batch from making messages and dispatch from sending
// those not yet handed to Meta: they stay accepted until Resume. Messages
// already claimed by dispatch are sent; a dispatch instance may send for a
// couple of seconds more (GateTTL). Pausing a paused or scheduled batch is
// allowed; a done or cancelled one is a KindConflict error.
func (s *Service) Pause(ctx context.Context, tenant, code string) (Progress, error) {
	rec, err := s.change(ctx, tenant, code, func(r *store.BatchRecord, now time.Time) error {
		next, err := r.State.Of().Pause()
		if err != nil {
			return err
		}
		if r.State.Of() != domain.BatchPaused {
			r.PausedAt = now
		}
		r.State = next
		return nil
	})
	if err != nil {
		return Progress{}, err
	}
	return s.progress(ctx, tenant, rec)
}

// Resume lets a paused batch go on: running again (scheduled again if its
// start time has not come), with every chunk handed back to the fan-out,
// which makes the messages not made yet and republishes the jobs of those
// still accepted. Resuming a running or scheduled batch changes nothing.
func (s *Service) Resume(ctx context.Context, tenant, code string) (Progress, error) {
	resumed := false
	rec, err := s.change(ctx, tenant, code, func(r *store.BatchRecord, now time.Time) error {
		next, err := r.State.Of().Resume(r.SendAt, now)
		if err != nil {
			return err
		}
		resumed = r.State.Of() == domain.BatchPaused
		if resumed {
			r.PausedSeconds += now.Sub(r.PausedAt).Seconds()
			r.PausedAt = time.Time{}
			if next == domain.BatchRunning && r.StartedAt.IsZero() {
				r.StartedAt = now
			}
		}
		r.State = next
		return nil
	})
	if err != nil {
		return Progress{}, err
	}
	if resumed && rec.State == domain.BatchRunning {
		if err := s.handBack(ctx, tenant, rec); err != nil {
			return Progress{}, err
		}
	}
	return s.progress(ctx, tenant, rec)
}

// Cancel ends the batch for good: no chunk makes another message, and
// every message of it not yet handed to Meta (accepted or held) becomes
// cancelled, never sent. The state changes at once; the messages are
// cancelled by the fan-out, a chunk at a time, so the answer shows the
// cancellation under way. Those dispatch has already claimed are sent.
// Cancelling twice is allowed; a done batch is a KindConflict error.
func (s *Service) Cancel(ctx context.Context, tenant, code string) (Progress, error) {
	first := false
	rec, err := s.change(ctx, tenant, code, func(r *store.BatchRecord, now time.Time) error {
		next, err := r.State.Of().Cancel()
		if err != nil {
			return err
		}
		if first = r.State.Of() != domain.BatchCancelled; first {
			if r.State.Of() == domain.BatchPaused {
				r.PausedSeconds += now.Sub(r.PausedAt).Seconds()
				r.PausedAt = time.Time{}
			}
			r.CancelledAt, r.FinishedAt = now, now
		}
		r.State = next
		return nil
	})
	if err != nil {
		return Progress{}, err
	}
	if first {
		if err := s.handBack(ctx, tenant, rec); err != nil {
			return Progress{}, err
		}
	}
	return s.progress(ctx, tenant, rec)
}

// change applies a lifecycle change to the tenant's batch with this code,
// refusing a batch sweep already found done.
func (s *Service) change(ctx context.Context, tenant, code string, apply func(r *store.BatchRecord, now time.Time) error) (store.BatchRecord, error) {
	rec, err := s.byCode(ctx, tenant, code)
	if err != nil {
		return rec, err
	}
	rec, err = s.store.ChangeBatch(ctx, tenant, rec.ID, func(r *store.BatchRecord) error {
		if !r.FinishedAt.IsZero() && r.State.Of() == domain.BatchRunning {
			r.State = domain.BatchDone
		}
		return apply(r, s.opt.Now().UTC())
	})
	if errors.Is(err, store.ErrNotFound) {
		return rec, notFound(code)
	}
	if err != nil {
		return rec, err
	}
	logging.FromContext(ctx).Info("batch state changed", "tenant", tenant, "batch", rec.ID, "code", rec.Code, "state", rec.State)
	return rec, nil
}

// handBack marks every chunk of the batch not done and publishes its
// fan-out event, so the fan-out takes each up in the batch's new state. A
// lost publish is not an error: the chunks stay not done, and sweep
// republishes them.
func (s *Service) handBack(ctx context.Context, tenant string, rec store.BatchRecord) error {
	if err := s.store.ReopenBatchChunks(ctx, tenant, rec.ID, rec.Chunks); err != nil {
		return err
	}
	if s.fanout != nil {
		s.publishFanout(ctx, tenant, rec.ID, rec.Chunks)
	}
	return nil
}

func (s *Service) byCode(ctx context.Context, tenant, code string) (store.BatchRecord, error) {
	rec, err := s.store.BatchByCode(ctx, tenant, code)
	if errors.Is(err, store.ErrNotFound) {
		return rec, notFound(code)
	}
	if err != nil {
		return rec, fmt.Errorf("batch %q of %s: %w", code, tenant, err)
	}
	return rec, nil
}

func notFound(code string) error {
	return domain.Errorf(domain.KindNotFound, fmt.Sprintf("no batch %q", code))
}
