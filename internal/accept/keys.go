package accept

import (
	"context"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// IdempotencyTTL is how long a key's first answer is kept (Stripe's 24 h),
// in every dialect.
const IdempotencyTTL = 24 * time.Hour

// KeyLease bounds how long a request holds its key in flight before a
// retry may take it over: longer than any request runs (the functions'
// timeout is 60 s), so a live request never loses its key.
const KeyLease = 2 * time.Minute

// KeyStore keeps idempotency records: the in-flight claim and the first
// answer, in the database so every instance sees them.
type KeyStore interface {
	ClaimKey(ctx context.Context, tenant, key string, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error)
	TakeOverKey(ctx context.Context, tenant, key string, old, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error)
	ReleaseKey(ctx context.Context, tenant, key string, version time.Time) error
}

// Keys runs Idempotency-Key handling the same way for every send route,
// single or bulk, template or text.
type Keys struct {
	Store KeyStore
	Now   func() time.Time
}

// Claim takes key for a request of tenant whose hash is hash ("" when the
// request's hash is known only once its body is read through: a bulk send
// compares it itself). claimed is true when this request now holds the
// key; otherwise rec is the first request's record, which the caller
// answers from. A request still in flight under the key is refused
// (KindInFlight), and a finished one with another hash too (KindKeyReused).
// A claim whose request died without storing anything is taken over once
// its lease runs out.
func (k Keys) Claim(ctx context.Context, tenant, key, hash string) (rec store.IdempotencyRecord, claimed bool, err error) {
	now := k.Now()
	mine := store.IdempotencyRecord{RequestHash: hash, State: store.KeyInFlight, LeaseUntil: now.Add(KeyLease), ExpireAt: now.Add(IdempotencyTTL)}
	got, claimed, err := k.Store.ClaimKey(ctx, tenant, key, mine)
	if err != nil || claimed {
		return got, claimed, err
	}
	for range 3 {
		switch Verdict(got, hash, now) {
		case KeyReplay:
			return got, false, nil
		case KeyReused:
			return got, false, domain.Errorf(domain.KindKeyReused, "Idempotency-Key was already used with a different request")
		case KeyBusy:
			return got, false, domain.Errorf(domain.KindInFlight, "a request with this Idempotency-Key is still being handled")
		}
		if got, claimed, err = k.Store.TakeOverKey(ctx, tenant, key, got, mine); err != nil || claimed {
			return got, claimed, err
		}
		if got, claimed, err = k.Store.ClaimKey(ctx, tenant, key, mine); err != nil || claimed {
			return got, claimed, err
		}
	}
	return got, false, domain.Errorf(domain.KindInFlight, "a request with this Idempotency-Key is still being handled")
}

// Release frees a key claimed at rec for a request that stored nothing (a
// validation failure or an error before the commit), so its retry is
// handled afresh. A failure is only logged: the lease frees it anyway.
func (k Keys) Release(ctx context.Context, tenant, key string, rec store.IdempotencyRecord) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := k.Store.ReleaseKey(rctx, tenant, key, rec.Version); err != nil {
		logging.FromContext(ctx).Warn("could not release an idempotency key; its lease will", "tenant", tenant, "error", err.Error())
	}
}

// KeyVerdict is what a request does about a key another request holds.
type KeyVerdict int

// The verdicts.
const (
	KeyReplay   KeyVerdict = iota // answer the first request's answer
	KeyReused                     // 422: the key names another request
	KeyBusy                       // 409: the first request is still running
	KeyTakeOver                   // the first request died holding it: start afresh
)

// Verdict decides what a request hashing to hash does about rec at now.
// A record that stored a message or batch is never taken over, even past
// its lease: that request's send is durable, and a retry replays it.
func Verdict(rec store.IdempotencyRecord, hash string, now time.Time) KeyVerdict {
	stored := rec.MessageID != "" || rec.Batch != "" || rec.Answered()
	switch {
	case hash != "" && rec.RequestHash != "" && rec.RequestHash != hash:
		return KeyReused
	case rec.InFlight(now):
		return KeyBusy
	case stored:
		return KeyReplay
	}
	return KeyTakeOver
}

// String names a verdict in logs and test failures.
func (v KeyVerdict) String() string {
	return [...]string{"replay", "reused", "busy", "take over"}[v]
}
