package batch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// WorkerStore is what the fan-out worker reads and writes.
type WorkerStore interface {
	BatchAndChunk(ctx context.Context, tenant, batch string, n int) (store.BatchRecord, store.BatchChunk, error)
	CreateBatchMessages(ctx context.Context, tenant string, msgs []domain.Message) (map[string]domain.Status, error)
	ReserveBatchMessages(ctx context.Context, tenant string, msgs []domain.Message, limit int, now time.Time) (map[string]domain.Status, error)
	OptedOut(ctx context.Context, tenant string, phones []string) (map[string]bool, error)
	MarkBatchChunkDone(ctx context.Context, tenant, batch string, n int) error
	Batch(ctx context.Context, tenant, id string) (store.BatchRecord, error)
	CancelBatchMessages(ctx context.Context, tenant string, ids []string, limited bool, now time.Time) ([]domain.Message, error)
}

// JobPublisher hands a job to dispatch.
type JobPublisher interface {
	Publish(ctx context.Context, j queue.Job) error
}

// Worker is the fan-out function: it turns one chunk into messages and
// hands each to dispatch.
type Worker struct {
	store WorkerStore
	jobs  JobPublisher
	now   func() time.Time
}

// NewWorker returns the fan-out worker; jobs publishes on dispatch's bulk
// topic. now may be nil (time.Now).
func NewWorker(st WorkerStore, jobs JobPublisher, now func() time.Time) *Worker {
	if now == nil {
		now = time.Now
	}
	return &Worker{store: st, jobs: jobs, now: now}
}

// HandleEvent is the CloudEvent function on the fan-out topic: a
// messagePublished event carrying one Fanout. A returned error makes
// Pub/Sub redeliver; a malformed event is logged and acked.
func (w *Worker) HandleEvent(ctx context.Context, e event.Event) error {
	f, err := decodeFanout(e)
	if err != nil {
		logging.FromContext(ctx).Error("dropping malformed fan-out event", "eventId", e.ID(), "error", err.Error())
		return nil
	}
	return w.Fanout(ctx, f)
}

func decodeFanout(e event.Event) (Fanout, error) {
	d, err := queue.Decode(e)
	if err != nil {
		return Fanout{}, err
	}
	var f Fanout
	if err := json.Unmarshal(d.Data, &f); err != nil {
		return Fanout{}, fmt.Errorf("%w: message data: %v", queue.ErrBadEvent, err)
	}
	if f.Tenant == "" || f.Batch == "" || f.Chunk < 0 {
		return Fanout{}, fmt.Errorf("%w: tenant, batch and chunk are required", queue.ErrBadEvent)
	}
	return f, nil
}

// Fanout turns one chunk into messages, idempotently: message ids derive
// from the batch and the recipient's index and are created only if absent,
// so a redelivered chunk, or two workers on one chunk, create each message
// once. Every message still accepted gets its dispatch job (again, on a
// redelivery: dispatch's claim makes duplicates harmless). The chunk is
// marked done last, so a failure anywhere before leaves it for the
// redelivery or for sweep.
//
// Only a running batch makes messages. A scheduled or paused one leaves
// the chunk as it is, for its start or resume to hand back; a cancelled
// one cancels what the chunk's messages have not sent (Cancel hands every
// chunk back for that). The batch is read again once the messages exist:
// a pause or cancel committed meanwhile is seen there, so either this
// worker holds back the jobs (and cancels the messages), or the pause or
// cancel came after that read and its own pass finds the messages.
func (w *Worker) Fanout(ctx context.Context, f Fanout) error {
	log := logging.FromContext(ctx).With("tenant", f.Tenant, "batch", f.Batch, "chunk", f.Chunk)
	rec, chunk, err := w.store.BatchAndChunk(ctx, f.Tenant, f.Batch, f.Chunk)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("fan-out for a batch or chunk that does not exist (expired?)")
		return nil
	}
	if err != nil {
		return err
	}
	if chunk.Done {
		log.Debug("chunk already done")
		return nil
	}
	if st := rec.State.Of(); !st.Sending() {
		return w.hold(ctx, log, f.Tenant, rec, chunk, st)
	}
	msgs := w.messages(log, f.Tenant, rec, chunk)
	var jobs []queue.Job
	group := store.MaxBatchMessages
	if rec.ConversationLimit > 0 {
		group = store.MaxLimitedBatchMessages
	}
	for from := 0; from < len(msgs); from += group {
		group := msgs[from:min(len(msgs), from+group)]
		existing, err := w.create(ctx, f.Tenant, rec, group)
		if err != nil {
			return fmt.Errorf("messages of chunk %d of batch %s/%s: %w", f.Chunk, f.Tenant, f.Batch, err)
		}
		created := 0
		for _, m := range group {
			st, ok := existing[m.ID]
			if !ok {
				created++
				tf := logging.Moved(logging.SourceFanout, m, "")
				tf.Batch, tf.Bulk = f.Batch, true
				logging.Transition(ctx, tf)
			}
			switch {
			case !ok && m.Status == domain.StatusAccepted:
				jobs = append(jobs, carrying(m))
			case st == domain.StatusAccepted:
				// Created by an earlier delivery: dispatch reads it.
				jobs = append(jobs, queue.Job{Tenant: m.Tenant, Message: m.ID, Channel: m.Channel, Bulk: true})
			}
		}
		// One line per commit, not per message: a 100,000-contact batch
		// would otherwise write 100,000 lines here (they are DEBUG).
		logging.BulkTransition(ctx, logging.BulkTransitionFields{
			Source: logging.SourceFanout, Tenant: f.Tenant, Channel: rec.Channel, Batch: f.Batch, Chunk: f.Chunk,
			To: domain.StatusAccepted, Count: created,
		})
	}
	cur, err := w.store.Batch(ctx, f.Tenant, f.Batch)
	if err != nil {
		return fmt.Errorf("state of batch %s/%s: %w", f.Tenant, f.Batch, err)
	}
	if st := cur.State.Of(); !st.Sending() {
		return w.hold(ctx, log, f.Tenant, cur, chunk, st)
	}
	if err := w.publish(ctx, jobs); err != nil {
		return fmt.Errorf("dispatch jobs of chunk %d of batch %s/%s: %w", f.Chunk, f.Tenant, f.Batch, err)
	}
	if err := w.store.MarkBatchChunkDone(ctx, f.Tenant, f.Batch, f.Chunk); err != nil {
		// Everything is done but the mark: a redelivery finds the messages
		// and only republishes their jobs.
		return err
	}
	log.Info("chunk fanned out", "messages", len(msgs), "jobs", len(jobs), "refused", len(chunk.Recipients)-len(msgs))
	return nil
}

// create creates a group of messages, each reserving its conversation when
// the batch was sent under a limited plan.
func (w *Worker) create(ctx context.Context, tenant string, rec store.BatchRecord, group []domain.Message) (map[string]domain.Status, error) {
	if rec.Template.Marketing() {
		if err := w.refuseOptedOut(ctx, tenant, group); err != nil {
			return nil, err
		}
	}
	if rec.ConversationLimit > 0 {
		return w.store.ReserveBatchMessages(ctx, tenant, group, rec.ConversationLimit, w.now().UTC())
	}
	return w.store.CreateBatchMessages(ctx, tenant, group)
}

// refuseOptedOut fails, before they are created, the messages of a
// marketing batch to contacts who opted out of marketing: they are
// reported one by one and never sent.
func (w *Worker) refuseOptedOut(ctx context.Context, tenant string, group []domain.Message) error {
	phones := make([]string, len(group))
	for i, m := range group {
		phones[i] = m.PhoneNumber
	}
	out, err := w.store.OptedOut(ctx, tenant, phones)
	if err != nil {
		return err
	}
	now := w.now().UTC()
	for i := range group {
		if out[group[i].PhoneNumber] && group[i].Status == domain.StatusAccepted {
			refused := store.OptOutRefusal
			group[i].Error = &refused
			if err := group[i].Move(domain.StatusFailed, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// messages builds the messages of a chunk's sendable recipients.
func (w *Worker) messages(log *slog.Logger, tenant string, rec store.BatchRecord, c store.BatchChunk) []domain.Message {
	tpl := rec.Template
	tpl.ID = rec.TemplateID
	now := w.now().UTC()
	out := make([]domain.Message, 0, len(c.Recipients))
	for i, r := range c.Recipients {
		if r.Problem != "" || r.Duplicate {
			continue
		}
		rendered, err := domain.Render(tpl, r.Params)
		if err != nil {
			// Create rendered the same template with the same params.
			log.Error("recipient checked at accept no longer renders", "index", c.First+i, "phone", domain.MaskPhone(r.Phone), "error", err.Error())
			continue
		}
		m := domain.NewMessage(MessageID(rec.ID, c.First+i), tenant, rec.Channel, r.Phone, rec.TemplateID, rendered, now)
		m.ClientRef = rec.Code
		m.CallbackURL = rec.CallbackURL
		if rec.MessageRetention > 0 {
			m.ExpireAt = now.Add(rec.MessageRetention)
		}
		m.Batch = rec.ID
		out = append(out, m)
	}
	return out
}

// hold handles a chunk of a batch that is not sending: a cancelled
// batch's chunk has its unsent messages cancelled and is done; a paused or
// scheduled batch's chunk is left not done, for the resume or the start
// that hands it back.
func (w *Worker) hold(ctx context.Context, log *slog.Logger, tenant string, rec store.BatchRecord, c store.BatchChunk, st domain.BatchState) error {
	if st != domain.BatchCancelled {
		log.Info("chunk held back: the batch is "+string(st), "state", st)
		return nil
	}
	ids, _ := sendable(rec.ID, c)
	cancelled, err := w.store.CancelBatchMessages(ctx, tenant, ids, rec.ConversationLimit > 0, w.now().UTC())
	logCancelled(ctx, logging.SourceFanout, tenant, rec, c.N, cancelled)
	if err != nil {
		return fmt.Errorf("cancel chunk %d of batch %s: %w", c.N, rec.ID, err)
	}
	if err := w.store.MarkBatchChunkDone(ctx, tenant, rec.ID, c.N); err != nil {
		return err
	}
	log.Info("chunk of a cancelled batch done", "cancelled", len(cancelled))
	return nil
}

// logCancelled writes one line per state the cancelled messages left
// (accepted, held), as a chunk's creation is one line.
func logCancelled(ctx context.Context, source, tenant string, rec store.BatchRecord, chunk int, cancelled []domain.Message) {
	from := map[domain.Status]int{}
	for _, m := range cancelled {
		from[logging.PreviousStatus(m)]++
	}
	for st, n := range from {
		logging.BulkTransition(ctx, logging.BulkTransitionFields{
			Source: source, Tenant: tenant, Channel: rec.Channel, Batch: rec.ID, Chunk: chunk,
			From: st, To: domain.StatusCancelled, Count: n,
		})
	}
}

// sendable are the message ids of a chunk's recipients that were to be
// sent (neither refused nor repeated), and their indexes in the chunk.
func sendable(batch string, c store.BatchChunk) (ids []string, at []int) {
	for i, r := range c.Recipients {
		if r.Problem == "" && !r.Duplicate {
			ids = append(ids, MessageID(batch, c.First+i))
			at = append(at, i)
		}
	}
	return ids, at
}

// publishParallel bounds the publishes waiting at once; the client
// batches them into few RPCs either way.
const publishParallel = 64

// carrying is the dispatch job of a message this delivery created: it
// carries the message as stored when the store gave its version, so
// dispatch claims it without reading it.
func carrying(m domain.Message) queue.Job {
	j := queue.Job{Tenant: m.Tenant, Message: m.ID, Channel: m.Channel, Bulk: true}
	if !m.Version.IsZero() {
		j.Accepted, j.Version = &m, m.Version
	}
	return j
}

// publish hands each message to dispatch and waits until Pub/Sub has them
// all. The jobs say they are bulk, so the pacer serves the channel's
// single sends first, and name the channel, so dispatch asks the pacer
// without reading the message first.
func (w *Worker) publish(ctx context.Context, jobs []queue.Job) error {
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, publishParallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = w.jobs.Publish(ctx, j)
		})
	}
	wg.Wait()
	failed := 0
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	if first != nil {
		return fmt.Errorf("%d of %d publishes failed: %w", failed, len(jobs), first)
	}
	return nil
}
