package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// txAttempts is generous because a message's first delivery and its
// duplicates race for the same document on purpose; the losers must see
// the winner's write rather than give up.
const txAttempts = 30

// ErrStale is returned when a message is no longer in the state an
// operation expects: another delivery claimed it, or sweep expired its lease.
var ErrStale = errors.New("message is not in the expected state")

// Claim moves a message from accepted to dispatching with a lease, in a
// transaction, so exactly one of many concurrent deliveries gets it. It
// returns ErrStale (wrapped) when the message is in any other state.
func (s *Store) Claim(ctx context.Context, tenant, id string, now time.Time, lease time.Duration) (domain.Message, error) {
	if !ValidID(tenant) || !ValidID(id) {
		return domain.Message{}, fmt.Errorf("claim message %q: %w", id, ErrNotFound)
	}
	ref := s.message(tenant, id)
	var m domain.Message
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if m, err = readMessage(tx, ref); err != nil {
			return err
		}
		if err := m.Move(domain.StatusDispatching, now); err != nil {
			return fmt.Errorf("%w: %s", ErrStale, m.Status)
		}
		m.Attempts++
		m.LeaseUntil = now.Add(lease)
		return tx.Set(ref, m)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return m, fmt.Errorf("claim message %s/%s: %w", tenant, id, err)
	}
	return m, nil
}

// readMessage reads a message inside a transaction.
func readMessage(tx *firestore.Transaction, ref *firestore.DocumentRef) (domain.Message, error) {
	var m domain.Message
	snap, err := tx.Get(ref)
	if notFound(err) {
		return m, ErrNotFound
	}
	if err != nil {
		return m, err
	}
	if err := snap.DataTo(&m); err != nil {
		return m, err
	}
	m.ID = ref.ID
	return m, nil
}

// WAMID maps a provider message id to its message, so a webhook finds the
// message in one read.
type WAMID struct {
	Tenant  string    `firestore:"tenant"`
	Message string    `firestore:"message"`
	At      time.Time `firestore:"at"`
	// ExpireAt is its message's: the index goes with the message.
	ExpireAt time.Time `firestore:"expireAt,omitempty"`
}

// Settle writes the outcome of a dispatch attempt in a transaction. It reads
// the message and the contact's conversation on its channel, and calls
// apply only while the message is still the attempt's (dispatching, same
// attempt count); otherwise it returns ErrStale. A provider message id set
// by apply is indexed under wamids/ in the same commit, and a message apply
// fails before Meta took it gives back its conversation reservation.
func (s *Store) Settle(ctx context.Context, tenant, id string, attempt int, apply func(m *domain.Message, conv domain.Conversation) error) (domain.Message, error) {
	ref := s.message(tenant, id)
	var m domain.Message
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if m, err = readMessage(tx, ref); err != nil {
			return err
		}
		if m.Status != domain.StatusDispatching || m.Attempts != attempt {
			return fmt.Errorf("%w: %s, attempt %d", ErrStale, m.Status, m.Attempts)
		}
		conv, err := readConversation(tx, s.conversation(tenant, m.Channel, m.PhoneNumber))
		if err != nil {
			return err
		}
		if err := apply(&m, conv); err != nil {
			return err
		}
		if err := tx.Set(ref, m); err != nil {
			return err
		}
		if m.Status == domain.StatusFailed && m.ProviderMessageID == "" {
			// Meta never took it: the conversation it reserved is given back.
			if err := s.releaseReservation(tx, m, conv); err != nil {
				return err
			}
		}
		if m.ProviderMessageID != "" {
			return s.indexWAMID(tx, m)
		}
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return m, fmt.Errorf("settle message %s/%s: %w", tenant, id, masked(err))
	}
	return m, nil
}

// indexWAMID records, in tx, which message a provider message id is.
func (s *Store) indexWAMID(tx *firestore.Transaction, m domain.Message) error {
	return tx.Set(s.fs.Collection("wamids").Doc(m.ProviderMessageID), WAMID{Tenant: m.Tenant, Message: m.ID, At: m.UpdatedAt, ExpireAt: m.ExpireAt})
}

// PutConversation creates or replaces a conversation window.
func (s *Store) PutConversation(ctx context.Context, tenant string, c domain.Conversation) error {
	_, err := s.conversation(tenant, c.Channel, c.Phone).Set(ctx, c)
	if err != nil {
		return fmt.Errorf("put conversation %s: %w", c.ID, err)
	}
	return nil
}
