package accept_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// fakeLimiter admits each tenant's first limit requests and refuses the
// rest, or fails when err is set; it records the limits it was asked.
type fakeLimiter struct {
	mu    sync.Mutex
	used  map[string]int
	asked map[string]int
	err   error
}

func (l *fakeLimiter) Allow(_ context.Context, tenant string, limit int) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked[tenant] = limit
	if l.err != nil {
		return false, 0, l.err
	}
	if l.used[tenant] >= limit {
		return false, 1500 * time.Millisecond, nil
	}
	l.used[tenant]++
	return true, 0, nil
}

// ratedSource is the demo tenant under any id, with a request limit of its
// own for some.
type ratedSource struct {
	memory.Source
	rate map[string]int
}

func (s ratedSource) Tenant(ctx context.Context, id string) (domain.Tenant, error) {
	t, err := s.Source.Tenant(ctx, id)
	t.RateLimit = s.rate[id]
	return t, err
}

// claimCounter counts the idempotency keys the accept path claims.
type claimCounter struct {
	*memory.Store
	mu     sync.Mutex
	claims int
}

func (c *claimCounter) ClaimKey(ctx context.Context, tenant, key string, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error) {
	c.mu.Lock()
	c.claims++
	c.mu.Unlock()
	return c.Store.ClaimKey(ctx, tenant, key, rec)
}

func limitedService(t *testing.T, lim accept.Limiter, rate map[string]int) (*accept.Service, *claimCounter) {
	st := &claimCounter{Store: memory.NewStore(t)}
	src := ratedSource{Source: memory.NewSource(), rate: rate}
	return accept.New(catalog.New(src, 0), st, memory.Publisher{}, accept.Options{Wait: -1, Limiter: lim, RateLimit: 2}), st
}

// A request over its tenant's limit is refused with the delay to retry
// after, before its Idempotency-Key is claimed or anything is written;
// another tenant's requests go on.
func TestOverTheRequestLimitNothingIsWritten(t *testing.T) {
	lim := &fakeLimiter{used: map[string]int{}, asked: map[string]int{}}
	svc, st := limitedService(t, lim, map[string]int{"rated": 1})
	ctx := context.Background()
	for i := range 2 {
		idem := &accept.Idempotency{Key: "k" + phone(i), RequestHash: "h"}
		if _, err := svc.Send(ctx, tok, welcome(phone(i)), idem, render); err != nil {
			t.Fatalf("send %d under the limit: %v", i, err)
		}
	}
	if lim.asked[demo.TenantID] != 2 {
		t.Errorf("a tenant without a limit of its own was limited to %d, want the default 2", lim.asked[demo.TenantID])
	}
	messages, claims := len(st.Messages), st.claims

	_, err := svc.Send(ctx, tok, welcome(phone(9)), &accept.Idempotency{Key: "over", RequestHash: "h"}, render)
	if domain.KindOf(err) != domain.KindRateLimited {
		t.Fatalf("send over the limit: %v, want KindRateLimited", err)
	}
	if d, ok := domain.RetryAfter(err); !ok || d != 1500*time.Millisecond {
		t.Errorf("RetryAfter = %s, %t; want the limiter's 1.5s", d, ok)
	}
	if len(st.Messages) != messages || st.claims != claims {
		t.Errorf("a refused request wrote: %d messages (was %d), %d key claims (was %d)", len(st.Messages), messages, st.claims, claims)
	}
	if _, err := st.Idempotency(ctx, demo.TenantID, "over"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused request's key is stored: %v", err)
	}
	text := accept.Request{Text: "hello", Phone: phone(0)}
	if _, err := svc.Send(ctx, tok, text, nil, render); domain.KindOf(err) != domain.KindRateLimited {
		t.Errorf("a session text over the limit: %v, want KindRateLimited", err)
	}

	other := tok
	other.Tenant = "rated"
	if _, err := svc.Send(ctx, other, welcome(phone(0)), nil, render); err != nil {
		t.Fatalf("another tenant's send: %v", err)
	}
	if lim.asked["rated"] != 1 {
		t.Errorf("a tenant with a limit of 1 was limited to %d", lim.asked["rated"])
	}
	if _, err := svc.Send(ctx, other, welcome(phone(1)), nil, render); domain.KindOf(err) != domain.KindRateLimited {
		t.Errorf("the other tenant's second send: %v, want its own limit of 1 to refuse it", err)
	}
}

// A limiter that cannot tell (its store is down) lets requests through:
// the limit protects the gateway and must not become an outage.
func TestAnUnknownLimitAllows(t *testing.T) {
	lim := &fakeLimiter{used: map[string]int{}, asked: map[string]int{}, err: errors.New("firestore unavailable")}
	svc, st := limitedService(t, lim, nil)
	for i := range 5 {
		if _, err := svc.Send(context.Background(), tok, welcome(phone(i)), nil, render); err != nil {
			t.Fatalf("send %d with the limiter failing: %v", i, err)
		}
	}
	if len(st.Messages) != 5 {
		t.Errorf("%d messages stored, want 5", len(st.Messages))
	}
}

// The bulk routes take their token through Limit, once per request.
func TestLimitIsOneTokenPerRequest(t *testing.T) {
	lim := &fakeLimiter{used: map[string]int{}, asked: map[string]int{}}
	svc, _ := limitedService(t, lim, nil)
	for range 2 {
		if err := svc.Limit(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	err := svc.Limit(context.Background(), tok)
	if domain.KindOf(err) != domain.KindRateLimited {
		t.Fatalf("third request: %v, want KindRateLimited", err)
	}
	if lim.used[demo.TenantID] != 2 {
		t.Errorf("%d tokens taken for 3 requests, want 2", lim.used[demo.TenantID])
	}
}
