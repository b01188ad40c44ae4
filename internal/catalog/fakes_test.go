package catalog_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// source is a Source in memory that counts its reads.
type source struct {
	mu        sync.Mutex
	tokens    map[string]domain.Token // by hash
	templates map[string]domain.Template
	reads     atomic.Int64 // Token calls
	tplReads  atomic.Int64
	// beforeToken, when set, runs inside Token after the grant is read:
	// a test changes the world there, between a read and its caching.
	beforeToken func(hash string)
}

func newSource() *source {
	return &source{tokens: map[string]domain.Token{}, templates: map[string]domain.Template{}}
}

func (s *source) put(token string, t domain.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[store.HashToken(token)] = t
}

func (s *source) edit(token string, f func(*domain.Token)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[store.HashToken(token)]
	f(&t)
	s.tokens[store.HashToken(token)] = t
}

func (s *source) Token(_ context.Context, hash string) (domain.Token, error) {
	s.reads.Add(1)
	s.mu.Lock()
	t, ok := s.tokens[hash]
	hook := s.beforeToken
	s.mu.Unlock()
	if hook != nil {
		hook(hash)
	}
	if !ok {
		return t, store.ErrNotFound
	}
	return t, nil
}

func (s *source) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	return domain.Tenant{ID: id}, nil
}

func (s *source) Channels(context.Context, string) ([]domain.Channel, error) { return nil, nil }

func (s *source) Template(_ context.Context, tenant, id string) (domain.Template, error) {
	s.tplReads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.templates[tenant+"/"+id]
	if !ok {
		return t, store.ErrNotFound
	}
	return t, nil
}

func (s *source) TemplateByName(context.Context, string, string) (domain.Template, error) {
	return domain.Template{}, store.ErrNotFound
}

func (s *source) Line(context.Context, string) (store.Line, error) {
	return store.Line{}, store.ErrNotFound
}

// keys is a Keys whose listener reports what the test pushes, and which
// records last-used writes.
type keys struct {
	changes chan []store.TokenChange
	applied chan struct{}
	fail    error // WatchTokens fails at once with it, when set

	mu      sync.Mutex
	touches []touch
	touched chan touch
}

type touch struct {
	hash    string
	at      time.Time
	version time.Time
}

func newKeys() *keys {
	return &keys{changes: make(chan []store.TokenChange), applied: make(chan struct{}), touched: make(chan touch, 100)}
}

func (k *keys) WatchTokens(ctx context.Context, _ time.Time, fn func([]store.TokenChange)) error {
	if k.fail != nil {
		return k.fail
	}
	fn(nil) // current, nothing changed yet
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c := <-k.changes:
			fn(c)
			k.applied <- struct{}{}
		}
	}
}

// push reports a change to the listener and returns once the catalog
// has applied it.
func (k *keys) push(t *testing.T, changes ...store.TokenChange) {
	t.Helper()
	select {
	case k.changes <- changes:
	case <-time.After(5 * time.Second):
		t.Fatal("the catalog is not listening")
	}
	<-k.applied
}

func (k *keys) TouchToken(_ context.Context, hash string, at, version time.Time) (time.Time, error) {
	k.mu.Lock()
	k.touches = append(k.touches, touch{hash, at, version})
	k.mu.Unlock()
	k.touched <- touch{hash, at, version}
	return version.Add(time.Second), nil
}

func (k *keys) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.touches)
}

// waitListening waits until the catalog's listener is current.
func waitListening(t *testing.T, c *catalog.Catalog) {
	t.Helper()
	wait.Until(t, 5*time.Second, "the key listener to be current", func() bool { return c.Stats().Listening })
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func isUnauthorized(err error) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Kind == domain.KindUnauthorized
}
