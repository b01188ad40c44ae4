// Package catalog caches, per instance, what changes rarely and is read
// on every request: keys, tenants, channels and templates, and which
// channel a Meta phone-number id is. A send then costs one commit and no
// reads of those.
//
// Every kind is a bounded LRU with a TTL, and what was not found sits in
// a small LRU of its own, so requests naming things that do not exist
// (random tokens) neither push out what others use nor grow memory. Keys
// are also kept current by a Firestore listener (WithKeys): a revoked key
// is refused by every instance within moments, not after the TTL.
package catalog

import (
	"context"
	"fmt"
	"log/slog"
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

// Sizes bound each kind's cache, in entries. Unknown bounds, for each
// kind, the separate cache of what was not found.
type Sizes struct {
	Tokens    int
	Tenants   int
	Channels  int // tenants whose channel lists are kept
	Templates int
	Lines     int
	Unknown   int
}

// DefaultSizes keep an instance's catalog to a few tens of MiB at most:
// ten thousand keys and tenants are more than one instance serves at once.
var DefaultSizes = Sizes{Tokens: 10000, Tenants: 10000, Channels: 10000, Templates: 5000, Lines: 10000, Unknown: 1000}

// Catalog is a read-through cache over a Source.
type Catalog struct {
	src       Source
	sizes     Sizes
	now       func() time.Time
	log       *slog.Logger
	keySrc    Keys
	tenants   *cache[domain.Tenant]
	channels  *cache[[]domain.Channel]
	templates *cache[domain.Template]
	lines     *cache[store.Line]
	keys      *keyCache
}

// Option tunes a catalog.
type Option func(*Catalog)

// WithKeys keeps cached keys current: on the first authentication the
// catalog starts listening to key changes (revocations, new keys) and
// drops what changed, and it records each key's last use. Every function
// instance that authenticates needs it; without it keys live for the TTL.
func WithKeys(k Keys) Option { return func(c *Catalog) { c.keySrc = k } }

// WithSizes bounds the caches; zero fields keep DefaultSizes'.
func WithSizes(s Sizes) Option {
	return func(c *Catalog) {
		d := DefaultSizes
		c.sizes = Sizes{
			Tokens: pick(s.Tokens, d.Tokens), Tenants: pick(s.Tenants, d.Tenants), Channels: pick(s.Channels, d.Channels),
			Templates: pick(s.Templates, d.Templates), Lines: pick(s.Lines, d.Lines), Unknown: pick(s.Unknown, d.Unknown),
		}
	}
}

func pick(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// WithClock sets the clock keys' expiry and last use are read against.
func WithClock(now func() time.Time) Option { return func(c *Catalog) { c.now = now } }

// WithLogger sets where the key listener reports its failures.
func WithLogger(l *slog.Logger) Option { return func(c *Catalog) { c.log = l } }

// New returns a catalog whose entries live for ttl (0 disables caching).
func New(src Source, ttl time.Duration, opts ...Option) *Catalog {
	c := &Catalog{src: src, sizes: DefaultSizes, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	s := c.sizes
	c.tenants = newCache[domain.Tenant](ttl, c.now, s.Tenants, s.Unknown)
	c.channels = newCache[[]domain.Channel](ttl, c.now, s.Channels, s.Unknown)
	c.templates = newCache[domain.Template](ttl, c.now, s.Templates, s.Unknown)
	c.lines = newCache[store.Line](ttl, c.now, s.Lines, s.Unknown)
	c.keys = newKeyCache(c, ttl)
	return c
}

// Stats are how many entries each cache holds, and whether the key
// listener is current.
type Stats struct {
	Tokens, UnknownTokens       int
	Tenants, Channels           int
	Templates, UnknownTemplates int
	Lines                       int
	// Listening is true while the key listener is current: only then
	// are keys served from the cache.
	Listening bool
	// Thaws counts the times this instance found it had been frozen
	// (no CPU between requests) and dropped its cached keys.
	Thaws int64
}

// Stats counts the cached entries.
func (c *Catalog) Stats() Stats {
	return Stats{
		Tokens: c.keys.cache.found.Len(), UnknownTokens: c.keys.cache.absent.Len(),
		Tenants: c.tenants.found.Len(), Channels: c.channels.found.Len(),
		Templates: c.templates.found.Len(), UnknownTemplates: c.templates.absent.Len(),
		Lines:     c.lines.found.Len(),
		Listening: c.keys.live.Load(),
		Thaws:     c.keys.thaws.Load(),
	}
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

// Close stops the key listener, if one runs, and waits for it and for
// pending last-used writes.
func (c *Catalog) Close() { c.keys.close() }
