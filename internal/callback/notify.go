package callback

import (
	"context"
	"sync"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
)

// Publisher publishes to the callbacks topic; *queue.Publisher is one.
type Publisher interface {
	PublishJSON(ctx context.Context, v any, attrs map[string]string) error
}

// DefaultNotifyTimeout is Notifier.Timeout's default.
const DefaultNotifyTimeout = 5 * time.Second

// Sender delivers one callback and returns an error when a later attempt
// may succeed; *Deliverer is one.
type Sender interface {
	Deliver(ctx context.Context, j Job) error
}

// Inline defaults: a receiver gets DefaultInlineTimeout to answer the
// first attempt; one that fails it or takes over a quarter of it has its
// callbacks queued for InlineBackoff before the next first attempt.
const (
	DefaultInlineTimeout = 2 * time.Second
	InlineBackoff        = 30 * time.Second
)

// Notifier sends callbacks: a message's status changes and the messages
// contacts send.
//
// With First set, it makes the first attempt itself, from the function
// whose change the callback tells, and publishes to the callbacks topic
// only what that attempt could not deliver, for the callbacks function's
// retries and dead letter. A receiver that answers at once then costs no
// publish, no push and no invocation of the callbacks function, which
// were four of a message's nine invocations. A receiver that fails or is
// slow costs the caller at most InlineTimeout once per InlineBackoff
// (per process): meanwhile its callbacks go straight to the topic, so a
// webhook carrying many statuses never waits on it more than once.
type Notifier struct {
	p Publisher
	// Timeout bounds one publish (default DefaultNotifyTimeout): a status
	// change is already committed, and a slow Pub/Sub must not hold up
	// the dispatch or webhook that made it.
	Timeout time.Duration
	// First, when set, makes the first attempt of every callback.
	First Sender
	// InlineTimeout bounds that attempt (default DefaultInlineTimeout).
	InlineTimeout time.Duration
	// Now is the clock of the backoff (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	slow map[string]time.Time // receiver URL → when it is tried inline again
}

// NewNotifier returns a Notifier publishing with p.
func NewNotifier(p Publisher) *Notifier { return &Notifier{p: p} }

// Notify sends the callback of m's latest status change, when m has a
// callback URL and the status is one tenants hear about: accepted is the
// send's own answer (and, later, an internal retry) and dispatching is
// internal, so neither is sent. It never fails the caller: a publish that
// fails or outlives the timeout is logged and the event is lost, as the
// messages API still shows the status.
func (n *Notifier) Notify(ctx context.Context, m domain.Message) {
	if n == nil || n.p == nil || m.CallbackURL == "" {
		return
	}
	ev := EventOf(m)
	if !notified(ev.Status) {
		return
	}
	if err := n.send(ctx, Job{Tenant: m.Tenant, URL: m.CallbackURL, Event: ev}); err != nil {
		logging.FromContext(ctx).Error("status callback not published", "tenant", m.Tenant, "messageId", m.ID,
			"eventId", ev.ID, "status", string(ev.Status), "error", err.Error())
	}
}

// NotifyReceived sends the message.received callback of in, a message
// a contact of tenant sent, to url (the tenant's callback URL; "" sends
// none). Like Notify it never fails the caller: the message is stored,
// and a publish that fails is logged.
func (n *Notifier) NotifyReceived(ctx context.Context, tenant, url string, in domain.InboundMessage) {
	if n == nil || n.p == nil || url == "" {
		return
	}
	ev := ReceivedEventOf(in)
	if err := n.send(ctx, Job{Tenant: tenant, URL: url, Event: ev}); err != nil {
		logging.FromContext(ctx).Error("message.received callback not published", "tenant", tenant,
			"eventId", ev.ID, "error", err.Error())
	}
}

// send delivers j inline when it may, and publishes it otherwise.
func (n *Notifier) send(ctx context.Context, j Job) error {
	if n.First != nil && n.tryInline(j.URL) {
		if n.deliverInline(ctx, j) {
			return nil
		}
		logging.FromContext(ctx).Debug("callback queued after its first attempt", "tenant", j.Tenant, "eventId", j.Event.ID)
	}
	return n.publish(ctx, j)
}

// deliverInline makes j's first attempt and reports whether it is done
// with: delivered, or dropped as the callbacks function would drop it.
// A failed or slow attempt sends the receiver's next callbacks straight
// to the topic for InlineBackoff.
func (n *Notifier) deliverInline(ctx context.Context, j Job) bool {
	timeout := n.InlineTimeout
	if timeout <= 0 {
		timeout = DefaultInlineTimeout
	}
	start := n.now()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	err := n.First.Deliver(dctx, j)
	cancel()
	if took := n.now().Sub(start); err != nil || took > timeout/4 {
		n.mu.Lock()
		if n.slow == nil {
			n.slow = map[string]time.Time{}
		}
		n.slow[j.URL] = n.now().Add(InlineBackoff)
		n.mu.Unlock()
	}
	return err == nil
}

// tryInline reports whether url's callbacks are tried inline now: not
// while its backoff runs.
func (n *Notifier) tryInline(url string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	until, ok := n.slow[url]
	if ok && n.now().After(until) {
		delete(n.slow, url)
		return true
	}
	return !ok
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// publish publishes j within the notifier's timeout.
func (n *Notifier) publish(ctx context.Context, j Job) error {
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = DefaultNotifyTimeout
	}
	// The caller's request may end the moment it returns; the publish
	// must still finish, but only within the timeout.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.p.PublishJSON(pctx, j, map[string]string{"tenant": j.Tenant, "event": j.Event.ID}) }()
	select {
	case err := <-done:
		return err
	case <-pctx.Done():
		// A Publisher that ignores its context must not hold the caller.
		return pctx.Err()
	}
}

// notified reports whether tenants receive a callback for status s.
func notified(s domain.Status) bool {
	return s != domain.StatusAccepted && s != domain.StatusDispatching
}
