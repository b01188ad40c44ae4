package memory

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// Store is the accept path's store in memory, with the semantics the
// Firestore store gives it: idempotency records claimed and conditioned on
// their version, and a send that would open a conversation under a
// limited plan reserving one from sharded counters in the same commit as
// its message, or refused. One mutex stands for Firestore's preconditions:
// rules tested against it run in microseconds, and the store's own tests
// prove the real one on the emulator.
type Store struct {
	T testing.TB

	mu            sync.Mutex
	clock         int64 // versions, strictly increasing
	keys          map[string]store.IdempotencyRecord
	Messages      map[string]domain.Message
	Contacts      map[string]domain.Contact
	Conversations map[string]domain.Conversation
	// ContactWrites counts the commits that wrote a contact.
	ContactWrites int
	shards        map[string]int // month/shard → count
}

// NewStore returns an empty store; t, when not nil, fails on a message
// the accept path should never build.
func NewStore(t testing.TB) *Store {
	return &Store{T: t, keys: map[string]store.IdempotencyRecord{}, Messages: map[string]domain.Message{},
		Contacts: map[string]domain.Contact{}, Conversations: map[string]domain.Conversation{}, shards: map[string]int{}}
}

func (s *Store) version() time.Time {
	s.clock++
	return time.Unix(0, s.clock)
}

func keyOf(tenant, key string) string { return tenant + "\x00" + key }

// ClaimKey creates rec under key unless the key has a record.
func (s *Store) ClaimKey(_ context.Context, tenant, key string, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.keys[keyOf(tenant, key)]; ok {
		return got, false, nil
	}
	rec.Version = s.version()
	s.keys[keyOf(tenant, key)] = rec
	return rec, true, nil
}

// TakeOverKey replaces old with rec if old is still the record.
func (s *Store) TakeOverKey(_ context.Context, tenant, key string, old, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	got, ok := s.keys[keyOf(tenant, key)]
	if !ok || !got.Version.Equal(old.Version) {
		return rec, false, nil
	}
	rec.Version = s.version()
	s.keys[keyOf(tenant, key)] = rec
	return rec, true, nil
}

// ReleaseKey deletes the record written at version.
func (s *Store) ReleaseKey(_ context.Context, tenant, key string, version time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.keys[keyOf(tenant, key)]; ok && got.Version.Equal(version) {
		delete(s.keys, keyOf(tenant, key))
	}
	return nil
}

// Idempotency returns a key's record.
func (s *Store) Idempotency(_ context.Context, tenant, key string) (store.IdempotencyRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	got, ok := s.keys[keyOf(tenant, key)]
	if !ok {
		return got, store.ErrNotFound
	}
	return got, nil
}

// SetIdempotencyAnswer settles a key's answer.
func (s *Store) SetIdempotencyAnswer(_ context.Context, tenant, key string, code int, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	got, ok := s.keys[keyOf(tenant, key)]
	if !ok {
		return store.ErrNotFound
	}
	got.Code, got.Body, got.State, got.Version = code, body, store.KeyDone, s.version()
	s.keys[keyOf(tenant, key)] = got
	return nil
}

// Accept commits an acceptance as the Firestore store does.
func (s *Store) Accept(_ context.Context, a store.Acceptance) (time.Time, error) {
	m := a.Message
	if s.T != nil && (m.ID == "" || m.Status != domain.StatusAccepted || m.Channel == "" || a.Contact.Phone != m.PhoneNumber) {
		s.T.Errorf("accepting a malformed message: %+v", m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.IdempotencyKey != "" {
		got, ok := s.keys[keyOf(m.Tenant, a.IdempotencyKey)]
		if !ok || !got.Version.Equal(a.Idempotency.Version) {
			return time.Time{}, store.ErrKeyExists
		}
	}
	convKey := m.Tenant + "/" + domain.ConversationKey(m.Channel, m.PhoneNumber)
	if a.Limit > 0 {
		conv := s.Conversations[convKey]
		if conv.NeedsReservation(a.Now) {
			month := domain.MonthKey(a.Now)
			shard, err := domain.PickShard(a.Limit, 0, func(i int) int { return s.shards[m.Tenant+"/"+month+"/"+domain.ShardID(i)] })
			if err != nil {
				return time.Time{}, err
			}
			s.shards[m.Tenant+"/"+month+"/"+domain.ShardID(shard)]++
			conv.Channel, conv.Phone = m.Channel, m.PhoneNumber
			conv.Reserve(m.ID, month, shard, a.Now)
			s.Conversations[convKey] = conv
		}
	}
	if _, ok := s.Messages[m.ID]; ok {
		return time.Time{}, errors.New("message exists")
	}
	s.Messages[m.ID] = m
	if !a.KeepContact {
		// Merged as the store's commit merges: only what the send carries.
		k := m.Tenant + "/" + a.Contact.Phone
		c := s.Contacts[k]
		c.Phone, c.UpdatedAt = a.Contact.Phone, a.Contact.UpdatedAt
		c.FirstName = cmp.Or(a.Contact.FirstName, c.FirstName)
		c.LastName = cmp.Or(a.Contact.LastName, c.LastName)
		c.Name = cmp.Or(a.Contact.Name, c.Name)
		s.Contacts[k] = c
		s.ContactWrites++
	}
	if a.IdempotencyKey != "" {
		rec := a.Idempotency
		rec.Version = s.version()
		s.keys[keyOf(m.Tenant, a.IdempotencyKey)] = rec
	}
	return s.version(), nil
}

// Used is how many conversations a tenant's month counts.
func (s *Store) Used(tenant, month string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := range domain.LimitShards {
		n += s.shards[tenant+"/"+month+"/"+domain.ShardID(i)]
	}
	return n
}

// PutConversation stores a conversation.
func (s *Store) PutConversation(tenant string, c domain.Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Conversations[tenant+"/"+domain.ConversationKey(c.Channel, c.Phone)] = c
}

// PutContact stores a contact.
func (s *Store) PutContact(tenant string, c domain.Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Contacts[tenant+"/"+c.Phone] = c
}

// Conversation returns the contact's conversation on a channel.
func (s *Store) Conversation(_ context.Context, tenant, channel, phone string) (domain.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Conversations[tenant+"/"+domain.ConversationKey(channel, phone)], nil
}

// Contact returns a contact.
func (s *Store) Contact(_ context.Context, tenant, phone string) (domain.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.Contacts[tenant+"/"+phone]
	if !ok {
		return c, store.ErrNotFound
	}
	return c, nil
}

// Recipient returns a send's contact and its conversation on a channel.
func (s *Store) Recipient(_ context.Context, tenant, channel, phone string) (store.Recipient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.Contacts[tenant+"/"+phone]
	return store.Recipient{Contact: c, Known: ok, Conversation: s.Conversations[tenant+"/"+domain.ConversationKey(channel, phone)]}, nil
}

// WatchMessage answers the message once done holds for it, or when ctx
// ends; messages do not change here unless a test changes them.
func (s *Store) WatchMessage(ctx context.Context, tenant, id string, done func(domain.Message) bool) (domain.Message, error) {
	s.mu.Lock()
	m, ok := s.Messages[id]
	s.mu.Unlock()
	if ok && done(m) {
		return m, nil
	}
	<-ctx.Done()
	return m, ctx.Err()
}
