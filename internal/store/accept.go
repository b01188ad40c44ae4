package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/domain"
)

// acceptAttempts bounds the rounds of a limited send: each round after the
// first follows another writer that moved the contact's conversation or
// the chosen counter shard meanwhile.
const acceptAttempts = 20

// Accept writes a new message, its contact and its idempotency record in
// one commit, so a 2xx answer always has its message and a failed commit
// leaves nothing behind. A WriteBatch is used, not a transaction: every
// condition is a precondition on a version read before (Firestore checks
// them in the commit), so contention costs a retry here, never a lock.
//
// Under a limited plan (a.Limit > 0), a send to a contact without an open
// or reserved conversation on the channel reserves one in the same commit:
// the contact's conversation document records the reservation and one
// counter shard with room counts it, both conditioned on the versions
// read. With no room in any shard the send is refused
// (domain.KindLimitReached) and nothing is written.
//
// It returns the message's version (its update time as created), on
// which a dispatch job that carries the message claims it without
// reading it (ClaimAccepted).
func (s *Store) Accept(ctx context.Context, a Acceptance) (time.Time, error) {
	m := a.Message
	for range acceptAttempts {
		b := s.fs.Batch() //nolint:staticcheck // one-RPC atomic write, conditioned by preconditions
		// The message is the batch's first write: its result is the version.
		b.Create(s.message(m.Tenant, m.ID), m)
		if a.Limit > 0 {
			if err := s.reserve(ctx, b, m, a.Limit, a.Now); err != nil {
				return time.Time{}, err
			}
		}
		if !a.KeepContact {
			b.Set(s.sub(m.Tenant, "contacts").Doc(a.Contact.Phone), sendContactFields(a.Contact), firestore.MergeAll)
		}
		if a.IdempotencyKey != "" {
			b.Update(s.idempotency(m.Tenant, a.IdempotencyKey), a.Idempotency.updates(), firestore.LastUpdateTime(a.Idempotency.Version))
		}
		res, err := b.Commit(ctx)
		if err == nil {
			return res[0].UpdateTime, nil
		}
		if !conflict(err) {
			return time.Time{}, fmt.Errorf("accept message %s: %w", m.ID, masked(err))
		}
		if a.IdempotencyKey != "" {
			rec, rerr := s.Idempotency(ctx, m.Tenant, a.IdempotencyKey)
			if rerr != nil && !errors.Is(rerr, ErrNotFound) {
				return time.Time{}, fmt.Errorf("accept message %s: %w", m.ID, rerr)
			}
			if rerr != nil || !rec.Version.Equal(a.Idempotency.Version) {
				return time.Time{}, ErrKeyExists
			}
		}
	}
	return time.Time{}, fmt.Errorf("accept message %s: still conflicting after %d attempts", m.ID, acceptAttempts)
}

// sendContactFields are what a send learns of its contact: only what it
// carries, merged into the stored contact.
func sendContactFields(c domain.Contact) map[string]any {
	f := map[string]any{"phone": c.Phone, "updatedAt": c.UpdatedAt}
	for k, v := range map[string]string{"firstName": c.FirstName, "lastName": c.LastName, "name": c.Name} {
		if v != "" {
			f[k] = v
		}
	}
	return f
}

// conflict reports whether a commit lost to a concurrent writer: a
// precondition no longer held, or a document it creates appeared.
func conflict(err error) bool {
	c := status.Code(err)
	return c == codes.FailedPrecondition || c == codes.AlreadyExists || c == codes.Aborted
}

// reserve adds to b the reservation of m's conversation, when the contact
// needs one, conditioned on the conversation and the shard as read now.
func (s *Store) reserve(ctx context.Context, b *firestore.WriteBatch, m domain.Message, limit int, now time.Time) error {
	convRef := s.conversation(m.Tenant, m.Channel, m.PhoneNumber)
	snap, err := convRef.Get(ctx)
	if err != nil && !notFound(err) {
		return fmt.Errorf("read conversation of %s: %w", domain.MaskPhone(m.PhoneNumber), masked(err))
	}
	var conv domain.Conversation
	if snap.Exists() {
		if err := snap.DataTo(&conv); err != nil {
			return fmt.Errorf("decode conversation of %s: %w", domain.MaskPhone(m.PhoneNumber), err)
		}
	}
	if !conv.NeedsReservation(now) {
		return nil
	}
	month := domain.MonthKey(now)
	shard, shardSnap, err := s.pickShard(ctx, m.Tenant, month, limit)
	if err != nil {
		return err
	}
	conv.Channel, conv.Phone = m.Channel, m.PhoneNumber
	conv.Reserve(m.ID, month, shard, now)
	if snap.Exists() {
		b.Update(convRef, conversationUpdates(conv), firestore.LastUpdateTime(snap.UpdateTime))
	} else {
		b.Create(convRef, conv)
	}
	shardRef := s.conversationCounter(m.Tenant, month).Doc(domain.ShardID(shard))
	if shardSnap.Exists() {
		b.Update(shardRef, []firestore.Update{{Path: "count", Value: firestore.Increment(1)}}, firestore.LastUpdateTime(shardSnap.UpdateTime))
	} else {
		b.Create(shardRef, map[string]any{"count": 1})
	}
	return nil
}

// pickShard finds a counter shard of month with room under limit: first
// one at random (one read while the plan has room), then, when that one is
// full, all of them at once.
func (s *Store) pickShard(ctx context.Context, tenant, month string, limit int) (int, *firestore.DocumentSnapshot, error) {
	n := domain.LimitShardCount(limit)
	counter := s.conversationCounter(tenant, month)
	start := rand.IntN(n)
	first, err := counter.Doc(domain.ShardID(start)).Get(ctx)
	if err != nil && !notFound(err) {
		return 0, nil, fmt.Errorf("read conversation count of %s: %w", tenant, err)
	}
	if shardCount(first) < domain.ShardCapacity(limit, start) {
		return start, first, nil
	}
	refs := make([]*firestore.DocumentRef, n)
	for i := range refs {
		refs[i] = counter.Doc(domain.ShardID(i))
	}
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return 0, nil, fmt.Errorf("read conversation counts of %s: %w", tenant, err)
	}
	i, err := domain.PickShard(limit, start+1, func(i int) int { return shardCount(snaps[i]) })
	if err != nil {
		return 0, nil, err
	}
	return i, snaps[i], nil
}

// shardCount is a counter shard's count; a missing shard counts none.
func shardCount(snap *firestore.DocumentSnapshot) int {
	if snap == nil || !snap.Exists() {
		return 0
	}
	v, err := snap.DataAt("count")
	if err != nil {
		return 0
	}
	n, _ := v.(int64)
	return int(n)
}

// conversationUpdates are every field of c, for a conditioned Update.
func conversationUpdates(c domain.Conversation) []firestore.Update {
	return []firestore.Update{
		{Path: "id", Value: c.ID}, {Path: "channel", Value: c.Channel}, {Path: "phone", Value: c.Phone},
		{Path: "openedAt", Value: c.OpenedAt}, {Path: "expiresAt", Value: c.ExpiresAt},
		{Path: "reservedBy", Value: c.ReservedBy}, {Path: "reservedMonth", Value: c.ReservedMonth},
		{Path: "reservedShard", Value: c.ReservedShard}, {Path: "reservedUntil", Value: c.ReservedUntil},
		{Path: "counted", Value: c.Counted},
	}
}

// conversationCount is the merge that counts a conversation that opened
// without a reservation (an unlimited plan, or the contact wrote first),
// in a random shard.
func (s *Store) conversationCount(tenant string, at time.Time) (*firestore.DocumentRef, map[string]any) {
	ref := s.conversationCounter(tenant, domain.MonthKey(at)).Doc(domain.ShardID(rand.IntN(domain.LimitShards)))
	return ref, map[string]any{"count": firestore.Increment(1)}
}

// releaseReservation gives back, in tx, the reservation m holds on conv.
func (s *Store) releaseReservation(tx *firestore.Transaction, m domain.Message, conv domain.Conversation) error {
	month, shard, ok := conv.Release(m.ID)
	if !ok {
		return nil
	}
	ref := s.conversation(m.Tenant, m.Channel, m.PhoneNumber)
	if conv.ID == "" {
		if err := tx.Delete(ref); err != nil {
			return err
		}
	} else if err := tx.Update(ref, conversationUpdates(conv)); err != nil {
		return err
	}
	return tx.Update(s.conversationCounter(m.Tenant, month).Doc(domain.ShardID(shard)), []firestore.Update{{Path: "count", Value: firestore.Increment(-1)}})
}
