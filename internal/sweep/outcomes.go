package sweep

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// OutcomeStore is what sweep reads and changes of held and unknown
// messages.
type OutcomeStore interface {
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	ExpiredHolds(ctx context.Context, tenant string, before time.Time, limit int) ([]string, error)
	ExpireHold(ctx context.Context, tenant, id string, limit time.Duration, now time.Time) (domain.Message, error)
	DueUnknown(ctx context.Context, tenant string, now time.Time, limit int) ([]string, error)
	ResendUnknown(ctx context.Context, tenant, id string, now time.Time) (domain.Message, error)
	KeepUnknown(ctx context.Context, tenant, id string) (domain.Message, error)
}

// outcomes settles what waited too long: held messages past the hold
// limit fail with their channel's reason, and unknown messages Meta's
// webhook did not settle within the wait are resent once, or left for a
// person when the tenant's policy says so.
func (s *Sweeper) outcomes(ctx context.Context, log *slog.Logger, tenant string, now time.Time, r *Report) error {
	var errs []error
	ids, err := s.store.ExpiredHolds(ctx, tenant, now.Add(-s.opt.HoldLimit), s.opt.Batch)
	errs = append(errs, err)
	for _, id := range ids {
		m, err := s.store.ExpireHold(ctx, tenant, id, s.opt.HoldLimit, now)
		if errors.Is(err, store.ErrStale) {
			continue // released, or proved sent, meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		logging.Transition(ctx, logging.Moved(logging.SourceSweep, m, domain.StatusHeld))
		r.HoldsExpired++
		s.notify(ctx, m)
	}

	ids, err = s.store.DueUnknown(ctx, tenant, now, s.opt.Batch)
	errs = append(errs, err)
	if len(ids) == 0 {
		return errors.Join(errs...)
	}
	t, err := s.store.Tenant(ctx, tenant)
	if err != nil {
		// Without the policy, resending could be the wrong call: the next
		// run decides.
		return errors.Join(append(errs, err)...)
	}
	for _, id := range ids {
		if !t.ResendsUnknown() {
			_, err := s.store.KeepUnknown(ctx, tenant, id)
			switch {
			case errors.Is(err, store.ErrStale):
			case err != nil:
				errs = append(errs, err)
			default:
				log.Info("left an unknown message for a person, as the tenant's policy says", "messageId", id)
				r.LeftUnknown++
			}
			continue
		}
		m, err := s.store.ResendUnknown(ctx, tenant, id, now)
		if errors.Is(err, store.ErrStale) {
			continue // Meta's webhook settled it meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		logging.Transition(ctx, logging.Moved(logging.SourceSweep, m, domain.StatusUnknown))
		r.Resent++
		// Accepted now: if this publish is lost, the accepted step
		// republishes it like any other. The job names the channel, so
		// dispatch paces it without a read, and a broadcast's goes bulk.
		err = s.publish(ctx, queue.Job{Tenant: tenant, Message: id, Channel: m.Channel, Bulk: m.Batch != ""})
		if err != nil {
			errs = append(errs, err)
			break // Pub/Sub is down: the rest wait for the next run
		}
	}
	return errors.Join(errs...)
}

func (s *Sweeper) notify(ctx context.Context, m domain.Message) {
	if s.opt.Notifier != nil {
		s.opt.Notifier.Notify(ctx, m)
	}
}
