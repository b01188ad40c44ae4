package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/domain"
)

// TenantIDs lists every tenant's id. Only sweep walks all tenants; each
// of its queries still reads one tenant's documents, none across them.
func (s *Store) TenantIDs(ctx context.Context) ([]string, error) {
	return s.ids(ctx, s.fs.Collection("tenants").Query, "tenants")
}

// StaleMessage is a single send sweep republishes: what its dispatch job
// needs to be paced without a read (its channel), and where the next page
// of stale messages starts (its updatedAt and id).
type StaleMessage struct {
	ID        string
	Channel   string
	UpdatedAt time.Time
}

// StaleAccepted returns up to limit of a tenant's single sends that have
// been accepted and untouched since before, oldest first: their publish
// was lost, or their redelivery is late. A broadcast's messages are left
// to its own sweep (batch.Service.Sweep), which knows whether it is
// paused.
//
// It pages: after is the last message of the previous page, and the zero
// StaleMessage starts at the oldest. Pages follow (updatedAt, document
// id), so messages written in the same instant are neither skipped nor
// repeated at a page's edge. The query reads only channel and updatedAt: a
// projection costs one read per document like the ids alone. Uses the
// composite index (status, batch, updatedAt), whose entries end in the
// document id in the same ascending order.
func (s *Store) StaleAccepted(ctx context.Context, tenant string, before time.Time, after StaleMessage, limit int) ([]StaleMessage, error) {
	q := s.sub(tenant, "messages").Where("status", "==", string(domain.StatusAccepted)).Where("batch", "==", "").
		Where("updatedAt", "<", before).OrderBy("updatedAt", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc)
	if after.ID != "" {
		q = q.StartAfter(after.UpdatedAt, after.ID)
	}
	docs, err := q.Limit(limit).Select("channel", "updatedAt").Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list stale accepted messages of %s: %w", tenant, err)
	}
	out := make([]StaleMessage, len(docs))
	for i, d := range docs {
		var f struct {
			Channel   string    `firestore:"channel"`
			UpdatedAt time.Time `firestore:"updatedAt"`
		}
		if err := d.DataTo(&f); err != nil {
			return nil, fmt.Errorf("read stale message %s/%s: %w", tenant, d.Ref.ID, err)
		}
		out[i] = StaleMessage{ID: d.Ref.ID, Channel: f.Channel, UpdatedAt: f.UpdatedAt}
	}
	return out, nil
}

// ExpiredLeases returns up to limit ids of a tenant's messages still
// dispatching after their lease ran out at now. Uses the composite index
// (status, leaseUntil).
func (s *Store) ExpiredLeases(ctx context.Context, tenant string, now time.Time, limit int) ([]string, error) {
	q := s.sub(tenant, "messages").Where("status", "==", string(domain.StatusDispatching)).
		Where("leaseUntil", "<", now).OrderBy("leaseUntil", firestore.Asc).Limit(limit)
	return s.ids(ctx, q, "expired leases of "+tenant)
}

func (s *Store) ids(ctx context.Context, q firestore.Query, what string) ([]string, error) {
	docs, err := q.Select().Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.Ref.ID
	}
	return ids, nil
}

// ExpireLease marks a message whose dispatch lease ran out as unknown: the
// provider call may or may not have happened, so it is not resent at
// once; it waits up to wait for a webhook to reconcile it
// (domain.Message.MarkUnknown). It returns ErrStale (wrapped) when the
// message is no longer dispatching or its lease was renewed, so two sweeps
// at once, or a late outcome, are harmless.
func (s *Store) ExpireLease(ctx context.Context, tenant, id string, now time.Time, wait time.Duration) (domain.Message, error) {
	ref := s.message(tenant, id)
	var m domain.Message
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if m, err = readMessage(tx, ref); err != nil {
			return err
		}
		if m.Status != domain.StatusDispatching || now.Before(m.LeaseUntil) {
			return fmt.Errorf("%w: %s until %s", ErrStale, m.Status, m.LeaseUntil)
		}
		lost := &domain.MessageError{Title: "outcome unknown: the dispatch attempt's lease ran out; it waits for Meta's status webhook"}
		if err := m.MarkUnknown(lost, now, wait); err != nil {
			return err
		}
		return tx.Set(ref, m)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return m, fmt.Errorf("expire lease of message %s/%s: %w", tenant, id, err)
	}
	return m, nil
}

// CloseExpiredConversations deletes up to limit of a tenant's
// conversations that expired before now and returns how many it deleted.
// Each delete is conditioned on the document being unchanged since it was
// read, so a conversation a webhook just extended survives.
func (s *Store) CloseExpiredConversations(ctx context.Context, tenant string, now time.Time, limit int) (int, error) {
	docs, err := s.sub(tenant, "conversations").Where("expiresAt", "<", now).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return 0, fmt.Errorf("list expired conversations of %s: %w", tenant, masked(err))
	}
	closed := 0
	for _, d := range docs {
		_, err := d.Ref.Delete(ctx, firestore.LastUpdateTime(d.UpdateTime))
		switch status.Code(err) {
		case codes.OK:
			closed++
		case codes.FailedPrecondition, codes.NotFound:
			// Extended meanwhile, or another sweep closed it.
		default:
			return closed, fmt.Errorf("close conversation %s: %w", maskDigits(d.Ref.Path), masked(err))
		}
	}
	return closed, nil
}
