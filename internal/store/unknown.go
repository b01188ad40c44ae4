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

// DueUnknown returns up to limit ids of a tenant's unknown messages whose
// wait for Meta's webhook ended before now. A message left for a person
// has no reconcileUntil and is never returned. Uses the composite index
// (status, reconcileUntil).
func (s *Store) DueUnknown(ctx context.Context, tenant string, now time.Time, limit int) ([]string, error) {
	q := s.sub(tenant, "messages").Where("status", "==", string(domain.StatusUnknown)).
		Where("reconcileUntil", "<=", now).OrderBy("reconcileUntil", firestore.Asc).Limit(limit)
	return s.ids(ctx, q, "unknown messages due of "+tenant)
}

// ResendUnknown puts an unknown message due for its one resend back to
// accepted (domain.Message.Resend) for the caller to publish; ErrStale
// (wrapped) when Meta's webhook settled it meanwhile or it is not due.
func (s *Store) ResendUnknown(ctx context.Context, tenant, id string, now time.Time) (domain.Message, error) {
	return s.transition(ctx, tenant, id, domain.StatusUnknown, func(m *domain.Message) error {
		if !m.ResendDue(now) {
			return fmt.Errorf("%w: not due for a resend", ErrStale)
		}
		return m.Resend(now)
	})
}

// KeepUnknown leaves an unknown message for a person: nothing resends it
// on its own any more. ErrStale (wrapped) when it is no longer unknown.
func (s *Store) KeepUnknown(ctx context.Context, tenant, id string) (domain.Message, error) {
	return s.transition(ctx, tenant, id, domain.StatusUnknown, func(m *domain.Message) error {
		return m.KeepUnknown()
	})
}

// SettleUnknown applies an operator's decision to an unknown message
// (domain.Message.Settle); ErrStale (wrapped) when it is not unknown,
// because Meta's webhook or sweep moved it first. A message settled as
// failed gives back the conversation it reserved.
func (s *Store) SettleUnknown(ctx context.Context, tenant, id string, as domain.Settlement, now time.Time) (domain.Message, error) {
	return s.transition(ctx, tenant, id, domain.StatusUnknown, func(m *domain.Message) error {
		return m.Settle(as, now)
	})
}

// notUpdatedSince reports a write refused because its document changed
// (or went) since it was read.
func notUpdatedSince(err error) bool {
	c := status.Code(err)
	return c == codes.FailedPrecondition || c == codes.NotFound
}
