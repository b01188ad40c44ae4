// Package accept is the accept path every dialect shares: it turns a send
// command into a durable message (one Firestore commit with its contact and
// idempotency record), publishes it for dispatch, and answers. Dialects
// parse and render; the rules live in the domain and here.
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

// Catalog is the cached configuration the accept path reads.
type Catalog interface {
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	Channels(ctx context.Context, tenant string) ([]domain.Channel, error)
	Template(ctx context.Context, tenant, id string) (domain.Template, error)
	TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error)
}

// Store persists an acceptance, reads idempotency records and
// conversations, and follows a message until dispatch settles it.
type Store interface {
	Accept(ctx context.Context, a store.Acceptance) error
	Idempotency(ctx context.Context, tenant, key string) (store.IdempotencyRecord, error)
	SetIdempotencyAnswer(ctx context.Context, tenant, key string, code int, body []byte) error
	Conversation(ctx context.Context, tenant, channel, phone string) (domain.Conversation, error)
	ConversationsOpened(ctx context.Context, tenant, month string) (int, error)
	WatchMessage(ctx context.Context, tenant, id string, done func(domain.Message) bool) (domain.Message, error)
}

// Publisher hands a job to dispatch.
type Publisher interface {
	Publish(ctx context.Context, j queue.Job) error
}

// Request is the one send command every dialect builds.
type Request struct {
	TemplateID   string
	TemplateName string // Meta's name, for dialects that send by name; used when TemplateID is empty
	Phone        string // already in the domain's digits-only form
	FirstName    string
	LastName     string
	ClientName   string
	GroupName    string
	Assign       bool
	Params       map[string]string
	Channel      string // channel id, display number or sender code; "" = default
	ClientRef    string // the client's own reference, echoed in callbacks
}

// Result is the outcome of an accepted send.
type Result struct {
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
	// confirmation). Default 5s; negative never waits, for dialects whose
	// answer is the same either way.
	Wait time.Duration
	Now  func() time.Time
}

// Service runs the accept path.
type Service struct {
	cat   Catalog
	store Store
	pub   Publisher
	opt   Options

	slots Slots
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
	return &Service{cat: cat, store: st, pub: pub, opt: opt}
}

// IdempotencyTTL is how long a key's first answer is kept (Stripe's 24 h),
// in every dialect.
const IdempotencyTTL = 24 * time.Hour

// Send validates req for the token's tenant, stores the message and
// publishes it. When the contact has an open conversation on the channel it
// then waits, bounded by Options.Wait, for dispatch's outcome and answers
// Sent; otherwise (or past the bound) it answers Pending. With an
// idempotency key, a retry answers the first answer, a different request
// under the same key is KindKeyReused, and a retry while the first is still
// being handled is KindInFlight. The returned Answer is what the client
// gets.
func (s *Service) Send(ctx context.Context, tok domain.Token, req Request, idem *Idempotency, render Render) (Answer, error) {
	if idem != nil && idem.Key != "" {
		slot := tok.Tenant + "\x00" + idem.Key
		if !s.slots.Enter(slot) {
			return Answer{}, domain.Errorf(domain.KindInFlight, "a request with this Idempotency-Key is still being handled")
		}
		defer s.slots.Leave(slot)
	} else {
		idem = nil
	}

	msg, contact, open, err := s.prepare(ctx, tok, req)
	if err != nil {
		if idem != nil && domain.KindOf(err) != domain.KindInternal {
			// A retry of a request that was accepted gets its first answer,
			// even if a rule now refuses it (the plan's limit was reached
			// meanwhile, a template was paused): one read, on refusals only.
			if ans, rerr := s.replay(ctx, tok.Tenant, idem); rerr == nil {
				return ans, nil
			}
		}
		return Answer{}, err
	}
	res := Result{MessageID: msg.ID, Status: domain.StatusPending}
	ans := render(res)
	a := store.Acceptance{Message: msg, Contact: contact}
	if idem != nil {
		a.IdempotencyKey = idem.Key
		a.Idempotency = store.IdempotencyRecord{
			RequestHash: idem.RequestHash, MessageID: msg.ID, Code: ans.Code, Body: ans.Body,
			ExpireAt: msg.CreatedAt.Add(IdempotencyTTL),
		}
	}
	err = s.store.Accept(ctx, a)
	if errors.Is(err, store.ErrKeyExists) {
		return s.replay(ctx, tok.Tenant, idem)
	}
	if err != nil {
		return Answer{}, err
	}
	logging.Transition(ctx, logging.Moved(logging.SourceAccept, msg, ""))
	s.publish(ctx, queue.Job{Tenant: tok.Tenant, Message: msg.ID})
	if !open || s.opt.Wait < 0 {
		return ans, nil
	}
	res, ok := s.await(ctx, msg)
	if !ok {
		return ans, nil
	}
	sent := render(res)
	if idem != nil {
		// A retry must get what this client got. Should the update fail,
		// a retry gets Pending for the same message: still true, if stale.
		if err := s.store.SetIdempotencyAnswer(ctx, tok.Tenant, idem.Key, sent.Code, sent.Body); err != nil {
			logging.FromContext(ctx).Warn("idempotency record keeps the Pending answer", "messageId", msg.ID, "error", err.Error())
		}
	}
	return sent, nil
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
			return Result{MessageID: m.ID, Status: domain.StatusSent, ConversationID: m.ConversationID}, true
		}
	}
	// pending (the conversation closed meanwhile), failed or unknown: the
	// client follows the message like any other Pending one.
	return Result{}, false
}

// prepare runs every rule that can refuse a send, before anything is
// written. open reports whether the contact has an open conversation on
// the sending channel.
func (s *Service) prepare(ctx context.Context, tok domain.Token, req Request) (msg domain.Message, contact domain.Contact, open bool, err error) {
	channels, err := s.cat.Channels(ctx, tok.Tenant)
	if err != nil {
		return msg, contact, false, fmt.Errorf("channels of %s: %w", tok.Tenant, err)
	}
	ch, err := domain.PickChannel(channels, req.Channel, tok.DefaultChannel)
	if err != nil {
		return msg, contact, false, err
	}
	tpl, err := s.template(ctx, tok.Tenant, req)
	if err != nil {
		return msg, contact, false, err
	}
	rendered, err := domain.Render(tpl, req.Params)
	if err != nil {
		return msg, contact, false, err
	}
	now := s.opt.Now().UTC()
	tenant, err := s.cat.Tenant(ctx, tok.Tenant)
	if err != nil {
		return msg, contact, false, fmt.Errorf("tenant %s: %w", tok.Tenant, err)
	}
	if open, err = s.checkLimit(ctx, tenant, ch.ID, req.Phone, now); err != nil {
		return msg, contact, false, err
	}
	msg = domain.NewMessage(store.NewID(), tok.Tenant, ch.ID, req.Phone, tpl.ID, rendered, now)
	msg.ClientRef = req.ClientRef
	msg.CallbackURL = tok.CallbackURL
	if msg.CallbackURL == "" {
		msg.CallbackURL = tenant.CallbackURL
	}
	contact = domain.Contact{
		Phone: req.Phone, FirstName: req.FirstName, LastName: req.LastName,
		Name:      domain.ContactName(req.ClientName, req.FirstName, req.LastName, ""),
		UpdatedAt: now,
	}
	return msg, contact, open, nil
}

// template finds the request's template by id, else by name.
func (s *Service) template(ctx context.Context, tenant string, req Request) (domain.Template, error) {
	field, key, find := "templateId", req.TemplateID, s.cat.Template
	if key == "" && req.TemplateName != "" {
		field, key, find = "template_name", req.TemplateName, s.cat.TemplateByName
	}
	if key == "" {
		return domain.Template{}, domain.Errorf(domain.KindTemplate, "template without id or message", field)
	}
	tpl, err := find(ctx, tenant, key)
	if errors.Is(err, store.ErrNotFound) {
		return tpl, domain.Errorf(domain.KindTemplate, "template without id or message: no template "+key, field)
	}
	if err != nil {
		return tpl, fmt.Errorf("template %s/%s: %w", tenant, key, err)
	}
	return tpl, nil
}

// checkLimit reads the contact's conversation on the channel and, only
// when the send would open a new one under a limited plan, the month's
// count. The count is read, not reserved: sends racing past the limit at
// the same moment may each open one more conversation.
func (s *Service) checkLimit(ctx context.Context, tenant domain.Tenant, channel, phone string, now time.Time) (open bool, err error) {
	conv, err := s.store.Conversation(ctx, tenant.ID, channel, phone)
	if err != nil {
		return false, err
	}
	open = conv.Open(now)
	if open || tenant.ConversationLimit <= 0 {
		return open, nil
	}
	used, err := s.store.ConversationsOpened(ctx, tenant.ID, domain.MonthKey(now))
	if err != nil {
		return false, err
	}
	return false, domain.CheckConversationLimit(false, tenant.ConversationLimit, used)
}

// replay answers a retry from the key's record.
func (s *Service) replay(ctx context.Context, tenant string, idem *Idempotency) (Answer, error) {
	rec, err := s.store.Idempotency(ctx, tenant, idem.Key)
	if err != nil {
		return Answer{}, fmt.Errorf("read idempotency record: %w", err)
	}
	if rec.RequestHash != idem.RequestHash {
		return Answer{}, domain.Errorf(domain.KindKeyReused, "Idempotency-Key was already used with a different request")
	}
	return Answer{Code: rec.Code, Body: rec.Body}, nil
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
