package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// Create takes one request of the tenant's request limit (over it:
// KindRateLimited, nothing stored), validates spec for the
// token's tenant (template, channel: a
// domain error refuses the whole batch before anything is stored), then
// stores the recipients next yields as chunks and publishes one fan-out
// event per chunk.
//
// A Code the tenant already used answers that batch, Replayed, without
// reading next: a repeat stores nothing. So does a repeat under the same
// Spec.IdempotencyKey, once next is read through and the request hashes the
// same. An error from next (a malformed body), more than
// Options.MaxRecipients recipients (ErrTooMany) or no recipient at all
// refuses the batch: the chunks already written are deleted and no message
// is ever made of them, because the batch record that makes chunks live is
// committed only after the last one is stored.
func (s *Service) Create(ctx context.Context, tok domain.Token, spec Spec, next Next) (Batch, error) {
	if spec.Code != "" && (len(spec.Code) > maxCode || !store.ValidID(spec.Code)) {
		return Batch{}, domain.Errorf(domain.KindInvalid, fmt.Sprintf("batch code must be 1 to %d characters, without '/'", maxCode), "code")
	}
	// The whole broadcast is one request against the tenant's limit, taken
	// before its key is claimed or a chunk stored; its messages are paced
	// by dispatch.
	if err := s.admit.Limit(ctx, tok); err != nil {
		return Batch{}, err
	}
	if spec.IdempotencyKey == "" {
		return s.create(ctx, tok, spec, next, store.IdempotencyRecord{})
	}
	if spec.RequestHash == nil {
		spec.RequestHash = func() string { return "" }
	}
	// The request's hash is known only once its body is read through, so
	// the claim is taken without it and a finished record is compared
	// after reading.
	keys := s.admit.Keys()
	rec, claimed, err := keys.Claim(ctx, tok.Tenant, spec.IdempotencyKey, "")
	if err != nil {
		return Batch{}, err
	}
	if !claimed {
		return s.replayKey(ctx, tok.Tenant, rec, spec, next)
	}
	b, err := s.create(ctx, tok, spec, next, rec)
	if err != nil && !errors.Is(err, store.ErrKeyExists) {
		keys.Release(ctx, tok.Tenant, spec.IdempotencyKey, rec)
	}
	if errors.Is(err, store.ErrKeyExists) {
		err = domain.Errorf(domain.KindInFlight, "a request with this Idempotency-Key is still being handled")
	}
	return b, err
}

func (s *Service) create(ctx context.Context, tok domain.Token, spec Spec, next Next, claim store.IdempotencyRecord) (Batch, error) {
	start := s.opt.Now()
	// A repeated code answers what the first request got, even if a rule
	// would refuse it now (a template paused since).
	if spec.Code != "" {
		rec, err := s.store.BatchByCode(ctx, tok.Tenant, spec.Code)
		if err == nil {
			return replayed(rec), nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return Batch{}, fmt.Errorf("look up batch code of %s: %w", tok.Tenant, err)
		}
	}
	p, err := s.plan(ctx, tok, spec)
	if err != nil {
		return Batch{}, err
	}

	now := start.UTC()
	rec := store.BatchRecord{
		ID: store.NewID(), Code: spec.Code, Source: spec.Source, Name: spec.Name,
		Channel: p.Channel.ID, TemplateID: p.Template.ID, Template: p.Template, CallbackURL: p.CallbackURL,
		ConversationLimit: p.Tenant.ConversationLimit,
		MessageRetention:  retention(p.Tenant, now),
		Open:              true, CreatedAt: now, ExpireAt: now.Add(s.opt.Retention),
		BatchLifecycle: lifecycle(spec.SendAt, now),
	}
	if rec.State == domain.BatchScheduled {
		// Kept for as long after its start as any other batch.
		rec.ExpireAt = rec.SendAt.Add(s.opt.Retention)
	}
	if rec.Code == "" {
		rec.Code = newCode()
	}
	log := logging.FromContext(ctx).With("tenant", tok.Tenant, "batch", rec.ID, "code", rec.Code)

	res, err := s.stream(ctx, tok.Tenant, p, rec.ID, rec.ExpireAt, next)
	if err == nil && res.recipients == 0 {
		err = domain.Errorf(domain.KindInvalid, "the batch has no recipients", "recipients")
	}
	if err != nil {
		s.discard(ctx, tok.Tenant, rec.ID, res.chunks)
		return Batch{}, err
	}
	rec.Chunks, rec.Recipients, rec.Accepted, rec.Failed, rec.Duplicates = res.chunks, res.recipients, res.accepted, res.failed, res.duplicates

	var key *store.BatchKey
	if spec.IdempotencyKey != "" {
		key = &store.BatchKey{Key: spec.IdempotencyKey, RequestHash: spec.RequestHash(), ExpireAt: now.Add(accept.IdempotencyTTL), Version: claim.Version}
	}
	err = s.store.CommitBatch(ctx, tok.Tenant, rec, key)
	if errors.Is(err, store.ErrBatchCodeExists) {
		// Another request with the same code committed first.
		s.discard(ctx, tok.Tenant, rec.ID, res.chunks)
		other, err := s.store.BatchByCode(ctx, tok.Tenant, rec.Code)
		if err != nil {
			return Batch{}, fmt.Errorf("batch %s of %s: code taken, yet not found: %w", rec.Code, tok.Tenant, err)
		}
		return replayed(other), nil
	}
	if err != nil {
		s.discard(ctx, tok.Tenant, rec.ID, res.chunks)
		return Batch{}, err
	}
	published := 0
	if rec.State == domain.BatchRunning {
		published = s.publishFanout(ctx, tok.Tenant, rec.ID, rec.Chunks)
	}
	log.Info("batch accepted", "source", spec.Source, "channel", rec.Channel, "template", rec.TemplateID, "state", rec.State, "sendAt", rec.SendAt,
		"recipients", rec.Recipients, "accepted", rec.Accepted, "failed", rec.Failed, "duplicates", rec.Duplicates,
		"chunks", rec.Chunks, "fanoutPublished", published, "took", time.Since(start).String())
	return Batch{ID: rec.ID, Code: rec.Code, Accepted: rec.Accepted, Failed: rec.Failed, Duplicates: rec.Duplicates}, nil
}

// replayKey answers a request whose Idempotency-Key already names a
// finished request: the rest of the body is read through first, so its
// hash can be compared; the key with another request (or a single send's
// key) is KindKeyReused.
func (s *Service) replayKey(ctx context.Context, tenant string, key store.IdempotencyRecord, spec Spec, next Next) (Batch, error) {
	for {
		_, more, err := next()
		if err != nil {
			return Batch{}, err
		}
		if !more {
			break
		}
	}
	if key.Batch == "" || key.RequestHash != spec.RequestHash() {
		return Batch{}, domain.Errorf(domain.KindKeyReused, "Idempotency-Key was already used with a different request")
	}
	rec, err := s.store.Batch(ctx, tenant, key.Batch)
	if err != nil {
		return Batch{}, fmt.Errorf("batch %s of %s under its key: %w", key.Batch, tenant, err)
	}
	return replayed(rec), nil
}

// lifecycle is a new batch's: scheduled when sendAt is still to come,
// running from now otherwise (a time already past starts it at once).
func lifecycle(sendAt, now time.Time) store.BatchLifecycle {
	if sendAt.After(now) {
		return store.BatchLifecycle{State: domain.BatchScheduled, SendAt: sendAt.UTC()}
	}
	return store.BatchLifecycle{State: domain.BatchRunning, StartedAt: now}
}

func replayed(r store.BatchRecord) Batch {
	return Batch{ID: r.ID, Code: r.Code, Accepted: r.Accepted, Failed: r.Failed, Duplicates: r.Duplicates, Replayed: true}
}

// discard deletes the chunks of a batch that will never be committed. They
// are inert either way; this only saves the space until their TTL.
func (s *Service) discard(ctx context.Context, tenant, batch string, chunks int) {
	if chunks == 0 {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.PublishTimeout)
	defer cancel()
	if err := s.store.DeleteBatchChunks(dctx, tenant, batch, chunks); err != nil {
		logging.FromContext(ctx).Warn("could not delete the chunks of a refused batch; their TTL will",
			"tenant", tenant, "batch", batch, "chunks", chunks, "error", err.Error())
	}
}

// Fanout is the fan-out event of one chunk.
type Fanout struct {
	Tenant string `json:"tenant"`
	Batch  string `json:"batch"`
	Chunk  int    `json:"chunk"`
}

// publishFanout publishes one event per chunk and reports how many made
// it. A failure is logged, not returned: the batch is committed, and
// Resume republishes the chunks no worker finished.
func (s *Service) publishFanout(ctx context.Context, tenant, batch string, chunks int) int {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.PublishTimeout)
	defer cancel()
	errs := make([]error, chunks)
	var wg sync.WaitGroup
	for n := range chunks {
		wg.Go(func() {
			errs[n] = s.fanout.PublishJSON(pctx, Fanout{Tenant: tenant, Batch: batch, Chunk: n}, map[string]string{"tenant": tenant})
		})
	}
	wg.Wait()
	ok := 0
	var first error
	for _, err := range errs {
		if err == nil {
			ok++
		} else if first == nil {
			first = err
		}
	}
	if first != nil {
		logging.FromContext(ctx).Error("fan-out publish failed; resume will republish",
			"tenant", tenant, "batch", batch, "failed", chunks-ok, "error", first.Error())
	}
	return ok
}

// retention is how long a batch's messages are kept under the tenant's
// setting, 0 when they are kept.
func retention(t domain.Tenant, now time.Time) time.Duration {
	if at := t.ExpireAt(now); !at.IsZero() {
		return at.Sub(now)
	}
	return 0
}
