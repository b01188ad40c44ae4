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

// ChangeBatch changes a batch's lifecycle in a transaction: apply sees the
// batch as stored and changes its BatchLifecycle (and Open); a domain
// error from apply refuses the change and is returned as is. Only the
// lifecycle fields and open are written, so a concurrent change of
// anything else is not undone.
func (s *Store) ChangeBatch(ctx context.Context, tenant, id string, apply func(r *BatchRecord) error) (BatchRecord, error) {
	if !ValidID(tenant) || !ValidID(id) {
		return BatchRecord{}, ErrNotFound
	}
	ref := s.batchRef(tenant, id)
	var r BatchRecord
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if r, err = readIn[BatchRecord](tx, ref); err != nil {
			return err
		}
		r.ID = id
		if err := apply(&r); err != nil {
			return err
		}
		return tx.Update(ref, lifecycleUpdates(r))
	}, firestore.MaxAttempts(txAttempts))
	var de *domain.Error
	if errors.Is(err, ErrNotFound) || errors.As(err, &de) {
		return r, err
	}
	if err != nil {
		return r, fmt.Errorf("change batch %s/%s: %w", tenant, id, err)
	}
	return r, nil
}

// lifecycleUpdates are the fields ChangeBatch writes.
func lifecycleUpdates(r BatchRecord) []firestore.Update {
	l := r.BatchLifecycle
	put := func(path string, t time.Time) firestore.Update {
		if t.IsZero() {
			return firestore.Update{Path: path, Value: firestore.Delete}
		}
		return firestore.Update{Path: path, Value: t}
	}
	return []firestore.Update{
		{Path: "open", Value: r.Open},
		{Path: "state", Value: string(l.State)},
		put("sendAt", l.SendAt), put("startedAt", l.StartedAt), put("pausedAt", l.PausedAt),
		{Path: "pausedSeconds", Value: l.PausedSeconds},
		put("cancelledAt", l.CancelledAt), put("finishedAt", l.FinishedAt),
	}
}

// ReopenBatchChunks marks chunks 0 to n-1 of a batch not done, so the
// fan-out takes each up again in the batch's new state (a resumed batch
// publishes what a pause held back, a cancelled one cancels what is left)
// and sweep republishes any whose event is lost. Blind updates in
// commits of 500.
func (s *Store) ReopenBatchChunks(ctx context.Context, tenant, batch string, n int) error {
	for from := 0; from < n; from += batchMaxWrites {
		b := s.fs.Batch() //nolint:staticcheck // blind updates
		for i := from; i < min(n, from+batchMaxWrites); i++ {
			b.Update(s.batchChunkRef(tenant, batch, i), []firestore.Update{{Path: "done", Value: false}})
		}
		if _, err := b.Commit(ctx); err != nil {
			return fmt.Errorf("reopen chunks of batch %s/%s: %w", tenant, batch, err)
		}
	}
	return nil
}

// BatchCounts are how many of a batch's messages are in each state, and
// how many of the failed ones the gateway refused itself.
type BatchCounts struct {
	ByStatus map[domain.Status]int
	// Refused are failed messages the gateway refused before any send:
	// the plan had no conversation for them (LimitRefusal), or the
	// contact opted out of marketing (OptOutRefusal). Meta never saw them.
	Refused int
}

// CountBatchMessages counts a batch's messages per state with one count
// aggregation per state (and one for the gateway's refusals), run at once.
// Firestore bills a count one read per 1,000 index entries it reads, at
// least one: a 100,000-message batch costs about 100 reads, a small one
// one per state.
func (s *Store) CountBatchMessages(ctx context.Context, tenant, batch string, statuses []domain.Status) (BatchCounts, error) {
	out := BatchCounts{ByStatus: make(map[domain.Status]int, len(statuses))}
	coll := s.sub(tenant, "messages")
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(statuses)+1)
	for i, st := range statuses {
		wg.Go(func() {
			n, err := aggregateCount(ctx, coll.Where("batch", "==", batch).Where("status", "==", string(st)), "messages of batch "+batch)
			mu.Lock()
			out.ByStatus[st], errs[i] = n, err
			mu.Unlock()
		})
	}
	wg.Go(func() {
		q := coll.Where("batch", "==", batch).Where("status", "==", string(domain.StatusFailed)).
			Where("error.title", "in", []string{LimitRefusal.Title, OptOutRefusal.Title})
		out.Refused, errs[len(statuses)] = aggregateCount(ctx, q, "refused messages of batch "+batch)
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return BatchCounts{}, fmt.Errorf("count messages of batch %s/%s: %w", tenant, batch, err)
	}
	return out, nil
}

// CountBatchWaiting counts a batch's messages in any of statuses: one
// count aggregation.
func (s *Store) CountBatchWaiting(ctx context.Context, tenant, batch string, statuses []domain.Status) (int, error) {
	q := s.sub(tenant, "messages").Where("batch", "==", batch).Where("status", "in", statusWords(statuses))
	return aggregateCount(ctx, q, "waiting messages of batch "+tenant+"/"+batch)
}

// BatchMessageIDs returns up to limit ids of a batch's messages in any of
// statuses. With before set, only those untouched since before, oldest
// first: a running batch's messages whose dispatch job was lost. Uses the
// composite index (status, batch, updatedAt); without before, Firestore
// merges the single-field indexes of batch and status.
func (s *Store) BatchMessageIDs(ctx context.Context, tenant, batch string, statuses []domain.Status, before time.Time, limit int) ([]string, error) {
	q := s.sub(tenant, "messages").Where("batch", "==", batch)
	if len(statuses) == 1 {
		q = q.Where("status", "==", string(statuses[0]))
	} else {
		q = q.Where("status", "in", statusWords(statuses))
	}
	if !before.IsZero() {
		q = q.Where("updatedAt", "<", before).OrderBy("updatedAt", firestore.Asc)
	}
	return s.ids(ctx, q.Limit(limit), "messages of batch "+tenant+"/"+batch)
}

func statusWords(statuses []domain.Status) []string {
	out := make([]string, len(statuses))
	for i, st := range statuses {
		out[i] = string(st)
	}
	return out
}

// DueBatches returns up to limit of a tenant's scheduled batches whose
// start time is at or before now, earliest first. Uses the composite
// index (state, sendAt).
func (s *Store) DueBatches(ctx context.Context, tenant string, now time.Time, limit int) ([]BatchRecord, error) {
	docs, err := s.sub(tenant, "batches").Where("state", "==", string(domain.BatchScheduled)).Where("sendAt", "<=", now).
		OrderBy("sendAt", firestore.Asc).Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list due batches of %s: %w", tenant, err)
	}
	return decodeBatches(tenant, docs)
}

// Batches lists a tenant's batches, newest first, limit to a page; next is
// the token of the page after, "" on the last. Uses the single-field index
// of batches.createdAt, descending.
func (s *Store) Batches(ctx context.Context, tenant string, limit int, pageToken string) (_ []BatchRecord, next string, _ error) {
	q := s.sub(tenant, "batches").OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Limit(limit + 1)
	if pageToken != "" {
		at, id, err := decodePage(pageToken)
		if err != nil {
			return nil, "", err
		}
		q = q.StartAfter(at, id)
	}
	list, more, err := page(ctx, q, limit, func(d *firestore.DocumentSnapshot) (BatchRecord, error) {
		var r BatchRecord
		err := d.DataTo(&r)
		r.ID = d.Ref.ID
		return r, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list batches of %s: %w", tenant, err)
	}
	if more {
		last := list[len(list)-1]
		next = encodePage(last.CreatedAt, last.ID)
	}
	return list, next, nil
}

func decodeBatches(tenant string, docs []*firestore.DocumentSnapshot) ([]BatchRecord, error) {
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
