package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// MaxLimitedBatchMessages is how many messages ReserveBatchMessages takes
// at once: each may cost three writes (the message, its contact and its
// conversation's reservation), plus one per counter shard, and one commit
// takes 500.
const MaxLimitedBatchMessages = (batchMaxWrites - domain.LimitShards) / 3

// LimitRefusal is the error a bulk recipient's message records when the
// plan had no conversation left for it.
var LimitRefusal = domain.MessageError{Title: "conversation limit reached"}

// OptOutRefusal is the error a marketing bulk recipient's message records
// when the contact opted out of marketing.
var OptOutRefusal = domain.MessageError{Title: domain.OptOutRefusal}

// ReserveBatchMessages is CreateBatchMessages under a plan of limit
// conversations a month: each new message whose contact has no open or
// reserved conversation on its channel reserves one, in the same commit
// as the message, from the counter shards with room; those the plan has
// no room for are created failed with LimitRefusal, so they are reported
// one by one and never sent. Every condition is a precondition on the
// versions read, so a concurrent send or worker costs a retry, never an
// excess conversation.
func (s *Store) ReserveBatchMessages(ctx context.Context, tenant string, msgs []domain.Message, limit int, now time.Time) (existing map[string]domain.Status, err error) {
	if len(msgs) > MaxLimitedBatchMessages {
		return nil, fmt.Errorf("reserve %d batch messages of %s: at most %d per commit", len(msgs), tenant, MaxLimitedBatchMessages)
	}
	for range acceptAttempts {
		existing, pending, err := s.newMessages(ctx, tenant, msgs)
		if err != nil || len(pending) == 0 {
			return existing, err
		}
		b, err := s.reserveBatch(ctx, tenant, pending, limit, now)
		if err != nil {
			return nil, err
		}
		_, err = b.Commit(ctx)
		if err == nil {
			return existing, nil
		}
		if !conflict(err) {
			return nil, fmt.Errorf("reserve %d batch messages of %s: %w", len(pending), tenant, masked(err))
		}
	}
	return nil, fmt.Errorf("reserve %d batch messages of %s: still conflicting after %d attempts", len(msgs), tenant, acceptAttempts)
}

// newMessages splits msgs into those that exist (with their state) and
// those still to create.
func (s *Store) newMessages(ctx context.Context, tenant string, msgs []domain.Message) (map[string]domain.Status, []domain.Message, error) {
	refs := make([]*firestore.DocumentRef, len(msgs))
	for i, m := range msgs {
		refs[i] = s.message(tenant, m.ID)
	}
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return nil, nil, fmt.Errorf("read %d batch messages of %s: %w", len(refs), tenant, err)
	}
	existing := map[string]domain.Status{}
	var pending []domain.Message
	for i, snap := range snaps {
		if !snap.Exists() {
			pending = append(pending, msgs[i])
			continue
		}
		v, _ := snap.DataAt("status")
		word, _ := v.(string)
		existing[msgs[i].ID] = domain.Status(word)
	}
	return existing, pending, nil
}

// reserveBatch builds the commit of msgs with their reservations, as of
// the conversations and shards read now.
func (s *Store) reserveBatch(ctx context.Context, tenant string, msgs []domain.Message, limit int, now time.Time) (*firestore.WriteBatch, error) {
	convRefs := make([]*firestore.DocumentRef, len(msgs))
	for i, m := range msgs {
		convRefs[i] = s.conversation(tenant, m.Channel, m.PhoneNumber)
	}
	convs, err := s.fs.GetAll(ctx, convRefs)
	if err != nil {
		return nil, fmt.Errorf("read conversations of %d batch messages of %s: %w", len(msgs), tenant, masked(err))
	}
	month := domain.MonthKey(now)
	counter := s.conversationCounter(tenant, month)
	n := domain.LimitShardCount(limit)
	shardRefs := make([]*firestore.DocumentRef, n)
	for i := range shardRefs {
		shardRefs[i] = counter.Doc(domain.ShardID(i))
	}
	shards, err := s.fs.GetAll(ctx, shardRefs)
	if err != nil {
		return nil, fmt.Errorf("read conversation counts of %s: %w", tenant, err)
	}
	room := make([]int, n)
	for i := range room {
		room[i] = max(domain.ShardCapacity(limit, i)-shardCount(shards[i]), 0)
	}
	took := make([]int, n)
	start := rand.IntN(max(n, 1))

	b := s.fs.Batch() //nolint:staticcheck // one-RPC atomic write, conditioned by preconditions
	contacts := map[string]bool{}
	for i, m := range msgs {
		var conv domain.Conversation
		if convs[i].Exists() {
			if err := convs[i].DataTo(&conv); err != nil {
				return nil, fmt.Errorf("decode conversation of %s: %w", domain.MaskPhone(m.PhoneNumber), err)
			}
		}
		if m.Status == domain.StatusAccepted && conv.NeedsReservation(now) {
			shard, err := domain.PickShard(limit, start, func(i int) int { return domain.ShardCapacity(limit, i) - room[i] })
			if err != nil {
				refused := LimitRefusal
				m.Error = &refused
				if err := m.Move(domain.StatusFailed, now); err != nil {
					return nil, err
				}
			} else {
				room[shard]--
				took[shard]++
				conv.Channel, conv.Phone = m.Channel, m.PhoneNumber
				conv.Reserve(m.ID, month, shard, now)
				if convs[i].Exists() {
					b.Update(convRefs[i], conversationUpdates(conv), firestore.LastUpdateTime(convs[i].UpdateTime))
				} else {
					b.Create(convRefs[i], conv)
				}
			}
		}
		b.Create(s.message(tenant, m.ID), m)
		if !contacts[m.PhoneNumber] {
			contacts[m.PhoneNumber] = true
			b.Set(s.sub(tenant, "contacts").Doc(m.PhoneNumber), map[string]any{"phone": m.PhoneNumber, "updatedAt": m.CreatedAt}, firestore.MergeAll)
		}
	}
	for i, k := range took {
		switch {
		case k == 0:
		case shards[i].Exists():
			b.Update(shardRefs[i], []firestore.Update{{Path: "count", Value: firestore.Increment(k)}}, firestore.LastUpdateTime(shards[i].UpdateTime))
		default:
			b.Create(shardRefs[i], map[string]any{"count": k})
		}
	}
	return b, nil
}
