package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// cancelParallel bounds the cancel transactions in flight at once.
const cancelParallel = 16

// CancelBatchMessages moves each of the tenant's messages ids that is
// still accepted or held to cancelled, each in its own transaction, so a
// dispatch claiming one at the same moment either wins (and sends it) or
// finds it cancelled. Under a plan's limit (limited), each also gives back
// the conversation it reserved, which costs a read of the conversation.
// Messages in any other state, and ids with no message, are left alone.
// It returns the messages it cancelled.
func (s *Store) CancelBatchMessages(ctx context.Context, tenant string, ids []string, limited bool, now time.Time) ([]domain.Message, error) {
	var mu sync.Mutex
	var out []domain.Message
	var errs []error
	sem := make(chan struct{}, cancelParallel)
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m, ok, err := s.cancelMessage(ctx, tenant, id, limited, now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case ok:
				out = append(out, m)
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (s *Store) cancelMessage(ctx context.Context, tenant, id string, limited bool, now time.Time) (domain.Message, bool, error) {
	ref := s.message(tenant, id)
	var m domain.Message
	cancelled := false
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		cancelled = false
		var err error
		m, err = readMessage(tx, ref)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if m.Status != domain.StatusAccepted && m.Status != domain.StatusHeld {
			return nil
		}
		if err := s.cancelIn(tx, &m, limited, now); err != nil {
			return err
		}
		cancelled = true
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return m, false, fmt.Errorf("cancel message %s/%s: %w", tenant, id, masked(err))
	}
	return m, cancelled, nil
}

// cancelIn moves m to cancelled in tx and, when limited, gives back the
// conversation it reserved. The conversation is read before anything is
// written, as a transaction requires.
func (s *Store) cancelIn(tx *firestore.Transaction, m *domain.Message, limited bool, now time.Time) error {
	var conv domain.Conversation
	if limited {
		var err error
		if conv, err = readConversation(tx, s.conversation(m.Tenant, m.Channel, m.PhoneNumber)); err != nil {
			return err
		}
	}
	if err := m.Move(domain.StatusCancelled, now); err != nil {
		return err
	}
	if err := tx.Set(s.message(m.Tenant, m.ID), *m); err != nil {
		return err
	}
	if !limited {
		return nil
	}
	return s.releaseReservation(tx, *m, conv)
}

// UnclaimBatchMessage undoes dispatch's claim on a broadcast's message that
// must not be sent now, in a transaction, while the claim is still
// attempt's: the message goes back to accepted as if never claimed
// (domain.Message.Unclaim), for a paused broadcast to send once resumed;
// with cancel, it then moves to cancelled (and, when limited, gives back
// its conversation's reservation). ErrStale (wrapped) when the claim is no
// longer attempt's.
func (s *Store) UnclaimBatchMessage(ctx context.Context, tenant, id string, attempt int, cancel, limited bool, now time.Time) (domain.Message, error) {
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
		m.Unclaim(now)
		if cancel {
			return s.cancelIn(tx, &m, limited, now)
		}
		return tx.Set(ref, m)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return m, fmt.Errorf("unclaim message %s/%s: %w", tenant, id, masked(err))
	}
	return m, nil
}
