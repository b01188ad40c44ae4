package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// DefaultGateTTL is how long a dispatch instance trusts that a broadcast
// is running: a pause or cancel reaches every instance within it.
const DefaultGateTTL = 2 * time.Second

// GateStore reads a broadcast's state and undoes a claim on its messages.
type GateStore interface {
	Batch(ctx context.Context, tenant, id string) (store.BatchRecord, error)
	UnclaimBatchMessage(ctx context.Context, tenant, id string, attempt int, cancel, limited bool, now time.Time) (domain.Message, error)
}

// Gate is what dispatch asks, once it has claimed a broadcast's message
// and before it calls the provider, whether the broadcast still sends:
// the pause and cancel of a broadcast whose jobs are already queued. A
// running state is remembered for the TTL, so a running broadcast costs
// dispatch one read per instance every TTL, not one per message; any
// other state is read again every time, so a resume is seen at once.
type Gate struct {
	store GateStore
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	running map[string]time.Time // tenant/batch → when it was read running
}

// NewGate returns a gate; ttl ≤ 0 is DefaultGateTTL, now nil is time.Now.
func NewGate(st GateStore, ttl time.Duration, now func() time.Time) *Gate {
	if ttl <= 0 {
		ttl = DefaultGateTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Gate{store: st, ttl: ttl, now: now, running: map[string]time.Time{}}
}

// Hold reports whether dispatch must not send m, which it has claimed
// (attempt m.Attempts): m's broadcast is paused, not started or
// cancelled. Then Hold has already undone the claim: m is accepted again
// for the resume to republish, or cancelled. A single send, or a message
// whose batch expired, is never held.
func (g *Gate) Hold(ctx context.Context, m domain.Message) (bool, error) {
	if m.Batch == "" {
		return false, nil
	}
	key := m.Tenant + "/" + m.Batch
	now := g.now()
	if g.fresh(key, now) {
		return false, nil
	}
	rec, err := g.store.Batch(ctx, m.Tenant, m.Batch)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state of batch %s/%s: %w", m.Tenant, m.Batch, err)
	}
	st := rec.State.Of()
	if st.Sending() {
		g.remember(key, now)
		return false, nil
	}
	cancel := st == domain.BatchCancelled
	got, err := g.store.UnclaimBatchMessage(ctx, m.Tenant, m.ID, m.Attempts, cancel, rec.ConversationLimit > 0, now.UTC())
	if errors.Is(err, store.ErrStale) {
		return true, nil // the claim is no longer this attempt's: not ours to send
	}
	if err != nil {
		return false, err
	}
	tf := logging.Moved(logging.SourceDispatch, got, domain.StatusDispatching)
	tf.Batch, tf.Reason = m.Batch, "batch "+string(st)
	logging.Transition(ctx, tf)
	return true, nil
}

func (g *Gate) fresh(key string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.running[key]
	return ok && now.Sub(at) < g.ttl
}

func (g *Gate) remember(key string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, at := range g.running {
		if now.Sub(at) >= g.ttl {
			delete(g.running, k) // so the map holds only live broadcasts
		}
	}
	g.running[key] = now
}
