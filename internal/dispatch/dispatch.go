// Package dispatch is the dispatch function: for each published job it
// claims the message (accepted → dispatching, with a lease), hands it to
// the provider once, and writes the outcome. A message is never handed to
// the provider twice: duplicates lose the claim, and an attempt whose
// outcome is unknown is marked and waits for Meta's webhook (sweep
// resends it once only if none comes). A channel Meta refuses as a whole
// is held: its messages wait as held, sending nothing, until it is
// reconnected. A channel's messages per second are kept by a Pacer shared
// by every instance, asked before the claim: a message the channel has
// no room for is given back to Pub/Sub unclaimed, and Meta's throughput
// refusals put the message back without using an attempt.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/pacing"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// Store claims messages and settles their outcome. Message is read only
// to find the channel of a job that does not name it, before the pacer is
// asked.
type Store interface {
	Message(ctx context.Context, tenant, id string) (domain.Message, error)
	Claim(ctx context.Context, tenant, id string, now time.Time, lease time.Duration) (domain.Message, error)
	// ClaimAccepted claims a message as accept stored it (a job's
	// Carried) without reading it; when it changed since, as Claim.
	ClaimAccepted(ctx context.Context, accepted domain.Message, now time.Time, lease time.Duration) (domain.Message, error)
	// SettleClaimed writes the outcome of the attempt that claimed m,
	// only while the message is still as claimed; otherwise ErrStale.
	SettleClaimed(ctx context.Context, claimed domain.Message, apply func(m *domain.Message, conv domain.Conversation) error) (domain.Message, error)
	HoldMessage(ctx context.Context, tenant, id string, attempt int, now time.Time, refusal *domain.Hold) (store.Held, error)
}

// Channels reads channels and tenants from the per-instance cache.
type Channels interface {
	Channel(ctx context.Context, tenant, id string) (domain.Channel, error)
	ForgetChannels(tenant string)
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
}

// Sender is the provider.
type Sender interface {
	Send(ctx context.Context, r provider.SendRequest) (provider.Result, error)
}

// Secrets resolves a channel's access-token reference.
type Secrets interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// Notifier tells a tenant about a status change.
type Notifier interface {
	Notify(ctx context.Context, m domain.Message)
}

// ChannelNotifier tells a tenant its channel is held.
type ChannelNotifier interface {
	NotifyChannelHeld(ctx context.Context, tenant, url, channel string, h domain.Hold)
}

// BatchGate holds back a claimed message whose broadcast is paused or
// cancelled (batch.Gate), undoing the claim: dispatch then sends nothing.
type BatchGate interface {
	Hold(ctx context.Context, m domain.Message) (bool, error)
}

// Pacer keeps each channel's messages per second across every dispatch
// instance together (pacing.Pacer).
type Pacer interface {
	Acquire(ctx context.Context, key pacing.ChannelKey, class pacing.Class, tenant string, maxWait time.Duration) (ok bool, retryAfter time.Duration, err error)
	Throttled(key pacing.ChannelKey, code int, retryAfter time.Duration) time.Duration
	Unused(key pacing.ChannelKey)
}

// MaxMessagesPerSecond is the most a channel's setting is taken at: Meta's
// highest throughput for a number.
const MaxMessagesPerSecond = 1000

// Options tune dispatch.
type Options struct {
	Lease       time.Duration // how long a claim is reserved
	MaxAttempts int           // retryable failures before a message fails
	// MaxDeliveries is the dispatch subscription's max_delivery_attempts:
	// on a job's last delivery a retry fails the message instead of
	// dead-lettering the job. 0 turns it off.
	MaxDeliveries int
	// UnknownWait is how long an unknown message waits for Meta's webhook
	// before sweep resends it (domain.DefaultUnknownWait when 0).
	UnknownWait time.Duration
	Notifier    Notifier        // status callbacks; nil sends none
	Holds       ChannelNotifier // channel.held callbacks; nil sends none
	Batches     BatchGate       // broadcasts' pause and cancel; nil sends every claimed message
	// HoldLimit is how long a message may go on being refused for
	// throughput before it fails (domain.DefaultHoldLimit when 0), as
	// long as a held message may wait.
	HoldLimit time.Duration
	// Pacer keeps channels' messages per second; nil paces nothing.
	Pacer Pacer
	// Consent records the opt-out of a recipient Meta refused with
	// 131050, and ConsentNotifier tells the tenant; nil records none.
	Consent         Consent
	ConsentNotifier ConsentNotifier
	// PaceWait is the longest a delivery waits for its channel's room
	// before it gives the job back unclaimed (10 s when 0; below Lease).
	PaceWait time.Duration
	Now      func() time.Time
}

// Dispatcher runs dispatch.
type Dispatcher struct {
	store    Store
	channels Channels
	sender   Sender
	secrets  Secrets
	opt      Options
}

// New returns a dispatcher.
func New(st Store, channels Channels, sender Sender, secrets Secrets, opt Options) *Dispatcher {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Lease <= 0 {
		opt.Lease = time.Minute
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 10
	}
	if opt.UnknownWait <= 0 {
		opt.UnknownWait = domain.DefaultUnknownWait
	}
	if opt.HoldLimit <= 0 {
		opt.HoldLimit = domain.DefaultHoldLimit
	}
	if opt.PaceWait <= 0 {
		opt.PaceWait = 10 * time.Second
	}
	// Whatever waits for the pace waits before the claim, and the
	// delivery still has the lease's time to send.
	opt.PaceWait = min(opt.PaceWait, opt.Lease/2)
	return &Dispatcher{store: st, channels: channels, sender: sender, secrets: secrets, opt: opt}
}

// HandleEvent is the CloudEvent function: a messagePublished event carrying
// one job. A returned error makes Pub/Sub redeliver with backoff, so only
// what a later delivery may get through returns one: retryable failures,
// a channel with no room (ErrPaced) and Meta's throughput refusals
// (ErrThrottled). A malformed event is logged and acked.
func (d *Dispatcher) HandleEvent(ctx context.Context, e event.Event) error {
	job, err := queue.DecodeJob(e)
	if err != nil {
		logging.FromContext(ctx).Error("dropping malformed dispatch event", "eventId", e.ID(), "error", err.Error())
		return nil
	}
	// DecodeJob has read the envelope already; only the delivery count is
	// still needed from it.
	del, _ := queue.Decode(e)
	return d.Deliver(ctx, job, del.Attempt)
}

// ErrRetry wraps the failure of an attempt that will be retried.
var ErrRetry = errors.New("retryable provider failure")

// ErrPaced is a delivery's error when its channel had no room within
// PaceWait: the message was not claimed and no attempt was used.
var ErrPaced = errors.New("channel at its messages per second")

// ErrThrottled wraps Meta's throughput refusal of a send: the message is
// accepted again and the refusal used no attempt.
var ErrThrottled = errors.New("throughput refusal")

// Dispatch handles one job whose delivery count is unknown.
func (d *Dispatcher) Dispatch(ctx context.Context, job queue.Job) error {
	return d.Deliver(ctx, job, 0)
}

// Deliver handles one job on Pub/Sub's delivery'th delivery of it (0 when
// the subscription does not count them).
func (d *Dispatcher) Deliver(ctx context.Context, job queue.Job, delivery int) error {
	log := logging.FromContext(ctx).With("tenant", job.Tenant, "messageId", job.Message)
	key, granted, err := d.admit(ctx, job)
	if err != nil {
		if errors.Is(err, ErrPaced) {
			log.Debug("dispatch paced: job given back unclaimed", "error", err.Error())
		}
		return err
	}
	// A token granted and not spent on a send goes back to the channel.
	spent := false
	defer func() {
		if granted && !spent {
			d.opt.Pacer.Unused(key)
		}
	}()
	m, err := d.claim(ctx, job)
	switch {
	case errors.Is(err, store.ErrStale):
		log.Debug("duplicate delivery ignored", "error", err.Error())
		return nil
	case errors.Is(err, store.ErrNotFound):
		log.Warn("dispatch job for a message that does not exist")
		return nil
	case err != nil:
		return err
	}
	logging.Transition(ctx, logging.Moved(logging.SourceDispatch, m, domain.StatusAccepted))
	log = log.With("channel", m.Channel, "phone", domain.MaskPhone(m.PhoneNumber), "attempt", m.Attempts)

	at := attempt{m: m, delivery: delivery}

	if d.opt.Batches != nil {
		held, err := d.opt.Batches.Hold(ctx, m)
		if err != nil {
			log.Error("dispatch could not read the message's broadcast", "error", err.Error())
			return d.retry(ctx, log, at, &domain.MessageError{Title: "internal: " + err.Error()})
		}
		if held {
			return nil // paused: accepted again for the resume; or cancelled
		}
	}

	ch, err := d.channel(ctx, m)
	if err == nil && ch.Hold != nil {
		// This instance's copy of the channel is held: hold the message
		// without a call, unless the channel was released meanwhile.
		err = d.hold(ctx, log, at, nil)
		if !errors.Is(err, store.ErrNotHeld) {
			return err
		}
		d.channels.ForgetChannels(m.Tenant)
		ch, err = d.channel(ctx, m)
		ch.Hold = nil // the transaction saw none: Meta decides now
	}
	var req provider.SendRequest
	if err == nil {
		req, err = d.request(ctx, m, ch)
	}
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: &domain.MessageError{Title: de.Message}})
		}
		// Secrets or the cache are unavailable: nothing left, so retry.
		log.Error("dispatch could not prepare the send", "error", err.Error())
		return d.retry(ctx, log, at, &domain.MessageError{Title: "internal: " + err.Error()})
	}
	spent = true
	res, err := d.sender.Send(ctx, req)
	if err == nil {
		return d.settle(ctx, log, m, outcome{accepted: true, wamid: res.WAMID})
	}
	var pe *provider.Error
	if !errors.As(err, &pe) {
		// Not classified by the provider: it may have left, so never resend.
		pe = &provider.Error{Class: provider.Unknown, Title: err.Error()}
	}
	merr := &domain.MessageError{Code: pe.Code, Title: pe.Title}
	if pe.Class == provider.Retryable && throughput(pe.Code) {
		return d.throttled(ctx, log, at, key, pe)
	}
	switch pe.Class {
	case provider.Retryable:
		return d.retry(ctx, log, at, merr)
	case provider.HoldChannel:
		return d.hold(ctx, log, at, &domain.Hold{Code: pe.Code, Reason: pe.Title, Since: d.opt.Now().UTC()})
	case provider.Unknown:
		return d.settle(ctx, log, m, outcome{status: domain.StatusUnknown, err: merr})
	default:
		return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: merr})
	}
}

// admit asks the pacer for room on the job's channel before the claim, so
// nothing waits for the pace while holding a claim's lease. granted says
// a token was taken, which the delivery gives back if it sends nothing.
// ErrPaced says there was no room within PaceWait: the job goes back to
// Pub/Sub unclaimed. A message whose channel cannot send now (unknown,
// disconnected, held) or that is not accepted is not paced: the claim or
// the path after it deals with it without a call.
func (d *Dispatcher) admit(ctx context.Context, job queue.Job) (pacing.ChannelKey, bool, error) {
	if d.opt.Pacer == nil {
		return pacing.ChannelKey{}, false, nil
	}
	id := job.Channel
	if id == "" {
		m, err := d.store.Message(ctx, job.Tenant, job.Message)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return pacing.ChannelKey{}, false, nil
		case err != nil:
			return pacing.ChannelKey{}, false, fmt.Errorf("channel of message %s/%s: %w", job.Tenant, job.Message, err)
		case m.Status != domain.StatusAccepted:
			return pacing.ChannelKey{}, false, nil
		}
		id = m.Channel
	}
	ch, err := d.channels.Channel(ctx, job.Tenant, id)
	if err != nil || !ch.Connected || ch.Hold != nil {
		return pacing.ChannelKey{}, false, nil
	}
	key := pacing.ChannelKey{Tenant: job.Tenant, Channel: id, Rate: ChannelRate(ch.MessagesPerSecond)}
	class := pacing.Single
	if job.Bulk {
		class = pacing.Bulk
	}
	ok, after, err := d.opt.Pacer.Acquire(ctx, key, class, job.Tenant, d.opt.PaceWait)
	switch {
	case err != nil:
		return key, false, fmt.Errorf("pace channel %s/%s: %w", job.Tenant, id, err)
	case !ok:
		return key, false, fmt.Errorf("%w: channel %s/%s at %d/s: try again in %s", ErrPaced, job.Tenant, id, key.Rate, after)
	}
	return key, true, nil
}

// claim claims the job's message, without reading it when the job
// carries it as accepted.
func (d *Dispatcher) claim(ctx context.Context, job queue.Job) (domain.Message, error) {
	now := d.opt.Now().UTC()
	if m, ok := job.Carried(); ok {
		return d.store.ClaimAccepted(ctx, m, now, d.opt.Lease)
	}
	return d.store.Claim(ctx, job.Tenant, job.Message, now, d.opt.Lease)
}

// ChannelRate is the messages per second a channel's setting allows:
// pacing.DefaultRate when unset, at most MaxMessagesPerSecond.
func ChannelRate(setting int) int {
	if setting <= 0 {
		return pacing.DefaultRate
	}
	return min(setting, MaxMessagesPerSecond)
}

// attempt is one claimed delivery of a message: the message as claimed
// and which of Pub/Sub's deliveries of its job this is.
type attempt struct {
	m        domain.Message
	delivery int
}

// channel reads m's channel; one that is gone or disconnected is a
// domain error, which fails the message without a call.
func (d *Dispatcher) channel(ctx context.Context, m domain.Message) (domain.Channel, error) {
	ch, err := d.channels.Channel(ctx, m.Tenant, m.Channel)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !ch.Connected) {
		return domain.Channel{}, domain.Errorf(domain.KindChannelNotConnected, "channel not connected")
	}
	return ch, err
}

// request builds the provider call for m through ch.
func (d *Dispatcher) request(ctx context.Context, m domain.Message, ch domain.Channel) (provider.SendRequest, error) {
	token, err := d.secrets.Resolve(ctx, ch.SecretRef)
	if err != nil {
		return provider.SendRequest{}, fmt.Errorf("access token of channel %s: %w", ch.ID, err)
	}
	req := provider.SendRequest{PhoneNumberID: ch.PhoneNumberID, AccessToken: token, To: m.PhoneNumber, CallbackData: m.ID}
	if m.IsText() {
		req.Text = m.Text
	} else {
		req.Template = m.Template
	}
	return req, nil
}
