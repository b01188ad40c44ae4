// Package accept is the one admission every way a send enters goes
// through: a template to one number (atom, cloudchat, wati), a text inside
// the service window (wati session messages) and a bulk send's shared
// checks (emkt 50.01, wati bulk). It resolves the channel, the tenant, the
// template and its approval, the plan's limit, the callback URL and the
// Idempotency-Key, then either refuses with a typed domain error or
// commits the message (with its conversation reservation, contact and
// idempotency record) in one write, publishes it for dispatch and
// answers. Dialects parse and render; the rules live in the domain and
// here.
package accept

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// Catalog is the cached configuration admission reads.
type Catalog interface {
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	Channels(ctx context.Context, tenant string) ([]domain.Channel, error)
	Template(ctx context.Context, tenant, id string) (domain.Template, error)
	TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error)
}

// Store persists an admission, reads what admission decides on, and
// follows a message until dispatch settles it.
type Store interface {
	KeyStore
	Accept(ctx context.Context, a store.Acceptance) (time.Time, error)
	SetIdempotencyAnswer(ctx context.Context, tenant, key string, code int, body []byte) error
	Recipient(ctx context.Context, tenant, channel, phone string) (store.Recipient, error)
	WatchMessage(ctx context.Context, tenant, id string, done func(domain.Message) bool) (domain.Message, error)
}

// Publisher hands a job to dispatch.
type Publisher interface {
	Publish(ctx context.Context, j queue.Job) error
}

// Limiter takes one request of a tenant against its requests per second,
// all instances together: ok, or not ok and how long the client should
// wait. err means the limit could not be known (its store is down).
type Limiter interface {
	Allow(ctx context.Context, tenant string, limit int) (ok bool, retryAfter time.Duration, err error)
}

// Request is the one send command every dialect builds: a template (by id,
// or by Meta's name) or, with Text set, a free-form text.
type Request struct {
	TemplateID   string
	TemplateName string // Meta's name, for dialects that send by name; used when TemplateID is empty
	Text         string // a free-form text, only inside the contact's service window
	Phone        string // already in the domain's digits-only form
	// PhoneField names the request field Phone came from, in errors; ""
	// is phoneNumber.
	PhoneField string
	FirstName  string
	LastName   string
	ClientName string
	GroupName  string
	Assign     bool
	Params     map[string]string
	Channel    string // channel id, display number or sender code; "" = default
	// ChannelField names the request field Channel came from, in errors;
	// "" is channelNumber.
	ChannelField string
	ClientRef    string // the client's own reference, echoed in callbacks
}

// Result is the outcome of an accepted send.
type Result struct {
	Message        domain.Message
	MessageID      string
	Status         domain.Status // pending (202) or sent (200)
	ConversationID string
}

// Answer is a rendered HTTP answer, stored under an idempotency key so a
// retry gets the first answer byte for byte.
type Answer struct {
	Code int
	Body []byte
}

// Render turns a result into the dialect's answer.
type Render func(Result) Answer

// Idempotency identifies a request for Idempotency-Key handling.
type Idempotency struct {
	Key         string
	RequestHash string // of method, path and body: same key, other request → 422
}

// Options tune the service.
type Options struct {
	PublishTimeout time.Duration
	// Wait bounds how long a send into an open conversation waits for
	// dispatch's outcome before it answers Pending (seed 000's immediate
	// confirmation). Negative never waits, for dialects whose answer is
	// the same either way; 0 is 5 s.
	Wait time.Duration
	Now  func() time.Time
	// Limiter limits each tenant's requests on the send routes; nil
	// limits nothing.
	Limiter Limiter
	// RateLimit is the requests per second of a tenant that set none
	// (domain.Tenant.RequestLimit): the deployment's TENANT_RATE_LIMIT.
	// 0 leaves such a tenant unlimited.
	RateLimit int
}

// Service runs admission and the accept path.
type Service struct {
	cat   Catalog
	store Store
	pub   Publisher
	opt   Options
	keys  Keys
}

// New returns the accept service.
func New(cat Catalog, st Store, pub Publisher, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PublishTimeout <= 0 {
		opt.PublishTimeout = 5 * time.Second
	}
	if opt.Wait == 0 {
		opt.Wait = 5 * time.Second
	}
	return &Service{cat: cat, store: st, pub: pub, opt: opt, keys: Keys{Store: st, Now: opt.Now}}
}

// Keys is the service's Idempotency-Key handling, for bulk sends.
func (s *Service) Keys() Keys { return s.keys }

// Send admits req for the token's tenant, stores the message and
// publishes it. When the contact has an open conversation on the channel
// it then waits, bounded by Options.Wait, for dispatch's outcome and
// answers Sent; otherwise (or past the bound) it answers Pending. With an
// idempotency key, a retry answers the first answer, a different request
// under the same key is KindKeyReused, and a retry while the first is
// still being handled, on any instance, is KindInFlight. The returned
// Answer is what the client gets.
func (s *Service) Send(ctx context.Context, tok domain.Token, req Request, idem *Idempotency, render Render) (Answer, error) {
	if idem != nil && idem.Key == "" {
		idem = nil
	}
	if err := s.Limit(ctx, tok); err != nil {
		return Answer{}, err
	}
	var claim store.IdempotencyRecord
	if idem != nil {
		rec, claimed, err := s.keys.Claim(ctx, tok.Tenant, idem.Key, idem.RequestHash)
		if err != nil {
			return Answer{}, err
		}
		if !claimed {
			return Answer{Code: rec.Code, Body: rec.Body}, nil
		}
		claim = rec
	}
	ans, err := s.send(ctx, tok, req, idem, claim, render)
	if err != nil && idem != nil && !errors.Is(err, store.ErrKeyExists) {
		s.keys.Release(ctx, tok.Tenant, idem.Key, claim)
	}
	if errors.Is(err, store.ErrKeyExists) {
		return Answer{}, domain.Errorf(domain.KindInFlight, "a request with this Idempotency-Key is still being handled")
	}
	return ans, err
}

// Limit takes one request of the token's tenant against its requests per
// second on the send routes (docs/api.md, Request limits). Every send route
// calls it first, before anything is written or any Idempotency-Key is
// claimed, so a refused request leaves no trace; one request is one token,
// whatever number of messages it asks for (their pace is dispatch's).
// Over the limit it is a KindRateLimited error carrying the delay to retry
// after.
func (s *Service) Limit(ctx context.Context, tok domain.Token) error {
	if s.opt.Limiter == nil {
		return nil
	}
	tenant, err := s.cat.Tenant(ctx, tok.Tenant)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tok.Tenant, err)
	}
	ok, retry, err := s.opt.Limiter.Allow(ctx, tok.Tenant, tenant.RequestLimit(s.opt.RateLimit))
	if err != nil {
		// The limit protects the gateway; it must not become an outage of
		// its own. With its store unreachable the request goes ahead
		// unlimited, as every other rule that needs no lease still holds.
		logging.FromContext(ctx).Warn("request limit unknown; the request goes ahead", "tenant", tok.Tenant, "error", err.Error())
		return nil
	}
	if !ok {
		if retry <= 0 {
			retry = time.Second
		}
		return domain.RateLimited(retry)
	}
	return nil
}

func (s *Service) send(ctx context.Context, tok domain.Token, req Request, idem *Idempotency, claim store.IdempotencyRecord, render Render) (Answer, error) {
	p, err := s.Admit(ctx, tok, req)
	if err != nil {
		return Answer{}, err
	}
	res := Result{Message: p.Message, MessageID: p.Message.ID, Status: domain.StatusPending}
	if p.Message.Type == domain.MessageText {
		// A text goes only into an open window: its answer names the
		// conversation at once and never waits.
		res.ConversationID = p.Conversation.ID
	}
	ans := render(res)
	wait := p.Open && s.opt.Wait > 0 && p.Message.Type != domain.MessageText
	a := p.acceptance()
	if idem != nil {
		// The record stays in flight until this request answers: a retry
		// meanwhile, on any instance, is refused rather than answered with
		// what this client has not got yet.
		a.IdempotencyKey = idem.Key
		a.Idempotency = store.IdempotencyRecord{
			RequestHash: idem.RequestHash, MessageID: p.Message.ID, Code: ans.Code, Body: ans.Body,
			State: store.KeyInFlight, LeaseUntil: p.Now.Add(max(s.opt.Wait, 0) + KeyLease),
			ExpireAt: p.Now.Add(IdempotencyTTL), Version: claim.Version,
		}
	}
	version, err := s.store.Accept(ctx, a)
	if err != nil {
		return Answer{}, err
	}
	logging.Transition(ctx, logging.Moved(logging.SourceAccept, p.Message, ""))
	// The job names its channel so dispatch paces it without first
	// reading the message, and carries the message as stored so dispatch
	// claims it without reading it at all.
	s.publish(ctx, queue.Job{Tenant: tok.Tenant, Message: p.Message.ID, Channel: p.Message.Channel, Accepted: &a.Message, Version: version})
	if wait {
		if r, ok := s.await(ctx, p.Message); ok {
			ans = render(r)
		}
	}
	if idem != nil {
		// A retry must get what this client got. Should the update fail,
		// the lease ends and a retry gets the stored Pending answer for the
		// same message: still true, if stale.
		if err := s.store.SetIdempotencyAnswer(context.WithoutCancel(ctx), tok.Tenant, idem.Key, ans.Code, ans.Body); err != nil {
			logging.FromContext(ctx).Warn("idempotency record keeps the Pending answer", "messageId", p.Message.ID, "error", err.Error())
		}
	}
	return ans, nil
}

// await follows the message until dispatch settles it, bounded by
// Options.Wait. ok is true when it was sent into the open conversation.
func (s *Service) await(ctx context.Context, msg domain.Message) (Result, bool) {
	wctx, cancel := context.WithTimeout(ctx, s.opt.Wait)
	defer cancel()
	m, err := s.store.WatchMessage(wctx, msg.Tenant, msg.ID, func(m domain.Message) bool {
		return m.Status != domain.StatusAccepted && m.Status != domain.StatusDispatching
	})
	if err != nil {
		if wctx.Err() == nil {
			logging.FromContext(ctx).Warn("could not follow the message; answering Pending", "messageId", msg.ID, "error", err.Error())
		}
		return Result{}, false
	}
	switch m.Status {
	case domain.StatusSent, domain.StatusDelivered, domain.StatusRead:
		if m.ConversationID != "" {
			return Result{Message: m, MessageID: m.ID, Status: domain.StatusSent, ConversationID: m.ConversationID}, true
		}
	}
	// pending (the conversation closed meanwhile), failed or unknown: the
	// client follows the message like any other Pending one.
	return Result{}, false
}

// publish hands the job to dispatch. A failure is logged, not returned: the
// message is already durable and sweep republishes what was never
// dispatched, so the client still gets its 2xx.
func (s *Service) publish(ctx context.Context, j queue.Job) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.PublishTimeout)
	defer cancel()
	if err := s.pub.Publish(pctx, j); err != nil {
		logging.FromContext(ctx).Error("publish failed; sweep will republish",
			"tenant", j.Tenant, "messageId", j.Message, "error", err.Error())
	}
}
