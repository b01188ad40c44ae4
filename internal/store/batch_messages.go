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

// MaxBatchMessages is how many messages CreateBatchMessages takes at once:
// each costs two writes (the message and its contact), and one commit
// takes 500.
const MaxBatchMessages = batchMaxWrites / 2

// createAttempts bounds CreateBatchMessages' rounds. Each round after the
// first only follows another worker that created some of the same messages
// meanwhile, so a handful is plenty.
const createAttempts = 5

// CreateBatchMessages creates, in one commit, each of msgs that does not
// exist yet, and upserts its contact. Message ids are deterministic, so a
// redelivered chunk finds its messages already there: Create semantics make
// sure none is written twice, even by two workers at once. existing holds
// the state of every message that was already there. Each message it
// created gets its Version (its update time as created) in msgs, for a
// dispatch job that claims it without a read (ClaimAccepted).
func (s *Store) CreateBatchMessages(ctx context.Context, tenant string, msgs []domain.Message) (existing map[string]domain.Status, err error) {
	if len(msgs) > MaxBatchMessages {
		return nil, fmt.Errorf("create %d batch messages of %s: at most %d per commit", len(msgs), tenant, MaxBatchMessages)
	}
	existing = map[string]domain.Status{}
	pending := make([]int, len(msgs)) // indexes into msgs
	for i := range pending {
		pending[i] = i
	}
	for range createAttempts {
		if len(pending) == 0 {
			return existing, nil
		}
		err := s.createMessages(ctx, tenant, msgs, pending)
		if err == nil {
			return existing, nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return nil, fmt.Errorf("create %d batch messages of %s: %w", len(pending), tenant, err)
		}
		// The commit was refused whole: find out which exist and retry
		// with the rest.
		refs := make([]*firestore.DocumentRef, len(pending))
		for k, i := range pending {
			refs[k] = s.message(tenant, msgs[i].ID)
		}
		snaps, err := s.fs.GetAll(ctx, refs)
		if err != nil {
			return nil, fmt.Errorf("read %d batch messages of %s: %w", len(refs), tenant, err)
		}
		rest := pending[:0:0]
		for k, snap := range snaps {
			if !snap.Exists() {
				rest = append(rest, pending[k])
				continue
			}
			v, _ := snap.DataAt("status")
			word, _ := v.(string)
			existing[msgs[pending[k]].ID] = domain.Status(word)
		}
		pending = rest
	}
	if len(pending) == 0 {
		return existing, nil
	}
	return nil, fmt.Errorf("create %d batch messages of %s: still conflicting after %d attempts", len(pending), tenant, createAttempts)
}

// createMessages creates msgs[i] for each i of which, with their contacts,
// in one commit, and sets the Version of each.
func (s *Store) createMessages(ctx context.Context, tenant string, msgs []domain.Message, which []int) error {
	b := s.fs.Batch() //nolint:staticcheck // one-RPC atomic blind write, as Accept
	contacts := make(map[string]bool, len(which))
	at := make([]int, len(which)) // each message's write in the commit
	writes := 0
	for k, i := range which {
		m := msgs[i]
		b.Create(s.message(tenant, m.ID), m)
		at[k] = writes
		writes++
		// One write per contact and commit: a batch may name a number twice.
		if !contacts[m.PhoneNumber] {
			contacts[m.PhoneNumber] = true
			b.Set(s.sub(tenant, "contacts").Doc(m.PhoneNumber), map[string]any{"phone": m.PhoneNumber, "updatedAt": m.CreatedAt}, firestore.MergeAll)
			writes++
		}
	}
	res, err := b.Commit(ctx)
	if err != nil {
		return err
	}
	for k, i := range which {
		msgs[i].Version = res[at[k]].UpdateTime
	}
	return nil
}

// MarkBatchChunkDone records that a chunk's messages exist and their
// dispatch jobs are published, so a redelivery or a resume skips it.
func (s *Store) MarkBatchChunkDone(ctx context.Context, tenant, batch string, n int) error {
	if _, err := s.batchChunkRef(tenant, batch, n).Update(ctx, []firestore.Update{{Path: "done", Value: true}}); err != nil {
		return fmt.Errorf("mark chunk %d of batch %s/%s done: %w", n, tenant, batch, err)
	}
	return nil
}

// BatchMessages reads messages by id in one round trip; the result has one
// entry per id, nil where the message does not exist (yet).
func (s *Store) BatchMessages(ctx context.Context, tenant string, ids []string) ([]*domain.Message, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	refs := make([]*firestore.DocumentRef, len(ids))
	for i, id := range ids {
		refs[i] = s.message(tenant, id)
	}
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("read %d messages of %s: %w", len(ids), tenant, err)
	}
	out := make([]*domain.Message, len(ids))
	for i, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		var m domain.Message
		if err := snap.DataTo(&m); err != nil {
			return nil, fmt.Errorf("decode message %s/%s: %w", tenant, ids[i], err)
		}
		m.ID = ids[i]
		out[i] = &m
	}
	return out, nil
}

// OpenBatches returns up to limit of a tenant's batches created before
// before that are still open, oldest first. Uses the composite index
// (open, createdAt).
func (s *Store) OpenBatches(ctx context.Context, tenant string, before time.Time, limit int) ([]BatchRecord, error) {
	docs, err := s.sub(tenant, "batches").Where("open", "==", true).Where("createdAt", "<", before).
		OrderBy("createdAt", firestore.Asc).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list open batches of %s: %w", tenant, err)
	}
	out := make([]BatchRecord, 0, len(docs))
	for _, d := range docs {
		var r BatchRecord
		if err := d.DataTo(&r); err != nil {
			return nil, fmt.Errorf("decode batch %s/%s: %w", tenant, d.Ref.ID, err)
		}
		r.ID = d.Ref.ID
		out = append(out, r)
	}
	return out, nil
}

// UndoneBatchChunks returns the numbers of up to limit chunks of a batch
// whose messages are not known to exist yet.
func (s *Store) UndoneBatchChunks(ctx context.Context, tenant, batch string, limit int) ([]int, error) {
	docs, err := s.batchRef(tenant, batch).Collection("chunks").Where("done", "==", false).
		Select("n").Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list undone chunks of batch %s/%s: %w", tenant, batch, err)
	}
	out := make([]int, 0, len(docs))
	for _, d := range docs {
		v, err := d.DataAt("n")
		if err != nil {
			return nil, fmt.Errorf("decode chunk %s: %w", d.Ref.Path, err)
		}
		n, _ := v.(int64)
		out = append(out, int(n))
	}
	return out, nil
}
