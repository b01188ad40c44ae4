package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrKeyExists is returned by Accept and CommitBatch when the idempotency
// key's record is no longer the one this request claimed: another request
// took the key, and the caller answers from its record.
var ErrKeyExists = errors.New("idempotency key already used")

// The states of an idempotency record.
const (
	// KeyInFlight: a request holds the key and has not answered yet.
	KeyInFlight = "inflight"
	// KeyDone: the record holds the first answer ("" in older records).
	KeyDone = "done"
)

// IdempotencyRecord is what an Idempotency-Key names for 24 h (a TTL policy
// on expireAt removes it): the request that first used it, while it is
// being handled, and then the answer it got. The in-flight state lives
// here, not in an instance's memory, so a retry on any instance sees it.
type IdempotencyRecord struct {
	RequestHash string `firestore:"requestHash"`
	MessageID   string `firestore:"messageId,omitempty"`
	Batch       string `firestore:"batch,omitempty"`
	Code        int    `firestore:"code"`
	Body        []byte `firestore:"body"`
	State       string `firestore:"state,omitempty"`
	// LeaseUntil bounds an in-flight claim: a request that died holding
	// the key leaves it to a retry after this.
	LeaseUntil time.Time `firestore:"leaseUntil,omitempty"`
	ExpireAt   time.Time `firestore:"expireAt"`
	// Version is the record's update time as read or written: later writes
	// are conditioned on it.
	Version time.Time `firestore:"-"`
}

// InFlight reports whether a request still holds the key at now.
func (r IdempotencyRecord) InFlight(now time.Time) bool {
	return r.State == KeyInFlight && now.Before(r.LeaseUntil)
}

// Answered reports whether the record holds a request's answer.
func (r IdempotencyRecord) Answered() bool { return r.Code != 0 }

// updates are every field of r, for a conditioned Update.
func (r IdempotencyRecord) updates() []firestore.Update {
	return []firestore.Update{
		{Path: "requestHash", Value: r.RequestHash}, {Path: "messageId", Value: r.MessageID},
		{Path: "batch", Value: r.Batch}, {Path: "code", Value: r.Code}, {Path: "body", Value: r.Body},
		{Path: "state", Value: r.State}, {Path: "leaseUntil", Value: r.LeaseUntil}, {Path: "expireAt", Value: r.ExpireAt},
	}
}

// ClaimKey creates rec (in flight) under a tenant's key. When the key
// already has a record, claimed is false and got is that record.
func (s *Store) ClaimKey(ctx context.Context, tenant, key string, rec IdempotencyRecord) (got IdempotencyRecord, claimed bool, err error) {
	ref := s.idempotency(tenant, key)
	wr, err := ref.Create(ctx, rec)
	if err == nil {
		rec.Version = wr.UpdateTime
		return rec, true, nil
	}
	if status.Code(err) != codes.AlreadyExists {
		return rec, false, fmt.Errorf("claim idempotency key of %s: %w", tenant, err)
	}
	got, err = s.Idempotency(ctx, tenant, key)
	if errors.Is(err, ErrNotFound) {
		// Released between the create and the read: claim it again.
		return s.ClaimKey(ctx, tenant, key, rec)
	}
	return got, false, err
}

// TakeOverKey replaces old, a claim whose lease ran out, with rec, only if
// old is still the record (another retry may take it first).
func (s *Store) TakeOverKey(ctx context.Context, tenant, key string, old, rec IdempotencyRecord) (IdempotencyRecord, bool, error) {
	wr, err := s.idempotency(tenant, key).Update(ctx, rec.updates(), firestore.LastUpdateTime(old.Version))
	switch {
	case err == nil:
		rec.Version = wr.UpdateTime
		return rec, true, nil
	case status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.NotFound:
		return rec, false, nil
	}
	return rec, false, fmt.Errorf("take over idempotency key of %s: %w", tenant, err)
}

// ReleaseKey deletes the claim written at version, so a request refused
// before anything was stored leaves its key free: validation failures are
// not stored under a key.
func (s *Store) ReleaseKey(ctx context.Context, tenant, key string, version time.Time) error {
	_, err := s.idempotency(tenant, key).Delete(ctx, firestore.LastUpdateTime(version))
	if err != nil && status.Code(err) != codes.FailedPrecondition && status.Code(err) != codes.NotFound {
		return fmt.Errorf("release idempotency key of %s: %w", tenant, err)
	}
	return nil
}

// Idempotency returns the record stored under a tenant's idempotency key.
func (s *Store) Idempotency(ctx context.Context, tenant, key string) (IdempotencyRecord, error) {
	var r IdempotencyRecord
	ref := s.idempotency(tenant, key)
	if !ValidID(ref.ID) {
		return r, ErrNotFound
	}
	snap, err := ref.Get(ctx)
	if notFound(err) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("read idempotency record of %s: %w", tenant, err)
	}
	if err := snap.DataTo(&r); err != nil {
		return r, fmt.Errorf("decode idempotency record of %s: %w", tenant, err)
	}
	r.Version = snap.UpdateTime
	return r, nil
}

// SetIdempotencyAnswer replaces the answer stored under a key once the
// request settles it (a send that waited for its outcome), so a retry gets
// what the client got, and ends the in-flight state.
func (s *Store) SetIdempotencyAnswer(ctx context.Context, tenant, key string, code int, body []byte) error {
	_, err := s.idempotency(tenant, key).Update(ctx, []firestore.Update{
		{Path: "code", Value: code}, {Path: "body", Value: body}, {Path: "state", Value: KeyDone},
	})
	if err != nil {
		return fmt.Errorf("update idempotency answer of %s: %w", tenant, err)
	}
	return nil
}
