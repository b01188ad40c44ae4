package batch

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// DefaultTopic is the fan-out topic: one event per stored chunk.
const DefaultTopic = "fanout"

// Admitter is the accept path's admission: the tenant's request limit,
// the rules a bulk send's recipients share, and Idempotency-Key handling
// as every send route has them.
type Admitter interface {
	Limit(ctx context.Context, tok domain.Token) error
	AdmitBulk(ctx context.Context, tok domain.Token, req accept.BulkRequest) (accept.BulkPlan, error)
	Keys() accept.Keys
}

// Store keeps batches, their chunks and reads their messages.
type Store interface {
	BatchByCode(ctx context.Context, tenant, code string) (store.BatchRecord, error)
	Batch(ctx context.Context, tenant, id string) (store.BatchRecord, error)
	PutBatchChunks(ctx context.Context, tenant, batch string, chunks []store.EncodedChunk, expireAt time.Time) error
	DeleteBatchChunks(ctx context.Context, tenant, batch string, n int) error
	CommitBatch(ctx context.Context, tenant string, r store.BatchRecord, key *store.BatchKey) error
	BatchChunk(ctx context.Context, tenant, batch string, n int) (store.BatchChunk, error)
	BatchMessages(ctx context.Context, tenant string, ids []string) ([]*domain.Message, error)
	OpenBatches(ctx context.Context, tenant string, before time.Time, limit int) ([]store.BatchRecord, error)
	UndoneBatchChunks(ctx context.Context, tenant, batch string, limit int) ([]int, error)

	// The broadcast's lifecycle (control.go, resume.go).
	Batches(ctx context.Context, tenant string, limit int, pageToken string) ([]store.BatchRecord, string, error)
	ChangeBatch(ctx context.Context, tenant, id string, apply func(r *store.BatchRecord) error) (store.BatchRecord, error)
	ReopenBatchChunks(ctx context.Context, tenant, batch string, n int) error
	CountBatchMessages(ctx context.Context, tenant, batch string, statuses []domain.Status) (store.BatchCounts, error)
	CountBatchWaiting(ctx context.Context, tenant, batch string, statuses []domain.Status) (int, error)
	BatchMessageIDs(ctx context.Context, tenant, batch string, statuses []domain.Status, before time.Time, limit int) ([]string, error)
	CancelBatchMessages(ctx context.Context, tenant string, ids []string, limited bool, now time.Time) ([]domain.Message, error)
	DueBatches(ctx context.Context, tenant string, now time.Time, limit int) ([]store.BatchRecord, error)
}

// Publisher publishes events on one topic (the fan-out topic).
type Publisher interface {
	PublishJSON(ctx context.Context, v any, attrs map[string]string) error
}

// Options tune the service. Zero values take the defaults.
type Options struct {
	// ChunkSize is how many recipients a chunk holds at most. Default 250:
	// a chunk's messages and their contacts then fill one 500-write
	// commit of the worker.
	ChunkSize int
	// MaxRecipients bounds one batch. Default 100,000.
	MaxRecipients int
	// Retention is how long a batch, its chunks and its code are kept (a
	// TTL policy on expireAt removes them); a repeated code is idempotent
	// for as long. Default 30 days.
	Retention time.Duration
	// PublishTimeout bounds the fan-out publish after the batch is
	// committed. Default 5s.
	PublishTimeout time.Duration
	// Workers is how many goroutines check recipients while the body is
	// still being read. Default GOMAXPROCS.
	Workers int
	Now     func() time.Time
}

// Defaults.
const (
	DefaultChunkSize     = store.MaxBatchMessages
	DefaultMaxRecipients = 100_000
	DefaultRetention     = 30 * 24 * time.Hour
)

// Bounds on what one chunk holds, so its document stays well under
// Firestore's 1 MiB even when JSON escapes every byte of a parameter
// (\u00XX is six bytes).
const (
	// chunkBytes closes a chunk early once its recipients hold this much.
	chunkBytes = 128 << 10
	// maxRecipientBytes refuses a recipient (its phone, params and
	// problem) larger than this.
	maxRecipientBytes = 16 << 10
	// groupBytes and groupChunks bound one commit of chunks: few commits,
	// each far below Firestore's 10 MiB request limit.
	groupBytes  = 2 << 20
	groupChunks = 20
	// writers is how many chunk commits may be in flight at once.
	writers = 2
)

// ErrTooMany is returned (wrapped) when a batch has more recipients than
// Options.MaxRecipients.
var ErrTooMany = errors.New("too many recipients")

// Service creates batches and reports their recipients.
type Service struct {
	admit  Admitter
	store  Store
	fanout Publisher
	opt    Options
}

// New returns the batch service; fanout publishes on the fan-out topic the
// Worker is subscribed to. The admin CLI passes a nil admit: it creates
// no batch. A nil fanout leaves the chunks a resume or a cancel hands
// back to the next sweep, which publishes every chunk not done.
func New(admit Admitter, st Store, fanout Publisher, opt Options) *Service {
	if opt.ChunkSize <= 0 || opt.ChunkSize > store.MaxBatchMessages {
		opt.ChunkSize = DefaultChunkSize
	}
	if opt.MaxRecipients <= 0 {
		opt.MaxRecipients = DefaultMaxRecipients
	}
	if opt.Retention <= 0 {
		opt.Retention = DefaultRetention
	}
	if opt.PublishTimeout <= 0 {
		opt.PublishTimeout = 5 * time.Second
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{admit: admit, store: st, fanout: fanout, opt: opt}
}
