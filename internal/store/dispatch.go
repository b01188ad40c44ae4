package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/domain"
)

// txAttempts is generous because a message's first delivery and its
// duplicates race for the same document on purpose; the losers must see
// the winner's write rather than give up.
const txAttempts = 30

// ErrStale is returned when a message is no longer in the state an
// operation expects: another delivery claimed it, or sweep expired its lease.
var ErrStale = errors.New("message is not in the expected state")

// Claim moves a message from accepted to dispatching with a lease, so
// exactly one of many concurrent deliveries gets it. It returns ErrStale
// (wrapped) when the message is in any other state.
//
// It is a read and an update conditioned on the read's update time, not
// a transaction: two calls instead of three, and no lock for the
// duplicate deliveries that race for the message on purpose. A loser's
// update fails its precondition; it reads again and finds the message
// dispatching. The message returned carries the claim's own update time
// (Version), on which SettleClaimed conditions the outcome.
func (s *Store) Claim(ctx context.Context, tenant, id string, now time.Time, lease time.Duration) (domain.Message, error) {
	if !ValidID(tenant) || !ValidID(id) {
		return domain.Message{}, fmt.Errorf("claim message %q: %w", id, ErrNotFound)
	}
	ref := s.message(tenant, id)
	for range txAttempts {
		snap, err := ref.Get(ctx)
		if notFound(err) {
			return domain.Message{}, fmt.Errorf("claim message %s/%s: %w", tenant, id, ErrNotFound)
		}
		if err != nil {
			return domain.Message{}, fmt.Errorf("claim message %s/%s: %w", tenant, id, masked(err))
		}
		var read domain.Message
		if err := snap.DataTo(&read); err != nil {
			return domain.Message{}, fmt.Errorf("claim message %s/%s: %w", tenant, id, masked(err))
		}
		read.ID, read.Version = id, snap.UpdateTime
		m, err := s.claimRead(ctx, tenant, read, now, lease)
		if moved(err) {
			continue // another writer moved it since the read: look again
		}
		return m, err
	}
	return domain.Message{}, fmt.Errorf("claim message %s/%s: still contended after %d reads", tenant, id, txAttempts)
}

// ClaimAccepted is Claim without its read, for a message exactly as
// accept stored it (accepted, its Version the accept commit's update
// time), which a dispatch job carries: one update conditioned on that
// version. A message changed since (claimed by another delivery, swept,
// cancelled) fails the precondition, and Claim decides on what is stored.
func (s *Store) ClaimAccepted(ctx context.Context, accepted domain.Message, now time.Time, lease time.Duration) (domain.Message, error) {
	tenant, id := accepted.Tenant, accepted.ID
	if !ValidID(tenant) || !ValidID(id) || accepted.Version.IsZero() {
		return s.Claim(ctx, tenant, id, now, lease)
	}
	m, err := s.claimRead(ctx, tenant, accepted, now, lease)
	if moved(err) {
		return s.Claim(ctx, tenant, id, now, lease)
	}
	return m, err
}

// claimRead claims read, tenant's message as stored at read.Version: the
// update lands only if nothing changed it since. That it did not (moved)
// is returned bare, for the caller to read again.
func (s *Store) claimRead(ctx context.Context, tenant string, read domain.Message, now time.Time, lease time.Duration) (domain.Message, error) {
	id := read.ID
	m := read
	m.History = slices.Clone(read.History)
	if err := m.Move(domain.StatusDispatching, now); err != nil {
		return read, fmt.Errorf("claim message %s/%s: %w: %s", tenant, id, ErrStale, read.Status)
	}
	m.Attempts++
	m.LeaseUntil = now.Add(lease)
	res, err := s.message(tenant, id).Update(ctx, fieldChanges(read, m), firestore.LastUpdateTime(read.Version))
	if moved(err) {
		return domain.Message{}, err
	}
	if err != nil {
		return domain.Message{}, fmt.Errorf("claim message %s/%s: %w", tenant, id, masked(err))
	}
	m.Version = res.UpdateTime
	return m, nil
}

// moved reports whether a write conditioned on a version read found the
// document changed or gone since.
func moved(err error) bool {
	return conflict(err) || status.Code(err) == codes.NotFound
}

// readMessage reads a message inside a transaction.
func readMessage(tx *firestore.Transaction, ref *firestore.DocumentRef) (domain.Message, error) {
	m, err := readIn[domain.Message](tx, ref)
	m.ID = ref.ID
	return m, err
}

// Settle writes the outcome of a dispatch attempt in a transaction. It reads
// the message and the contact's conversation on its channel, and calls
// apply only while the message is still the attempt's (dispatching, same
// attempt count); otherwise it returns ErrStale. A message apply fails
// before Meta took it gives back its conversation reservation.
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
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return m, fmt.Errorf("settle message %s/%s: %w", tenant, id, masked(err))
	}
	return m, nil
}

// SettleClaimed writes the outcome of the attempt that claimed claimed (a
// message as Claim returned it) in one commit, reading nothing: apply
// changes the claimed message, given the conversation admission found
// open (domain.Message.AdmittedConversation), and the change is written
// conditioned on the claim's own update time. A conversation that opened after
// admission is the status webhook's to join. When the message changed
// since the claim (sweep expired the lease, a webhook outran the
// outcome), or the send failed before Meta took it and may have to give
// back a conversation reservation, it is Settle's transaction that
// decides, on what is stored; apply may then run twice.
func (s *Store) SettleClaimed(ctx context.Context, claimed domain.Message, apply func(m *domain.Message, conv domain.Conversation) error) (domain.Message, error) {
	tenant, id := claimed.Tenant, claimed.ID
	if claimed.Version.IsZero() {
		return s.Settle(ctx, tenant, id, claimed.Attempts, apply)
	}
	m := claimed
	m.History = slices.Clone(claimed.History)
	if err := apply(&m, claimed.AdmittedConversation()); err != nil {
		return m, fmt.Errorf("settle message %s/%s: %w", tenant, id, err)
	}
	if m.Status == domain.StatusFailed && m.ProviderMessageID == "" {
		return s.Settle(ctx, tenant, id, claimed.Attempts, apply)
	}
	ups := fieldChanges(claimed, m)
	if len(ups) == 0 {
		return m, nil
	}
	res, err := s.message(tenant, id).Update(ctx, ups, firestore.LastUpdateTime(claimed.Version))
	if conflict(err) {
		return s.Settle(ctx, tenant, id, claimed.Attempts, apply)
	}
	if err != nil {
		return m, fmt.Errorf("settle message %s/%s: %w", tenant, id, masked(err))
	}
	m.Version = res.UpdateTime
	return m, nil
}

// PutConversation creates or replaces a conversation window, and stores
// its contact when there is none, as every writer of a conversation does
// (Recipient relies on it).
func (s *Store) PutConversation(ctx context.Context, tenant string, c domain.Conversation) error {
	b := s.fs.Batch() //nolint:staticcheck // one-RPC atomic write
	b.Set(s.conversation(tenant, c.Channel, c.Phone), c)
	b.Set(s.contact(tenant, c.Phone), map[string]any{"phone": c.Phone}, firestore.MergeAll)
	_, err := b.Commit(ctx)
	if err != nil {
		return fmt.Errorf("put conversation %s: %w", c.ID, err)
	}
	return nil
}
