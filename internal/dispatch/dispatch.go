// Package dispatch is the dispatch function: for each published job it
// claims the message (accepted → dispatching, with a lease), hands it to
// the provider once, and writes the outcome. A message is never handed to
// the provider twice: duplicates lose the claim, and an attempt whose
// outcome is unknown is marked, never resent.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"golang.org/x/time/rate"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// Store claims messages and settles their outcome.
type Store interface {
	Claim(ctx context.Context, tenant, id string, now time.Time, lease time.Duration) (domain.Message, error)
	Settle(ctx context.Context, tenant, id string, attempt int, apply func(m *domain.Message, conv domain.Conversation) error) (domain.Message, error)
	SetChannelConnected(ctx context.Context, tenant, id string, connected bool) error
}

// Channels reads channels from the per-instance cache.
type Channels interface {
	Channel(ctx context.Context, tenant, id string) (domain.Channel, error)
	ForgetChannels(tenant string)
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

// Options tune dispatch.
type Options struct {
	Lease       time.Duration // how long a claim is reserved
	MaxAttempts int           // retryable failures before a message fails
	Notifier    Notifier      // status callbacks; nil sends none
	Now         func() time.Time
}

// Dispatcher runs dispatch.
type Dispatcher struct {
	store    Store
	channels Channels
	sender   Sender
	secrets  Secrets
	opt      Options

	mu     sync.Mutex
	pacers map[string]*rate.Limiter
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
	return &Dispatcher{store: st, channels: channels, sender: sender, secrets: secrets, opt: opt, pacers: map[string]*rate.Limiter{}}
}

// HandleEvent is the CloudEvent function: a messagePublished event carrying
// one job. A returned error makes Pub/Sub redeliver with backoff, so only
// retryable failures return one; a malformed event is logged and acked.
func (d *Dispatcher) HandleEvent(ctx context.Context, e event.Event) error {
	job, err := queue.DecodeJob(e)
	if err != nil {
		logging.FromContext(ctx).Error("dropping malformed dispatch event", "eventId", e.ID(), "error", err.Error())
		return nil
	}
	return d.Dispatch(ctx, job)
}

// ErrRetry wraps the failure of an attempt that will be retried.
var ErrRetry = errors.New("retryable provider failure")

// Dispatch handles one job.
func (d *Dispatcher) Dispatch(ctx context.Context, job queue.Job) error {
	log := logging.FromContext(ctx).With("tenant", job.Tenant, "messageId", job.Message)
	m, err := d.store.Claim(ctx, job.Tenant, job.Message, d.opt.Now().UTC(), d.opt.Lease)
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

	req, mps, err := d.request(ctx, m)
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: &domain.MessageError{Title: de.Message}})
		}
		// Secrets or the cache are unavailable: nothing left, so retry.
		log.Error("dispatch could not prepare the send", "error", err.Error())
		return d.retry(ctx, log, m, &domain.MessageError{Title: "internal: " + err.Error()})
	}
	if err := d.pace(ctx, m.Tenant+"/"+m.Channel, mps); err != nil {
		return d.retry(ctx, log, m, &domain.MessageError{Title: "paced out: " + err.Error()})
	}

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
	switch pe.Class {
	case provider.Retryable:
		return d.retry(ctx, log, m, merr)
	case provider.Unauthorized:
		if err := d.store.SetChannelConnected(ctx, m.Tenant, m.Channel, false); err != nil {
			log.Error("could not disconnect channel after Meta refused its token", "error", err.Error())
		}
		d.channels.ForgetChannels(m.Tenant)
		merr.Title = "channel not connected: " + pe.Title
		return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: merr})
	case provider.Unknown:
		return d.settle(ctx, log, m, outcome{status: domain.StatusUnknown, err: merr})
	default:
		return d.settle(ctx, log, m, outcome{status: domain.StatusFailed, err: merr})
	}
}

// request builds the provider call for m from its channel, and returns the
// channel's messages-per-second limit.
func (d *Dispatcher) request(ctx context.Context, m domain.Message) (provider.SendRequest, int, error) {
	ch, err := d.channels.Channel(ctx, m.Tenant, m.Channel)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !ch.Connected) {
		return provider.SendRequest{}, 0, domain.Errorf(domain.KindChannelNotConnected, "channel not connected")
	}
	if err != nil {
		return provider.SendRequest{}, 0, err
	}
	token, err := d.secrets.Resolve(ctx, ch.SecretRef)
	if err != nil {
		return provider.SendRequest{}, 0, fmt.Errorf("access token of channel %s: %w", ch.ID, err)
	}
	req := provider.SendRequest{PhoneNumberID: ch.PhoneNumberID, AccessToken: token, To: m.PhoneNumber, CallbackData: m.ID}
	if m.IsText() {
		req.Text = m.Text
	} else {
		req.Template = m.Template
	}
	return req, ch.MessagesPerSecond, nil
}
