package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/store"
)

// memStore is dispatch.Store in memory with the store's rules: a claim
// moves accepted → dispatching and counts the attempt, and an outcome is
// applied only while the message is still that attempt's, beside the
// contact's conversation on the message's channel. Like Firestore, it
// refuses calls whose context has ended.
type memStore struct {
	mu            sync.Mutex
	messages      map[string]domain.Message      // by tenant/id
	conversations map[string]domain.Conversation // by tenant/ConversationKey
	channels      map[string]domain.Channel      // by tenant/id
	tenants       map[string]domain.Tenant       // by id
	// claimErr, settleErr and holdErr, when set, are what Firestore
	// answers.
	claimErr, settleErr, holdErr error
	// beforeHold, when set, runs as HoldMessage starts, as another writer
	// (a release) committing just before it would.
	beforeHold func()
	// claims and reads count Claim and Message calls, carried the
	// ClaimAccepted calls among the claims.
	claims, reads, carried int
}

func newMemStore() *memStore {
	return &memStore{
		messages:      map[string]domain.Message{},
		conversations: map[string]domain.Conversation{},
		channels:      map[string]domain.Channel{},
		tenants:       map[string]domain.Tenant{},
	}
}

func key(tenant, id string) string { return tenant + "/" + id }

// clone copies m's history, so what the store keeps and what a caller
// holds never share an array.
func clone(m domain.Message) domain.Message {
	m.History = slices.Clone(m.History)
	if m.Error != nil {
		e := *m.Error
		m.Error = &e
	}
	return m
}

func (s *memStore) Claim(ctx context.Context, tenant, id string, now time.Time, lease time.Duration) (domain.Message, error) {
	if err := ctx.Err(); err != nil {
		return domain.Message{}, fmt.Errorf("claim message %s/%s: %w", tenant, id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims++
	if s.claimErr != nil {
		return domain.Message{}, fmt.Errorf("claim message %s/%s: %w", tenant, id, s.claimErr)
	}
	m, ok := s.messages[key(tenant, id)]
	if !ok {
		return domain.Message{}, fmt.Errorf("claim message %s/%s: %w", tenant, id, store.ErrNotFound)
	}
	m = clone(m)
	if err := m.Move(domain.StatusDispatching, now); err != nil {
		return domain.Message{}, fmt.Errorf("claim message %s/%s: %w: %s", tenant, id, store.ErrStale, m.Status)
	}
	m.Attempts++
	m.LeaseUntil = now.Add(lease)
	s.messages[key(tenant, id)] = m
	return clone(m), nil
}

// ClaimAccepted claims as Claim does: the in-memory messages keep no
// versions, and the state check is the same.
func (s *memStore) ClaimAccepted(ctx context.Context, accepted domain.Message, now time.Time, lease time.Duration) (domain.Message, error) {
	s.mu.Lock()
	s.carried++
	s.mu.Unlock()
	return s.Claim(ctx, accepted.Tenant, accepted.ID, now, lease)
}

func (s *memStore) Message(ctx context.Context, tenant, id string) (domain.Message, error) {
	if err := ctx.Err(); err != nil {
		return domain.Message{}, fmt.Errorf("message %s/%s: %w", tenant, id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	m, ok := s.messages[key(tenant, id)]
	if !ok {
		return domain.Message{}, fmt.Errorf("message %s/%s: %w", tenant, id, store.ErrNotFound)
	}
	return clone(m), nil
}

func (s *memStore) Settle(ctx context.Context, tenant, id string, attempt int, apply func(m *domain.Message, conv domain.Conversation) error) (domain.Message, error) {
	if err := ctx.Err(); err != nil {
		return domain.Message{}, fmt.Errorf("settle message %s/%s: %w", tenant, id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.settleErr != nil {
		return domain.Message{}, fmt.Errorf("settle message %s/%s: %w", tenant, id, s.settleErr)
	}
	m, ok := s.messages[key(tenant, id)]
	if !ok {
		return domain.Message{}, fmt.Errorf("settle message %s/%s: %w", tenant, id, store.ErrNotFound)
	}
	if m.Status != domain.StatusDispatching || m.Attempts != attempt {
		return domain.Message{}, fmt.Errorf("settle message %s/%s: %w: %s, attempt %d", tenant, id, store.ErrStale, m.Status, m.Attempts)
	}
	m = clone(m)
	if err := apply(&m, s.conversations[key(tenant, domain.ConversationKey(m.Channel, m.PhoneNumber))]); err != nil {
		return domain.Message{}, fmt.Errorf("settle message %s/%s: %w", tenant, id, err)
	}
	s.messages[key(tenant, id)] = m
	return clone(m), nil
}

// SettleClaimed settles as the store's conditional write does: on the
// conversation admission found open, not the stored one.
func (s *memStore) SettleClaimed(ctx context.Context, claimed domain.Message, apply func(m *domain.Message, conv domain.Conversation) error) (domain.Message, error) {
	return s.Settle(ctx, claimed.Tenant, claimed.ID, claimed.Attempts, func(m *domain.Message, _ domain.Conversation) error {
		return apply(m, claimed.AdmittedConversation())
	})
}

// HoldMessage holds a claimed message with its channel, as the store's
// transaction does: a refusal holds the channel unless it is held
// already, and without one the channel's own hold decides (ErrNotHeld when
// it has none).
func (s *memStore) HoldMessage(ctx context.Context, tenant, id string, attempt int, now time.Time, refusal *domain.Hold) (store.Held, error) {
	if err := ctx.Err(); err != nil {
		return store.Held{}, fmt.Errorf("hold message %s/%s: %w", tenant, id, err)
	}
	if s.beforeHold != nil {
		s.beforeHold()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holdErr != nil {
		return store.Held{}, fmt.Errorf("hold message %s/%s: %w", tenant, id, s.holdErr)
	}
	m, ok := s.messages[key(tenant, id)]
	if !ok {
		return store.Held{}, fmt.Errorf("hold message %s/%s: %w", tenant, id, store.ErrNotFound)
	}
	if m.Status != domain.StatusDispatching || m.Attempts != attempt {
		return store.Held{}, fmt.Errorf("hold message %s/%s: %w: %s, attempt %d", tenant, id, store.ErrStale, m.Status, m.Attempts)
	}
	ch, chOK := s.channels[key(tenant, m.Channel)]
	var out store.Held
	switch {
	case ch.Hold != nil:
		out.Hold = *ch.Hold
	case refusal == nil:
		return store.Held{}, fmt.Errorf("hold message %s/%s: %w", tenant, id, store.ErrNotHeld)
	default:
		out.Hold, out.NewHold = *refusal, chOK
		if chOK {
			h := *refusal
			ch.Hold = &h
			s.channels[key(tenant, m.Channel)] = ch
		}
	}
	m = clone(m)
	if err := m.HoldFor(out.Hold, now); err != nil {
		return store.Held{}, err
	}
	s.messages[key(tenant, id)] = m
	out.Message = clone(m)
	return out, nil
}

// setConnected connects or disconnects a stored channel, as the admin
// CLI does.
func (s *memStore) setConnected(tenant, id string, connected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[key(tenant, id)]
	ch.Connected = connected
	s.channels[key(tenant, id)] = ch
}

// release lifts a channel's hold, as channel connect does.
func (s *memStore) release(tenant, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[key(tenant, id)]
	ch.Hold, ch.Connected = nil, true
	s.channels[key(tenant, id)] = ch
}

// put stores m as it is.
func (s *memStore) put(m domain.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages[key(m.Tenant, m.ID)] = clone(m)
}

// message returns the stored m.
func (s *memStore) message(tenant, id string) domain.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.messages[key(tenant, id)])
}

// move changes a stored message as another writer would (Meta's webhook,
// sweep), under the state machine.
func (s *memStore) move(tenant, id string, to domain.Status, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := clone(s.messages[key(tenant, id)])
	if err := m.Move(to, at); err != nil {
		return err
	}
	s.messages[key(tenant, id)] = m
	return nil
}

func (s *memStore) putConversation(tenant string, c domain.Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conversations[key(tenant, domain.ConversationKey(c.Channel, c.Phone))] = c
}

func (s *memStore) putChannel(tenant string, ch domain.Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[key(tenant, ch.ID)] = ch
}

func (s *memStore) channel(tenant, id string) (domain.Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[key(tenant, id)]
	return ch, ok
}

// memChannels is dispatch.Channels: a per-instance cache over memStore's
// channels, kept until ForgetChannels, as the catalog keeps them.
type memChannels struct {
	store *memStore
	mu    sync.Mutex
	cache map[string]domain.Channel
}

func (c *memChannels) Channel(_ context.Context, tenant, id string) (domain.Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.cache[key(tenant, id)]; ok {
		return ch, nil
	}
	ch, ok := c.store.channel(tenant, id)
	if !ok {
		return domain.Channel{}, fmt.Errorf("channel %s/%s: %w", tenant, id, store.ErrNotFound)
	}
	if c.cache == nil {
		c.cache = map[string]domain.Channel{}
	}
	c.cache[key(tenant, id)] = ch
	return ch, nil
}

func (c *memChannels) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	t, ok := c.store.tenants[id]
	if !ok {
		return domain.Tenant{}, fmt.Errorf("tenant %s: %w", id, store.ErrNotFound)
	}
	return t, nil
}

func (c *memChannels) ForgetChannels(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.cache {
		if strings.HasPrefix(k, tenant+"/") {
			delete(c.cache, k)
		}
	}
}

// memSecrets is dispatch.Secrets: access tokens by reference.
type memSecrets map[string]string

func (s memSecrets) Resolve(_ context.Context, ref string) (string, error) {
	token, ok := s[ref]
	if !ok {
		return "", fmt.Errorf("secret %q: %w", ref, errNoSecret)
	}
	return token, nil
}

var errNoSecret = errors.New("no such secret")

// fakeSender is dispatch.Sender: it records every request and answers
// with answer, given the 1-based number of the call.
type fakeSender struct {
	answer func(call int, r provider.SendRequest) (provider.Result, error)

	mu   sync.Mutex
	reqs []provider.SendRequest
}

func (f *fakeSender) Send(_ context.Context, r provider.SendRequest) (provider.Result, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	n := len(f.reqs)
	f.mu.Unlock()
	return f.answer(n, r)
}

func (f *fakeSender) requests() []provider.SendRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// notes is dispatch.Notifier and dispatch.ChannelNotifier: the messages
// and channel holds it was told about.
type notes struct {
	mu    sync.Mutex
	seen  []domain.Message
	holds []heldNote
}

// heldNote is one channel.held callback.
type heldNote struct {
	tenant, url, channel string
	hold                 domain.Hold
}

func (n *notes) NotifyChannelHeld(_ context.Context, tenant, url, channel string, h domain.Hold) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.holds = append(n.holds, heldNote{tenant, url, channel, h})
}

func (n *notes) channelHolds() []heldNote {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.holds)
}

func (n *notes) Notify(_ context.Context, m domain.Message) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seen = append(n.seen, clone(m))
}

func (n *notes) statuses() []domain.Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []domain.Status
	for _, m := range n.seen {
		out = append(out, m.Status)
	}
	return out
}
