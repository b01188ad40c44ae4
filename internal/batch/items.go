package batch

import (
	"context"
	"fmt"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// itemsAhead is how many chunks Items reads ahead of the one being
// yielded, so the caller's writing overlaps Firestore's reads.
const itemsAhead = 2

// loaded is one chunk and the messages of its sendable recipients.
type loaded struct {
	chunk store.BatchChunk
	msgs  []*domain.Message // by recipient index; nil for refused ones and messages not made yet
	err   error
}

// Items calls yield for each recipient of the tenant's batch with this
// code, in the order they were given; store.ErrNotFound (wrapped) when
// there is no such batch. It reads a chunk at a time with the messages of
// that chunk (one GetAll), a couple of chunks ahead, so memory stays
// bounded whatever the batch's size. A recipient whose message does not
// exist yet (its chunk is still being fanned out, or the batch is
// scheduled or paused) is accepted, or cancelled when the batch was
// cancelled (its chunk will make none); a refused one is failed with its
// problem as the reason.
func (s *Service) Items(ctx context.Context, tenant, code string, yield func(Item) error) error {
	rec, err := s.store.BatchByCode(ctx, tenant, code)
	if err != nil {
		return fmt.Errorf("batch %q of %s: %w", code, tenant, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unmade := domain.StatusAccepted
	if rec.State.Of() == domain.BatchCancelled {
		unmade = domain.StatusCancelled
	}
	ahead := make(chan loaded, itemsAhead)
	go func() {
		defer close(ahead)
		for n := range rec.Chunks {
			l := s.load(ctx, tenant, rec.ID, n)
			select {
			case ahead <- l:
			case <-ctx.Done():
				return
			}
			if l.err != nil {
				return
			}
		}
	}()
	for l := range ahead {
		if l.err != nil {
			return l.err
		}
		for i, r := range l.chunk.Recipients {
			if r.Duplicate {
				continue // reported once, with the first recipient of its number
			}
			if err := yield(item(r, l.msgs[i], unmade)); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

func (s *Service) load(ctx context.Context, tenant, batch string, n int) loaded {
	c, err := s.store.BatchChunk(ctx, tenant, batch, n)
	if err != nil {
		return loaded{err: fmt.Errorf("chunk %d of batch %s/%s: %w", n, tenant, batch, err)}
	}
	ids, at := sendable(batch, c)
	got, err := s.store.BatchMessages(ctx, tenant, ids)
	if err != nil {
		return loaded{err: fmt.Errorf("messages of chunk %d of batch %s/%s: %w", n, tenant, batch, err)}
	}
	msgs := make([]*domain.Message, len(c.Recipients))
	for j, i := range at {
		msgs[i] = got[j]
	}
	return loaded{chunk: c, msgs: msgs}
}

// item is one recipient's state; unmade is the state of a recipient whose
// message does not exist.
func item(r store.BatchRecipient, m *domain.Message, unmade domain.Status) Item {
	it := Item{Phone: r.Phone, Raw: r.Raw}
	switch {
	case r.Problem != "":
		it.Status, it.Reason = domain.StatusFailed, r.Problem
	case m == nil:
		it.Status = unmade
	default:
		it.Status = m.Status
		if m.Error != nil && (m.Status == domain.StatusFailed || m.Status == domain.StatusUnknown) {
			it.Reason = m.Error.Title
			it.Refused = *m.Error == store.LimitRefusal || *m.Error == store.OptOutRefusal
		}
	}
	return it
}
