package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/domain"
)

// ErrBatchCodeExists is returned by CommitBatch when another batch of the
// tenant already has the code, or the Idempotency-Key: the request is a
// repeat.
var ErrBatchCodeExists = errors.New("batch code or idempotency key already used")

// BatchRecord is one accepted batch: one template to many recipients,
// stored at tenants/{t}/batches/{id} once every chunk of it is stored.
type BatchRecord struct {
	ID     string `firestore:"-"`
	Code   string `firestore:"code"`
	Source string `firestore:"source"`
	Name   string `firestore:"name,omitempty"`
	// Channel is the sending channel's id.
	Channel string `firestore:"channel"`
	// Template is the template as it was validated, so every chunk renders
	// the same version whatever happens to the catalog meanwhile.
	TemplateID  string          `firestore:"templateId"`
	Template    domain.Template `firestore:"template"`
	CallbackURL string          `firestore:"callbackUrl,omitempty"`
	Chunks      int             `firestore:"chunks"`
	Recipients  int             `firestore:"recipients"`
	Accepted    int             `firestore:"accepted"`
	Failed      int             `firestore:"failed"`
	// Duplicates counts recipients dropped for repeating an earlier one's
	// number: a batch never sends one template twice to one number.
	Duplicates int `firestore:"duplicates,omitempty"`
	// ConversationLimit is the tenant's plan limit when the batch was
	// accepted: under a limit each recipient reserves its conversation as
	// its message is made.
	ConversationLimit int `firestore:"conversationLimit,omitempty"`
	// MessageRetention is how long the batch's messages are kept (the
	// tenant's retention when the batch was accepted); 0 keeps them.
	MessageRetention time.Duration `firestore:"messageRetention,omitempty"`
	// Open is true until nothing of the batch is left to do: every chunk
	// turned into messages and none of them waiting to be sent (or, once
	// cancelled, to be cancelled). Sweep looks only at open batches.
	Open      bool      `firestore:"open"`
	CreatedAt time.Time `firestore:"createdAt"`
	ExpireAt  time.Time `firestore:"expireAt"`
	BatchLifecycle
}

// BatchLifecycle is a batch's state as a broadcast and its timeline.
type BatchLifecycle struct {
	// State is scheduled, running, paused or cancelled; "" (batches stored
	// before broadcasts had a lifecycle) is running.
	State domain.BatchState `firestore:"state,omitempty"`
	// SendAt is the scheduled start; zero starts at once.
	SendAt time.Time `firestore:"sendAt,omitempty"`
	// StartedAt is when the fan-out began: at acceptance, or when sweep
	// found the scheduled time had come.
	StartedAt time.Time `firestore:"startedAt,omitempty"`
	// PausedAt is when the running pause began; PausedSeconds adds up the
	// pauses that ended, so the rate counts sending time only.
	PausedAt      time.Time `firestore:"pausedAt,omitempty"`
	PausedSeconds float64   `firestore:"pausedSeconds,omitempty"`
	CancelledAt   time.Time `firestore:"cancelledAt,omitempty"`
	// FinishedAt is when sweep found nothing of it left to do.
	FinishedAt time.Time `firestore:"finishedAt,omitempty"`
}

// BatchRecipient is one recipient as a chunk stores it.
type BatchRecipient struct {
	Phone   string            `json:"phone,omitempty"`
	Raw     string            `json:"raw,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Problem string            `json:"problem,omitempty"`
	// Duplicate marks a recipient whose number an earlier one of the batch
	// already has: it is never sent, and reported once, with the first.
	Duplicate bool `json:"dup,omitempty"`
}

// BatchChunk is a run of a batch's recipients, stored at
// tenants/{t}/batches/{id}/chunks/{n}.
type BatchChunk struct {
	N          int
	First      int // the batch-wide index of its first recipient
	Recipients []BatchRecipient
	Done       bool // its messages exist and their dispatch jobs are published
}

// EncodedChunk is a chunk ready to be stored. Its recipients are encoded
// once, by whoever builds it, so the writer only ships bytes and a chunk
// waiting to be written holds a compact copy.
type EncodedChunk struct {
	n, first, count int
	data            []byte
}

// batchChunkDoc is a chunk's document. Recipients are one JSON blob rather than
// an array of maps: Firestore indexes and converts every element of an
// array, which makes a 100,000-recipient batch an order of magnitude slower
// to store, and no query ever looks inside a chunk.
type batchChunkDoc struct {
	N          int       `firestore:"n"`
	First      int       `firestore:"first"`
	Count      int       `firestore:"count"`
	Recipients []byte    `firestore:"recipients"`
	Done       bool      `firestore:"done"`
	ExpireAt   time.Time `firestore:"expireAt"`
}

// batchCodeDoc maps a tenant's batch code to its batch; creating it is
// what makes a repeated code idempotent.
type batchCodeDoc struct {
	Batch     string    `firestore:"batch"`
	CreatedAt time.Time `firestore:"createdAt"`
	ExpireAt  time.Time `firestore:"expireAt"`
}

// BatchKey is the Idempotency-Key a batch was sent under.
type BatchKey struct {
	Key         string
	RequestHash string // of method, path and body: same key, other request → 422
	ExpireAt    time.Time
	// Version is the claim this request holds on the key (ClaimKey).
	Version time.Time
}

// EncodeBatchChunk encodes c for PutBatchChunks.
func EncodeBatchChunk(c BatchChunk) (EncodedChunk, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c.Recipients); err != nil {
		return EncodedChunk{}, fmt.Errorf("encode chunk %d: %w", c.N, err)
	}
	return EncodedChunk{n: c.N, first: c.First, count: len(c.Recipients), data: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))}, nil
}

// Size is the chunk's encoded size in bytes.
func (c EncodedChunk) Size() int { return len(c.data) }

func (s *Store) batchRef(tenant, id string) *firestore.DocumentRef {
	return s.sub(tenant, "batches").Doc(id)
}

// batchChunkRef names chunk n of a batch by its number. Plain numbers are not the
// sequential ids Firestore warns about: they sit under the batch's random
// id, and one batch writes a few hundred of them.
func (s *Store) batchChunkRef(tenant, batch string, n int) *firestore.DocumentRef {
	return s.batchRef(tenant, batch).Collection("chunks").Doc(strconv.Itoa(n))
}

func (s *Store) batchCodeRef(tenant, code string) *firestore.DocumentRef {
	return s.sub(tenant, "batchCodes").Doc(code)
}

// PutBatchChunks writes chunks of a batch in one commit. Chunks are inert
// until CommitBatch stores their batch: a request that fails half-way
// leaves chunks nothing reads (DeleteBatchChunks removes them, and expireAt
// lets a TTL policy take any left behind).
func (s *Store) PutBatchChunks(ctx context.Context, tenant, batch string, chunks []EncodedChunk, expireAt time.Time) error {
	if len(chunks) == 0 {
		return nil
	}
	b := s.fs.Batch() //nolint:staticcheck // one-RPC blind write of many documents
	for _, c := range chunks {
		b.Set(s.batchChunkRef(tenant, batch, c.n), batchChunkDoc{N: c.n, First: c.first, Count: c.count, Recipients: c.data, ExpireAt: expireAt})
	}
	if _, err := b.Commit(ctx); err != nil {
		return fmt.Errorf("store chunks %d-%d of batch %s/%s: %w", chunks[0].n, chunks[len(chunks)-1].n, tenant, batch, err)
	}
	return nil
}

// DeleteBatchChunks deletes chunks 0 to n-1 of a batch that was never
// committed.
func (s *Store) DeleteBatchChunks(ctx context.Context, tenant, batch string, n int) error {
	for from := 0; from < n; from += batchMaxWrites {
		b := s.fs.Batch() //nolint:staticcheck // blind deletes
		for i := from; i < min(n, from+batchMaxWrites); i++ {
			b.Delete(s.batchChunkRef(tenant, batch, i))
		}
		if _, err := b.Commit(ctx); err != nil {
			return fmt.Errorf("delete chunks of batch %s/%s: %w", tenant, batch, err)
		}
	}
	return nil
}

// batchMaxWrites is how many writes one Firestore commit takes.
const batchMaxWrites = 500

// CommitBatch stores a batch whose chunks are all stored, its code and,
// when key is not nil, its Idempotency-Key record, in one commit: from then
// on it is accepted. It returns ErrBatchCodeExists when the tenant already
// has a batch with that code, or a record under that key.
func (s *Store) CommitBatch(ctx context.Context, tenant string, r BatchRecord, key *BatchKey) error {
	if !ValidID(r.Code) || !ValidID(r.ID) {
		return fmt.Errorf("commit batch %q: code %q is not a valid document id", r.ID, r.Code)
	}
	b := s.fs.Batch() //nolint:staticcheck // one-RPC atomic blind write
	b.Create(s.batchCodeRef(tenant, r.Code), batchCodeDoc{Batch: r.ID, CreatedAt: r.CreatedAt, ExpireAt: r.ExpireAt})
	b.Create(s.batchRef(tenant, r.ID), r)
	if key != nil {
		rec := IdempotencyRecord{RequestHash: key.RequestHash, Batch: r.ID, State: KeyDone, ExpireAt: key.ExpireAt}
		b.Update(s.idempotency(tenant, key.Key), rec.updates(), firestore.LastUpdateTime(key.Version))
	}
	if _, err := b.Commit(ctx); err != nil {
		switch status.Code(err) {
		case codes.AlreadyExists:
			return ErrBatchCodeExists
		case codes.FailedPrecondition, codes.NotFound:
			return ErrKeyExists
		}
		return fmt.Errorf("commit batch %s/%s: %w", tenant, r.ID, err)
	}
	return nil
}

// Batch returns one of a tenant's batches by id.
func (s *Store) Batch(ctx context.Context, tenant, id string) (BatchRecord, error) {
	var r BatchRecord
	if err := get(ctx, s.batchRef(tenant, id), &r); err != nil {
		return r, err
	}
	r.ID = id
	return r, nil
}

// BatchByCode returns the tenant's batch with this code, ErrNotFound when
// there is none.
func (s *Store) BatchByCode(ctx context.Context, tenant, code string) (BatchRecord, error) {
	var c batchCodeDoc
	if err := get(ctx, s.batchCodeRef(tenant, code), &c); err != nil {
		return BatchRecord{}, err
	}
	return s.Batch(ctx, tenant, c.Batch)
}

// BatchChunk returns chunk n of a batch.
func (s *Store) BatchChunk(ctx context.Context, tenant, batch string, n int) (BatchChunk, error) {
	var d batchChunkDoc
	if err := get(ctx, s.batchChunkRef(tenant, batch, n), &d); err != nil {
		return BatchChunk{}, err
	}
	return decodeBatchChunk(d)
}

// BatchAndChunk reads a batch and one of its chunks in one round trip, for
// the worker that turns the chunk into messages.
func (s *Store) BatchAndChunk(ctx context.Context, tenant, batch string, n int) (BatchRecord, BatchChunk, error) {
	if !ValidID(tenant) || !ValidID(batch) || n < 0 {
		return BatchRecord{}, BatchChunk{}, ErrNotFound
	}
	snaps, err := s.fs.GetAll(ctx, []*firestore.DocumentRef{s.batchRef(tenant, batch), s.batchChunkRef(tenant, batch, n)})
	if err != nil {
		return BatchRecord{}, BatchChunk{}, fmt.Errorf("read chunk %d of batch %s/%s: %w", n, tenant, batch, err)
	}
	if !snaps[0].Exists() || !snaps[1].Exists() {
		return BatchRecord{}, BatchChunk{}, ErrNotFound
	}
	var r BatchRecord
	if err := snaps[0].DataTo(&r); err != nil {
		return r, BatchChunk{}, fmt.Errorf("decode batch %s/%s: %w", tenant, batch, err)
	}
	r.ID = batch
	var d batchChunkDoc
	if err := snaps[1].DataTo(&d); err != nil {
		return r, BatchChunk{}, fmt.Errorf("decode chunk %d of batch %s/%s: %w", n, tenant, batch, err)
	}
	c, err := decodeBatchChunk(d)
	return r, c, err
}

func decodeBatchChunk(d batchChunkDoc) (BatchChunk, error) {
	c := BatchChunk{N: d.N, First: d.First, Done: d.Done}
	if err := json.Unmarshal(d.Recipients, &c.Recipients); err != nil {
		return c, fmt.Errorf("decode recipients of chunk %d: %w", d.N, err)
	}
	return c, nil
}
