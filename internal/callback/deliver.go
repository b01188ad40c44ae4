package callback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// Tenants finds a tenant's callback secret; the catalog implements it.
type Tenants interface {
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
}

// Options configure deliveries.
type Options struct {
	// AllowLoopback lets callbacks reach 127.0.0.0/8 and ::1, for the dev
	// stack, whose receivers run on the same machine.
	AllowLoopback bool
	// AllowPrivate lets callbacks reach private addresses (10/8,
	// 172.16/12, 192.168/16, 100.64/10, fc00::/7), for receivers inside a
	// VPC. Off, a tenant cannot make the gateway call into its own
	// network. It never opens link-local addresses, where the metadata
	// server is.
	AllowPrivate bool
	// AllowRanges opens ranges that are refused otherwise, for receivers
	// in a network of the operator's own. No range opens the metadata
	// server.
	AllowRanges []netip.Prefix
	// Timeout bounds one delivery, from dial to the answer's headers
	// (default DefaultTimeout). It must stay below the subscription's ack
	// deadline, or Pub/Sub redelivers while a delivery is still running.
	Timeout time.Duration
	// Now is the clock that timestamps signatures and dead letters
	// (default time.Now).
	Now func() time.Time
	// MaxAttempts is the callbacks subscription's max_delivery_attempts
	// (CALLBACK_MAX_ATTEMPTS): a delivery that fails on that attempt is
	// Pub/Sub's to dead-letter, so it is recorded in DeadLetters first. 0
	// records none (a subscription without a dead-letter policy counts no
	// attempts).
	MaxAttempts int
	// DeadLetters keeps the callbacks given up on under their tenant, for
	// its console to show and replay; nil keeps none.
	DeadLetters DeadLetters
}

// DeadLetters records a tenant's callbacks given up on; *store.Store is
// one.
type DeadLetters interface {
	RecordDeadLetter(ctx context.Context, tenant string, d store.DeadLetter) error
}

// DefaultTimeout is Options.Timeout's default.
const DefaultTimeout = 10 * time.Second

// maxDrain bounds how much of an answer is read, so the connection can
// be reused without a receiver making the gateway read forever.
const maxDrain = 64 << 10

// userAgent names the sender in the receiver's logs.
const userAgent = "templategw-callbacks/1"

// Deliverer sends callbacks: the callbacks topic's CloudEvent function.
type Deliverer struct {
	tenants Tenants
	opt     Options
	client  *http.Client
}

// NewDeliverer returns a Deliverer that finds secrets in t.
func NewDeliverer(t Tenants, opt Options) *Deliverer {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Deliverer{tenants: t, opt: opt, client: newClient(opt)}
}

// HandleEvent delivers the Job in a messagePublished CloudEvent. An error
// makes Pub/Sub redeliver it with backoff, until the subscription's
// dead-letter policy takes it; an event that can never be delivered is
// logged and acknowledged.
func (d *Deliverer) HandleEvent(ctx context.Context, e event.Event) error {
	log := logging.FromContext(ctx)
	msg, err := queue.Decode(e)
	if err != nil {
		log.Error("dropping a malformed callback event", "cloudEvent", e.ID(), "error", err.Error())
		return nil
	}
	var j Job
	if err := json.Unmarshal(msg.Data, &j); err != nil || j.Tenant == "" || j.URL == "" || j.Event.ID == "" {
		log.Error("dropping a malformed callback job", "pubsubMessage", msg.MessageID, "error", errText(err, "tenant, url and event.id are required"))
		return nil
	}
	if err := d.Deliver(ctx, j); err != nil {
		if d.lastAttempt(msg.Attempt) {
			log.Warn("callback not delivered on its last attempt; Pub/Sub dead-letters it", "tenant", j.Tenant, "eventId", j.Event.ID,
				"attempt", msg.Attempt, "error", err.Error())
			d.recordDeadLetter(ctx, j, msg.Attempt, err)
			return err
		}
		log.Warn("callback not delivered; Pub/Sub will retry", "tenant", j.Tenant, "eventId", j.Event.ID,
			"attempt", msg.Attempt, "error", err.Error())
		return err
	}
	return nil
}

// Deliver POSTs j's event, signed with the tenant's callback secret, and
// returns an error when a retry may succeed: a network error, a timeout
// or an answer other than 2xx. A URL that is invalid or refused, an
// unknown tenant or one without a secret is logged and returns nil.
func (d *Deliverer) Deliver(ctx context.Context, j Job) error {
	log := logging.FromContext(ctx).With("tenant", j.Tenant, "eventId", j.Event.ID, "type", j.Event.Type, "messageId", j.Event.MessageID)
	u, err := parseURL(j.URL, d.opt)
	if err != nil {
		log.Error("dropping a callback to a refused URL", "error", err.Error())
		return nil
	}
	// The path and query may carry the receiver's own secret; the host
	// is enough to tell receivers apart in logs and errors.
	origin := u.Scheme + "://" + u.Host
	log = log.With("callbackHost", origin)

	t, err := d.tenants.Tenant(ctx, j.Tenant)
	if errors.Is(err, store.ErrNotFound) {
		log.Error("dropping a callback of an unknown tenant")
		return nil
	}
	if err != nil {
		return fmt.Errorf("deliver callback %s: tenant %s: %w", j.Event.ID, j.Tenant, err)
	}
	if t.CallbackSecret == "" {
		// An unsigned callback could not be told from a forged one.
		log.Error("dropping a callback: the tenant has no callback secret")
		return nil
	}

	body, err := json.Marshal(j.Event)
	if err != nil {
		log.Error("dropping a callback that cannot be encoded", "error", err.Error())
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		log.Error("dropping a callback to an unusable URL", "error", unwrapURL(err).Error())
		return nil
	}
	// Signed at each attempt, so a retry hours later still passes the
	// receiver's replay window.
	ts := d.opt.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(SignatureHeader, Sign(t.CallbackSecret, ts, body))
	req.Header.Set(EventIDHeader, j.Event.ID)

	resp, err := d.client.Do(req)
	if err != nil {
		err = unwrapURL(err)
		if errors.Is(err, ErrRefused) {
			log.Error("dropping a callback: its host resolves to a refused address", "error", err.Error())
			return nil
		}
		return &failedAttempt{event: j.Event.ID, origin: origin, err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &failedAttempt{event: j.Event.ID, origin: origin, err: fmt.Errorf("answered %s", resp.Status)}
	}
	log.Debug("callback delivered", "code", resp.StatusCode)
	return nil
}

// failedAttempt is a delivery that reached for the receiver and failed:
// a network error, a timeout or an answer other than 2xx. Its cause, the
// receiver's side of it, is what a dead letter shows.
type failedAttempt struct {
	event, origin string
	err           error
}

func (f *failedAttempt) Error() string {
	return "deliver callback " + f.event + " to " + f.origin + ": " + f.err.Error()
}

func (f *failedAttempt) Unwrap() error { return f.err }

// unwrapURL drops url.Error's wrapping, whose text repeats the whole URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func errText(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}
