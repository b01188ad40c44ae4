package wati

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// idempotencyTTL is how long a key's first answer is kept, as for
// template sends.
const idempotencyTTL = 24 * time.Hour

// sendText accepts a free-form text the way the accept path accepts a
// template: every rule that can refuse it runs before anything is written
// (the channel, the contact's service window on it, the plan's limit),
// one commit stores the message with its idempotency record, and a
// publish hands it to dispatch; sweep republishes it when that publish is
// lost. A retry under the same Idempotency-Key gets the first answer even
// when the window has closed since.
func (s *Server) sendText(ctx context.Context, tok domain.Token, cmd sessionCommand, idem *accept.Idempotency) (accept.Answer, error) {
	if idem != nil {
		if ans, ok, err := s.replay(ctx, tok.Tenant, idem); ok || err != nil {
			return ans, err
		}
	}
	channels, err := s.cat.Channels(ctx, tok.Tenant)
	if err != nil {
		return accept.Answer{}, fmt.Errorf("channels of %s: %w", tok.Tenant, err)
	}
	ch, err := channelFor(channels, cmd.Channel, tok.DefaultChannel, "channelPhoneNumber", false)
	if err != nil {
		return accept.Answer{}, err
	}
	now := s.opt.Now().UTC()
	contact, err := s.store.Contact(ctx, tok.Tenant, cmd.Phone)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return accept.Answer{}, err
	}
	if err := domain.CheckServiceWindow(contact, ch.ID, now); err != nil {
		return accept.Answer{}, err
	}
	tenant, err := s.cat.Tenant(ctx, tok.Tenant)
	if err != nil {
		return accept.Answer{}, fmt.Errorf("tenant %s: %w", tok.Tenant, err)
	}
	conv, err := s.checkLimit(ctx, tenant, ch.ID, cmd.Phone, now)
	if err != nil {
		return accept.Answer{}, err
	}

	msg := domain.NewTextMessage(store.NewID(), tok.Tenant, ch.ID, cmd.Phone, cmd.Text, now)
	msg.CallbackURL = tok.CallbackURL
	if msg.CallbackURL == "" {
		msg.CallbackURL = tenant.CallbackURL
	}
	ans := renderSession(msg, conv)
	a := store.Acceptance{Message: msg, Contact: domain.Contact{Phone: cmd.Phone, UpdatedAt: now}}
	if idem != nil {
		a.IdempotencyKey = idem.Key
		a.Idempotency = store.IdempotencyRecord{RequestHash: idem.RequestHash, MessageID: msg.ID, Code: ans.Code, Body: ans.Body, ExpireAt: now.Add(idempotencyTTL)}
	}
	err = s.store.Accept(ctx, a)
	if errors.Is(err, store.ErrKeyExists) {
		// Another request under the key committed first.
		ans, _, err := s.replay(ctx, tok.Tenant, idem)
		return ans, err
	}
	if err != nil {
		return accept.Answer{}, err
	}
	s.publish(ctx, queue.Job{Tenant: tok.Tenant, Message: msg.ID})
	logging.Transition(ctx, logging.Moved(logging.SourceAccept, msg, ""))
	return ans, nil
}

// checkLimit applies the plan's conversation limit as template sends do:
// only a message that would open a new conversation is refused. It
// answers the id of the contact's open conversation on the channel, ""
// when there is none.
func (s *Server) checkLimit(ctx context.Context, tenant domain.Tenant, channel, phone string, now time.Time) (string, error) {
	conv, err := s.store.Conversation(ctx, tenant.ID, channel, phone)
	if err != nil {
		return "", err
	}
	if conv.Open(now) {
		return conv.ID, nil
	}
	if tenant.ConversationLimit <= 0 {
		return "", nil
	}
	used, err := s.store.ConversationsOpened(ctx, tenant.ID, domain.MonthKey(now))
	if err != nil {
		return "", err
	}
	return "", domain.CheckConversationLimit(false, tenant.ConversationLimit, used)
}

// replay answers from the key's record; ok is false when there is none.
func (s *Server) replay(ctx context.Context, tenant string, idem *accept.Idempotency) (_ accept.Answer, ok bool, _ error) {
	rec, err := s.store.Idempotency(ctx, tenant, idem.Key)
	if errors.Is(err, store.ErrNotFound) {
		return accept.Answer{}, false, nil
	}
	if err != nil {
		return accept.Answer{}, false, fmt.Errorf("read idempotency record: %w", err)
	}
	if rec.RequestHash != idem.RequestHash {
		return accept.Answer{}, true, domain.Errorf(domain.KindKeyReused, "Idempotency-Key was already used with a different request")
	}
	return accept.Answer{Code: rec.Code, Body: rec.Body}, true, nil
}

// publish hands the job to dispatch. A failure is logged, not returned:
// the message is durable and sweep republishes it.
func (s *Server) publish(ctx context.Context, j queue.Job) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.PublishTimeout)
	defer cancel()
	if err := s.pub.Publish(pctx, j); err != nil {
		logging.FromContext(ctx).Error("wati: publish failed; sweep will republish", "tenant", j.Tenant, "messageId", j.Message, "error", err.Error())
	}
}

// channelFor picks the channel ref names (id, display number with or
// without "+", or sender code), else the token's default, else the
// tenant's default, naming field in errors. Reads pass anyState: a number
// that is not connected still has its history and chats.
func channelFor(channels []domain.Channel, ref, tokenDefault, field string, anyState bool) (domain.Channel, error) {
	if anyState {
		all := make([]domain.Channel, len(channels))
		for i, c := range channels {
			c.Connected = true
			all[i] = c
		}
		channels = all
	}
	ch, err := domain.PickChannel(channels, ref, tokenDefault)
	if domain.KindOf(err) == domain.KindInvalid {
		return ch, domain.Errorf(domain.KindInvalid, "invalid fields: "+field+": this tenant has no number "+ref, field)
	}
	return ch, err
}
