package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// ErrNotHeld is returned by HoldMessage when the channel has no hold: it
// was released since the caller's copy of it was read, so the message,
// still the attempt's, may be sent.
var ErrNotHeld = errors.New("channel is not held")

// Held is what HoldMessage did: the message as held, and the channel's
// hold, which NewHold says this call set.
type Held struct {
	Message domain.Message
	Hold    domain.Hold
	NewHold bool
}

// HoldMessage moves a message dispatch has claimed (dispatching, this
// attempt) to held, in one transaction with its channel. With refusal set,
// Meta refused the channel as a whole on this attempt: the channel takes
// that hold unless it already has one (whose start is kept). Without it,
// the caller saw a hold on a cached copy of the channel: the channel is
// read again here, and ErrNotHeld (wrapped) says it was released
// meanwhile. Reading the channel in the transaction orders the hold
// against a release: a release that commits first is seen, one that
// commits after finds the message held and releases it.
func (s *Store) HoldMessage(ctx context.Context, tenant, id string, attempt int, now time.Time, refusal *domain.Hold) (Held, error) {
	ref := s.message(tenant, id)
	var out Held
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		out = Held{}
		m, err := readMessage(tx, ref)
		if err != nil {
			return err
		}
		if m.Status != domain.StatusDispatching || m.Attempts != attempt {
			return fmt.Errorf("%w: %s, attempt %d", ErrStale, m.Status, m.Attempts)
		}
		chRef := s.sub(tenant, "channels").Doc(m.Channel)
		var ch domain.Channel
		snap, err := tx.Get(chRef)
		switch {
		case notFound(err):
			if refusal == nil {
				return ErrNotHeld
			}
		case err != nil:
			return err
		default:
			if err := snap.DataTo(&ch); err != nil {
				return err
			}
		}
		switch {
		case ch.Hold != nil:
			out.Hold = *ch.Hold
		case refusal == nil:
			return ErrNotHeld
		default:
			out.Hold, out.NewHold = *refusal, snap != nil && snap.Exists()
			if out.NewHold {
				if err := tx.Update(chRef, []firestore.Update{{Path: "hold", Value: out.Hold}}); err != nil {
					return err
				}
			}
		}
		if err := m.HoldFor(out.Hold, now); err != nil {
			return err
		}
		out.Message = m
		return tx.Set(ref, m)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return out, fmt.Errorf("hold message %s/%s: %w", tenant, id, masked(err))
	}
	return out, nil
}

// ReleaseChannel connects a channel and lifts its hold, and returns it as
// it is afterwards; ErrNotFound (wrapped) for an unknown channel. Its held
// messages are released by ReleaseHeld.
func (s *Store) ReleaseChannel(ctx context.Context, tenant, id string) (domain.Channel, error) {
	ref := s.sub(tenant, "channels").Doc(id)
	var ch domain.Channel
	if !ValidID(tenant) || !ValidID(id) {
		return ch, fmt.Errorf("release channel %s/%s: %w", tenant, id, ErrNotFound)
	}
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if ch, err = readIn[domain.Channel](tx, ref); err != nil {
			return err
		}
		ch.ID, ch.Connected, ch.Hold = id, true, nil
		return tx.Update(ref, []firestore.Update{{Path: "connected", Value: true}, {Path: "hold", Value: firestore.Delete}})
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return ch, fmt.Errorf("release channel %s/%s: %w", tenant, id, err)
	}
	return ch, nil
}

// HeldCursor is where ReleaseHeld's next page starts: after the message
// created at At with id ID. The zero cursor starts at the oldest.
type HeldCursor struct {
	At time.Time
	ID string
}

// ReleaseHeld releases up to limit of a channel's held messages after
// cursor, oldest first: each moves back to accepted, conditioned on the
// document being as read, so a message that moved meanwhile (failed past
// the hold limit, or a webhook proved an earlier send) is left alone. It
// returns the ids released, in order, for the caller to publish, and the
// cursor of the next page; done when the page was the last. Uses the
// composite index (channel, status, createdAt).
func (s *Store) ReleaseHeld(ctx context.Context, tenant, channel string, cursor HeldCursor, limit int, now time.Time) (released []string, next HeldCursor, done bool, err error) {
	q := s.sub(tenant, "messages").Where("channel", "==", channel).Where("status", "==", string(domain.StatusHeld)).
		OrderBy("createdAt", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc)
	if cursor.ID != "" {
		q = q.StartAfter(cursor.At, cursor.ID)
	}
	docs, err := q.Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, cursor, false, fmt.Errorf("list held messages of %s/%s: %w", tenant, channel, err)
	}
	if len(docs) == 0 {
		return nil, cursor, true, nil
	}
	bw := s.fs.BulkWriter(ctx)
	ids := make([]string, 0, len(docs))
	jobs := make([]*firestore.BulkWriterJob, 0, len(docs))
	for _, d := range docs {
		var m domain.Message
		if err := d.DataTo(&m); err != nil {
			bw.End()
			return nil, cursor, false, fmt.Errorf("decode %s: %w", maskDigits(d.Ref.Path), err)
		}
		next = HeldCursor{At: m.CreatedAt, ID: d.Ref.ID}
		if err := m.Release(now); err != nil {
			continue
		}
		job, err := bw.Update(d.Ref, []firestore.Update{
			{Path: "status", Value: string(m.Status)},
			{Path: "history", Value: m.History},
			{Path: "updatedAt", Value: m.UpdatedAt},
			{Path: "error", Value: firestore.Delete},
		}, firestore.LastUpdateTime(d.UpdateTime))
		if err != nil {
			bw.End()
			return nil, cursor, false, fmt.Errorf("release message %s: %w", d.Ref.ID, err)
		}
		ids = append(ids, d.Ref.ID)
		jobs = append(jobs, job)
	}
	bw.End()
	var errs []error
	for i, job := range jobs {
		if _, err := job.Results(); err != nil {
			if !notUpdatedSince(err) {
				errs = append(errs, fmt.Errorf("release message %s: %w", ids[i], err))
			}
			continue
		}
		released = append(released, ids[i])
	}
	return released, next, len(docs) < limit, errors.Join(errs...)
}

// ExpiredHolds returns up to limit ids of a tenant's messages held since
// before. Uses the composite index (status, updatedAt): a held message
// changes only when it leaves held.
func (s *Store) ExpiredHolds(ctx context.Context, tenant string, before time.Time, limit int) ([]string, error) {
	q := s.sub(tenant, "messages").Where("status", "==", string(domain.StatusHeld)).
		Where("updatedAt", "<", before).OrderBy("updatedAt", firestore.Asc).Limit(limit)
	return s.ids(ctx, q, "expired holds of "+tenant)
}

// ExpireHold fails a message held for limit or longer at now, with its
// channel's reason, and gives back the conversation it reserved (Meta never
// took it). ErrStale (wrapped) when it is no longer held that long.
func (s *Store) ExpireHold(ctx context.Context, tenant, id string, limit time.Duration, now time.Time) (domain.Message, error) {
	return s.transition(ctx, tenant, id, domain.StatusHeld, func(m *domain.Message) error {
		if !m.HoldLapsed(limit, now) {
			return fmt.Errorf("%w: held since %s", ErrStale, m.UpdatedAt)
		}
		return m.ExpireHold(limit, now)
	})
}

// transition changes one message in a transaction: apply runs only while
// the message is in state from (else ErrStale, wrapped). A message it
// fails before Meta took it gives back its conversation reservation.
func (s *Store) transition(ctx context.Context, tenant, id string, from domain.Status, apply func(m *domain.Message) error) (domain.Message, error) {
	if !ValidID(tenant) || !ValidID(id) {
		return domain.Message{}, fmt.Errorf("message %q: %w", id, ErrNotFound)
	}
	ref := s.message(tenant, id)
	var m domain.Message
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if m, err = readMessage(tx, ref); err != nil {
			return err
		}
		if m.Status != from {
			return fmt.Errorf("%w: %s", ErrStale, m.Status)
		}
		if err := apply(&m); err != nil {
			return err
		}
		if m.Status == domain.StatusFailed && m.ProviderMessageID == "" {
			conv, err := readConversation(tx, s.conversation(tenant, m.Channel, m.PhoneNumber))
			if err != nil {
				return err
			}
			if err := s.releaseReservation(tx, m, conv); err != nil {
				return err
			}
		}
		return tx.Set(ref, m)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return m, fmt.Errorf("message %s/%s from %s: %w", tenant, id, from, masked(err))
	}
	return m, nil
}
