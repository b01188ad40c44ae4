package callback

import (
	"context"
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

// Notifier publishes callbacks: a message's status changes and the
// messages contacts send.
type Notifier struct {
	p Publisher
	// Timeout bounds one Notify (default DefaultNotifyTimeout): a status
	// change is already committed, and a slow Pub/Sub must not hold up
	// the dispatch or webhook that made it.
	Timeout time.Duration
}

// NewNotifier returns a Notifier publishing with p.
func NewNotifier(p Publisher) *Notifier { return &Notifier{p: p} }

// Notify publishes the callback of m's latest status change, when m has
// a callback URL and the status is one tenants hear about: accepted is
// the send's own answer (and, later, an internal retry) and dispatching
// is internal, so neither is sent. It never fails the caller: a publish
// that fails or outlives the timeout is logged and the event is lost, as
// the messages API still shows the status.
func (n *Notifier) Notify(ctx context.Context, m domain.Message) {
	if n == nil || n.p == nil || m.CallbackURL == "" {
		return
	}
	ev := EventOf(m)
	if !notified(ev.Status) {
		return
	}
	if err := n.publish(ctx, Job{Tenant: m.Tenant, URL: m.CallbackURL, Event: ev}); err != nil {
		logging.FromContext(ctx).Error("status callback not published", "tenant", m.Tenant, "messageId", m.ID,
			"eventId", ev.ID, "status", string(ev.Status), "error", err.Error())
	}
}

// NotifyReceived publishes the message.received callback of in, a message
// a contact of tenant sent, to url (the tenant's callback URL; "" sends
// none). Like Notify it never fails the caller: the message is stored,
// and a publish that fails is logged.
func (n *Notifier) NotifyReceived(ctx context.Context, tenant, url string, in domain.InboundMessage) {
	if n == nil || n.p == nil || url == "" {
		return
	}
	ev := ReceivedEventOf(in)
	if err := n.publish(ctx, Job{Tenant: tenant, URL: url, Event: ev}); err != nil {
		logging.FromContext(ctx).Error("message.received callback not published", "tenant", tenant,
			"eventId", ev.ID, "error", err.Error())
	}
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
