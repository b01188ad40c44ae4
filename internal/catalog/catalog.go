// Package catalog caches, per instance and for a short TTL, what changes
// rarely and is read on every request: tokens, tenants, channels and
// templates, and which channel a Meta phone-number id is. A send then costs
// one commit and no reads of those.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// Source is where the catalog reads on a miss.
type Source interface {
	Token(ctx context.Context, hash string) (domain.Token, error)
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	Channels(ctx context.Context, tenant string) ([]domain.Channel, error)
	Template(ctx context.Context, tenant, id string) (domain.Template, error)
	TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error)
	Line(ctx context.Context, phoneNumberID string) (store.Line, error)
}

// Catalog is a read-through TTL cache over a Source. Misses for unknown
// tokens are cached too, so a client with a wrong token cannot turn every
// request into a database read.
type Catalog struct {
	src       Source
	tokens    *cache[domain.Token]
	tenants   *cache[domain.Tenant]
	channels  *cache[[]domain.Channel]
	templates *cache[domain.Template]
	lines     *cache[store.Line]
}

// New returns a catalog whose entries live for ttl (0 disables caching).
func New(src Source, ttl time.Duration) *Catalog {
	return &Catalog{
		src:       src,
		tokens:    newCache[domain.Token](ttl),
		tenants:   newCache[domain.Tenant](ttl),
		channels:  newCache[[]domain.Channel](ttl),
		templates: newCache[domain.Template](ttl),
		lines:     newCache[store.Line](ttl),
	}
}

// Authenticate returns what a bearer token grants, or a KindUnauthorized
// error for a missing, unknown or revoked token.
func (c *Catalog) Authenticate(ctx context.Context, token string) (domain.Token, error) {
	if token == "" {
		return domain.Token{}, domain.Errorf(domain.KindUnauthorized, "incorrect token")
	}
	hash := store.HashToken(token)
	t, err := c.tokens.get(hash, func() (domain.Token, error) { return c.src.Token(ctx, hash) })
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.Revoked) {
		return domain.Token{}, domain.Errorf(domain.KindUnauthorized, "incorrect token")
	}
	if err != nil {
		return domain.Token{}, fmt.Errorf("authenticate: %w", err)
	}
	return t, nil
}

// Tenant returns a tenant.
func (c *Catalog) Tenant(ctx context.Context, id string) (domain.Tenant, error) {
	return c.tenants.get(id, func() (domain.Tenant, error) { return c.src.Tenant(ctx, id) })
}

// Channels returns a tenant's channels.
func (c *Catalog) Channels(ctx context.Context, tenant string) ([]domain.Channel, error) {
	return c.channels.get(tenant, func() ([]domain.Channel, error) { return c.src.Channels(ctx, tenant) })
}

// Channel returns one of a tenant's channels by id, store.ErrNotFound when
// there is none.
func (c *Catalog) Channel(ctx context.Context, tenant, id string) (domain.Channel, error) {
	list, err := c.Channels(ctx, tenant)
	if err != nil {
		return domain.Channel{}, err
	}
	for _, ch := range list {
		if ch.ID == id {
			return ch, nil
		}
	}
	return domain.Channel{}, fmt.Errorf("channel %s/%s: %w", tenant, id, store.ErrNotFound)
}

// Template returns one of a tenant's templates, store.ErrNotFound when
// there is none.
func (c *Catalog) Template(ctx context.Context, tenant, id string) (domain.Template, error) {
	return c.templates.get(tenant+"/"+id, func() (domain.Template, error) { return c.src.Template(ctx, tenant, id) })
}

// TemplateByName returns one of a tenant's templates by Meta's name,
// store.ErrNotFound when there is none.
func (c *Catalog) TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error) {
	return c.templates.get(tenant+"\x00name\x00"+name, func() (domain.Template, error) { return c.src.TemplateByName(ctx, tenant, name) })
}

// Line returns the tenant and channel of a Meta phone-number id,
// store.ErrNotFound when no channel has it.
func (c *Catalog) Line(ctx context.Context, phoneNumberID string) (store.Line, error) {
	return c.lines.get(phoneNumberID, func() (store.Line, error) { return c.src.Line(ctx, phoneNumberID) })
}

// ForgetChannels drops the cached channels of a tenant, after this
// instance changed one.
func (c *Catalog) ForgetChannels(tenant string) { c.channels.forget(tenant) }

// cache is a small TTL map. Errors other than ErrNotFound are not cached,
// so a passing outage does not stick.
type cache[V any] struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]entry[V]
}

type entry[V any] struct {
	v   V
	err error
	exp time.Time
}

func newCache[V any](ttl time.Duration) *cache[V] {
	return &cache[V]{ttl: ttl, m: map[string]entry[V]{}}
}

func (c *cache[V]) get(key string, load func() (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.exp) {
		return e.v, e.err
	}
	v, err := load()
	if c.ttl > 0 && (err == nil || errors.Is(err, store.ErrNotFound)) {
		c.mu.Lock()
		if len(c.m) > maxEntries {
			clear(c.m)
		}
		c.m[key] = entry[V]{v: v, err: err, exp: now.Add(c.ttl)}
		c.mu.Unlock()
	}
	return v, err
}

// maxEntries bounds memory when many distinct keys (e.g. guessed tokens)
// arrive; clearing everything is crude but the TTL is short anyway.
const maxEntries = 10000

func (c *cache[V]) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
