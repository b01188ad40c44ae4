package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/pacing"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/store"
)

// outcome is what an attempt ended in.
type outcome struct {
	accepted bool   // Meta accepted the send
	wamid    string // Meta's message id when accepted
	status   domain.Status
	err      *domain.MessageError
	// uncounted gives back the attempt the claim counted: the send was
	// refused for throughput, which is no attempt of the message's.
	uncounted bool
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
	got, err := d.store.SettleClaimed(ctx, m, func(msg *domain.Message, conv domain.Conversation) error {
		to := o.status
		if o.accepted {
			to = domain.StatusPending
			msg.ProviderMessageID = o.wamid
			if conv.Open(now) {
				to = domain.StatusSent
				msg.ConversationID = conv.ID
			}
		}
		if to == domain.StatusUnknown {
			return msg.MarkUnknown(o.err, now, d.opt.UnknownWait)
		}
		msg.Error = o.err
		if o.uncounted {
			msg.Attempts = max(msg.Attempts-1, 0)
		}
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
	d.stoppedMarketing(ctx, log, got, now)
	return nil
}

// retry puts m back to accepted so the redelivery can claim it, or fails
// it for good past MaxAttempts, or on the job's last delivery: Pub/Sub
// would dead-letter the job and leave the message accepted, which sweep
// would republish for ever. The returned error makes Pub/Sub redeliver.
func (d *Dispatcher) retry(ctx context.Context, log *slog.Logger, at attempt, merr *domain.MessageError) error {
	m := at.m
	switch {
	case m.Attempts >= d.opt.MaxAttempts:
		merr.Title = fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, merr.Title)
		return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: merr})
	case d.opt.MaxDeliveries > 0 && at.delivery >= d.opt.MaxDeliveries:
		merr.Title = fmt.Sprintf("dispatch job dead-lettered after %d deliveries: %s", at.delivery, merr.Title)
		return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: merr})
	}
	if err := d.settle(ctx, log, m, outcome{status: domain.StatusAccepted, err: merr}); err != nil {
		return err
	}
	return fmt.Errorf("%w: message %s/%s attempt %d: %s (code %d)", ErrRetry, m.Tenant, m.ID, m.Attempts, merr.Title, merr.Code)
}

// throughput says Meta's code refuses a send for throughput, not for the
// message: such a refusal never uses up an attempt.
func throughput(code int) bool {
	switch code {
	case pacing.CodeNumberRate, pacing.CodePairRate, pacing.CodeWABARate, pacing.CodeAppRate:
		return true
	}
	return false
}

// throttled puts m back to accepted after Meta refused the send for
// throughput, giving back the attempt the claim counted: a refusal for
// throughput says nothing of the message, so it never fails it however
// often it comes, not even on the job's last delivery (the job is then
// dead-lettered and sweep republishes the accepted message), until the
// message is older than HoldLimit, as long as a held message may wait. The refusal
// stays visible as the message's error and in its history. The pacer
// slows the channel down; the returned error makes Pub/Sub redeliver.
func (d *Dispatcher) throttled(ctx context.Context, log *slog.Logger, at attempt, key pacing.ChannelKey, pe *provider.Error) error {
	m := at.m
	wait := pe.RetryAfter
	if d.opt.Pacer != nil {
		wait = d.opt.Pacer.Throttled(key, pe.Code, pe.RetryAfter)
	}
	merr := &domain.MessageError{Code: pe.Code, Title: pe.Title}
	if age := d.opt.Now().Sub(m.CreatedAt); age >= d.opt.HoldLimit {
		// Refused for longer than a held message may wait (DESIGN §7.5):
		// the number or the recipient is not going to take it.
		merr.Title = fmt.Sprintf("refused for throughput for over %s: %s", d.opt.HoldLimit, merr.Title)
		return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: merr})
	}
	if err := d.settle(ctx, log, m, outcome{status: domain.StatusAccepted, err: merr, uncounted: true}); err != nil {
		return err
	}
	log.Debug("Meta refused the send for throughput; no attempt used", "code", pe.Code, "wait", wait.String())
	return fmt.Errorf("%w: message %s/%s: %s (code %d): try again in %s", ErrThrottled, m.Tenant, m.ID, pe.Title, pe.Code, wait)
}

// hold moves the claimed message to held, sending nothing. With refusal
// set, Meta refused the channel as a whole on this attempt: the channel
// takes the hold, this instance forgets its copy of it so its next
// messages are held without a call, and the tenant hears once that the
// channel is held. Without it, the channel was held already; ErrNotHeld
// says it was released meanwhile and the message may be sent. Nothing
// reached Meta either way, so a failure to record the hold is a retry.
func (d *Dispatcher) hold(ctx context.Context, log *slog.Logger, at attempt, refusal *domain.Hold) error {
	m := at.m
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
	defer cancel()
	held, err := d.store.HoldMessage(wctx, m.Tenant, m.ID, m.Attempts, d.opt.Now().UTC(), refusal)
	switch {
	case errors.Is(err, store.ErrNotHeld):
		return err
	case errors.Is(err, store.ErrStale):
		log.Info("hold arrived after the message moved on", "error", err.Error())
		return nil
	case err != nil:
		log.Error("could not hold the message", "error", logging.Scrub(err.Error()))
		merr := &domain.MessageError{Title: "internal: " + err.Error()}
		if refusal != nil {
			merr = &domain.MessageError{Code: refusal.Code, Title: refusal.Reason}
		}
		return d.retry(ctx, log, at, merr)
	}
	if refusal != nil {
		d.channels.ForgetChannels(m.Tenant)
	}
	logging.Transition(wctx, logging.Moved(logging.SourceDispatch, held.Message, domain.StatusDispatching))
	if d.opt.Notifier != nil {
		d.opt.Notifier.Notify(wctx, held.Message)
	}
	if held.NewHold {
		log.Warn("channel held: Meta refused it as a whole; its messages wait until it is reconnected",
			"channel", m.Channel, "code", held.Hold.Code, "reason", logging.Scrub(held.Hold.Reason))
		d.notifyHeld(wctx, log, m, held.Hold)
	}
	return nil
}

// notifyHeld tells the tenant its channel is held, at the tenant's
// callback URL, else at the URL of the message that found out.
func (d *Dispatcher) notifyHeld(ctx context.Context, log *slog.Logger, m domain.Message, h domain.Hold) {
	if d.opt.Holds == nil {
		return
	}
	url := m.CallbackURL
	t, err := d.channels.Tenant(ctx, m.Tenant)
	switch {
	case err != nil:
		log.Warn("channel.held callback goes to the message's URL: tenant unreadable", "error", err.Error())
	case t.CallbackURL != "":
		url = t.CallbackURL
	}
	if url != "" {
		d.opt.Holds.NotifyChannelHeld(ctx, m.Tenant, url, m.Channel, h)
	}
}
