package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// outcome is what an attempt ended in.
type outcome struct {
	accepted bool   // Meta accepted the send
	wamid    string // Meta's message id when accepted
	status   domain.Status
	err      *domain.MessageError
}

// outcomeTimeout bounds writing an attempt's outcome; the transaction
// retries while duplicate deliveries hold the message.
const outcomeTimeout = 30 * time.Second

// settle writes o. Accepted by Meta → pending, or sent into the contact's
// open conversation on that channel. The claimed message is this
// attempt's, so its outcome is written even when the delivery's request
// ends meanwhile (Pub/Sub gave up on the push, or its connection
// dropped): left dispatching, it would wait for sweep to call it unknown,
// although Meta accepted it or it was never sent.
func (d *Dispatcher) settle(ctx context.Context, log *slog.Logger, m domain.Message, o outcome) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
	defer cancel()
	now := d.opt.Now().UTC()
	got, err := d.store.Settle(ctx, m.Tenant, m.ID, m.Attempts, func(msg *domain.Message, conv domain.Conversation) error {
		to := o.status
		if o.accepted {
			to = domain.StatusPending
			msg.ProviderMessageID = o.wamid
			if conv.Open(now) {
				to = domain.StatusSent
				msg.ConversationID = conv.ID
			}
		}
		msg.Error = o.err
		return msg.Move(to, now)
	})
	if errors.Is(err, store.ErrStale) {
		// Meta's webhook outran this outcome and settled the message, or
		// sweep expired the lease and the webhook will reconcile it:
		// either way there is nothing to retry.
		log.Info("outcome arrived after the message moved on", "error", err.Error())
		return nil
	}
	if err != nil {
		// The provider already has the message: never retry it. The lease
		// runs out and sweep marks it unknown.
		// The wamid's body embeds the recipient's number: its fingerprint
		// still matches the webhook's lines.
		log.Error("could not write the outcome", "error", err.Error(), "wamidHash", logging.Fingerprint(o.wamid))
		return nil
	}
	logging.Transition(ctx, logging.Moved(logging.SourceDispatch, got, domain.StatusDispatching))
	if got.Status != domain.StatusAccepted && d.opt.Notifier != nil {
		d.opt.Notifier.Notify(ctx, got)
	}
	return nil
}

// retry puts m back to accepted so the redelivery can claim it, or fails
// it for good past MaxAttempts. The returned error makes Pub/Sub redeliver.
func (d *Dispatcher) retry(ctx context.Context, log *slog.Logger, m domain.Message, merr *domain.MessageError) error {
	if m.Attempts >= d.opt.MaxAttempts {
		merr.Title = fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, merr.Title)
		return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: merr})
	}
	if err := d.settle(ctx, log, m, outcome{status: domain.StatusAccepted, err: merr}); err != nil {
		return err
	}
	return fmt.Errorf("%w: message %s/%s attempt %d: %s (code %d)", ErrRetry, m.Tenant, m.ID, m.Attempts, merr.Title, merr.Code)
}

// pace waits for the channel's messages-per-second budget on this
// instance; Meta's 130429 remains the authority across instances.
func (d *Dispatcher) pace(ctx context.Context, key string, mps int) error {
	if mps <= 0 {
		mps = 80
	}
	d.mu.Lock()
	l, ok := d.pacers[key]
	if !ok || l.Limit() != rate.Limit(mps) {
		l = rate.NewLimiter(rate.Limit(mps), mps)
		d.pacers[key] = l
	}
	d.mu.Unlock()
	return l.Wait(ctx)
}
