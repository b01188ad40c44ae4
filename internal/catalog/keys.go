package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// Keys is where keys change and are marked used; store.Store implements
// it.
type Keys interface {
	// WatchTokens calls fn with the keys changed after since, once per
	// snapshot, the first time once current; it returns when ctx ends or
	// the listener fails.
	WatchTokens(ctx context.Context, since time.Time, fn func([]store.TokenChange)) error
	// TouchToken writes a key's last use if its document is still at
	// version, and returns the new version (zero when it wrote nothing).
	TouchToken(ctx context.Context, hash string, at, version time.Time) (time.Time, error)
}

const (
	// sinceMargin widens the listener's window back in time, so a
	// change stamped by a server clock behind this instance's is not
	// missed; the window's first snapshot is small either way.
	sinceMargin = 5 * time.Minute
	// tickEvery and frozenAfter detect a frozen instance: Cloud Run
	// gives an instance no CPU between requests, so its listener may
	// not have read what changed meanwhile. A gap between ticks longer
	// than frozenAfter drops every cached key.
	tickEvery   = 250 * time.Millisecond
	frozenAfter = time.Second
	// touchEvery is how often a key's lastUsedAt is written at most.
	touchEvery   = time.Minute
	touchTimeout = 10 * time.Second
	maxBackoff   = 30 * time.Second
)

// keyCache is the key kind of the catalog. With a listener, cached keys
// are served only while it is current; each change it reports drops the
// key from the cache, and a fill that raced a change is not kept (gen).
type keyCache struct {
	c     *Catalog
	cache *cache[domain.Token]
	keys  Keys // nil: keys live for the TTL

	mu  sync.Mutex // orders fills against drops
	gen uint64     // bumped by every drop

	live  atomic.Bool
	once  sync.Once
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	epoch time.Time    // monotonic base of tick
	tick  atomic.Int64 // nanoseconds after epoch of the last tick
	thaws atomic.Int64 // times the cache was dropped after a freeze

	touchMu sync.Mutex
	closed  bool
	touched *lru.Cache[string, time.Time] // hash → this instance's last write
}

func newKeyCache(c *Catalog, ttl time.Duration) *keyCache {
	k := &keyCache{c: c, keys: c.keySrc, epoch: time.Now(),
		cache:   newCache[domain.Token](ttl, c.now, c.sizes.Tokens, c.sizes.Unknown),
		touched: mustLRU[time.Time](c.sizes.Tokens)}
	k.ctx, k.stop = context.WithCancel(context.Background())
	return k
}

// refused is every authentication failure's answer: a caller learns
// nothing of why, the log does.
func refused() error { return domain.Errorf(domain.KindUnauthorized, "incorrect token") }

// Authenticate returns what a bearer token grants, or a KindUnauthorized
// error for a missing, unknown, revoked or expired token. Scopes are the
// caller's to check (domain.Token.Require), right after this.
func (c *Catalog) Authenticate(ctx context.Context, token string) (domain.Token, error) {
	if token == "" {
		return domain.Token{}, refused()
	}
	k := c.keys
	k.listen()
	hash := store.HashToken(token)
	t, err := k.token(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Token{}, refused()
	}
	if err != nil {
		return domain.Token{}, fmt.Errorf("authenticate: %w", err)
	}
	reason := ""
	switch {
	case t.Revoked:
		reason = "revoked"
	case t.Expired(c.now()):
		reason = "expired"
	}
	if reason != "" {
		logging.FromContext(ctx).Info("key refused", "reason", reason, "tenant", t.Tenant, "keyId", t.KeyID)
		return domain.Token{}, refused()
	}
	k.touch(hash, t)
	return t, nil
}

// token reads a grant through the cache.
func (k *keyCache) token(ctx context.Context, hash string) (domain.Token, error) {
	trusted := k.trusted()
	if trusted {
		if t, ok, err := k.cache.lookup(hash); ok || err != nil {
			return t, err
		}
	}
	k.mu.Lock()
	gen := k.gen
	k.mu.Unlock()
	t, err := k.c.src.Token(ctx, hash)
	if trusted {
		k.mu.Lock()
		// A read that raced a later one never replaces the newer version
		// it cached, with an older one or an absence: the listener does
		// not drop a version already cached (dropChanged), so what was
		// kept now would stay. A removal reaches the cache as the
		// listener's drop.
		cur, ok, _ := k.cache.lookup(hash)
		if k.gen == gen && !(ok && (err != nil || cur.Version.After(t.Version))) {
			k.cache.keep(hash, t, err)
		}
		k.mu.Unlock()
	}
	return t, err
}

// trusted reports whether cached keys may be served: always without a
// listener, else only while it is current and the instance was not
// frozen since the last look.
func (k *keyCache) trusted() bool {
	if k.keys == nil {
		return true
	}
	if !k.live.Load() {
		return false
	}
	now := time.Since(k.epoch)
	if now-time.Duration(k.tick.Load()) > frozenAfter {
		k.drop(nil)
		k.tick.Store(int64(now))
		k.thaws.Add(1)
	}
	return true
}

// dropChanged drops the keys the listener reports changed, except a key
// cached at the change's version or a later one: the listener's first
// snapshot reports every recent key, and late snapshots may report a
// version this instance has already read (or written, touching it), so
// dropping those would make the next request read the key again for
// nothing. A removed key, or one cached as absent, is always dropped.
func (k *keyCache) dropChanged(changes []store.TokenChange) {
	hashes := make([]string, 0, len(changes))
	for _, ch := range changes {
		if !ch.Gone && !ch.Token.Version.IsZero() {
			if t, ok, err := k.cache.lookup(ch.Hash); ok && err == nil && !ch.Token.Version.After(t.Version) {
				continue
			}
		}
		hashes = append(hashes, ch.Hash)
	}
	if len(hashes) > 0 {
		k.drop(hashes)
	}
}

// drop removes the keys with these hashes from the cache, every key when
// hashes is nil.
func (k *keyCache) drop(hashes []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
	if hashes == nil {
		k.cache.purge()
		return
	}
	for _, h := range hashes {
		k.cache.forget(h)
	}
}

// listen starts the listener and the freeze ticker, once.
func (k *keyCache) listen() {
	if k.keys == nil {
		return
	}
	k.once.Do(func() {
		k.tick.Store(int64(time.Since(k.epoch)))
		k.wg.Add(2)
		go k.run()
		go k.ticker()
	})
}

func (k *keyCache) ticker() {
	defer k.wg.Done()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-k.ctx.Done():
			return
		case <-t.C:
			k.tick.Store(int64(time.Since(k.epoch)))
		}
	}
}

// run keeps a listener open until the catalog is closed. While there is
// none, keys are read on every request and nothing is cached: a
// revocation missed meanwhile cannot linger.
func (k *keyCache) run() {
	defer k.wg.Done()
	backoff := time.Second
	for {
		// Wall time, not the catalog's clock: it is compared with the
		// server's timestamps.
		since := time.Now().Add(-sinceMargin)
		err := k.keys.WatchTokens(k.ctx, since, func(changes []store.TokenChange) {
			k.dropChanged(changes)
			if !k.live.Swap(true) {
				backoff = time.Second
			}
		})
		k.live.Store(false)
		k.drop(nil)
		if k.ctx.Err() != nil {
			return
		}
		k.c.log.Warn("catalog: the key listener failed; keys are read on every request until it is back",
			"error", err.Error(), "retryIn", backoff.String())
		select {
		case <-k.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// touch records the key's use, at most once a minute per key and
// instance, in the background. The write is conditioned on the version
// read, so instances sharing a key mostly skip it; the cached grant then
// takes the new version, or is dropped to be read afresh.
func (k *keyCache) touch(hash string, t domain.Token) {
	if k.keys == nil {
		return
	}
	now := k.c.now()
	if now.Sub(t.LastUsedAt) < touchEvery {
		return
	}
	k.touchMu.Lock()
	if last, ok := k.touched.Get(hash); k.closed || (ok && now.Sub(last) < touchEvery) {
		k.touchMu.Unlock()
		return
	}
	k.touched.Add(hash, now)
	k.wg.Add(1)
	k.touchMu.Unlock()
	go func() {
		defer k.wg.Done()
		ctx, cancel := context.WithTimeout(k.ctx, touchTimeout)
		defer cancel()
		version, err := k.keys.TouchToken(ctx, hash, now, t.Version)
		if err != nil && k.ctx.Err() == nil {
			k.c.log.Warn("catalog: could not record a key's last use", "tenant", t.Tenant, "keyId", t.KeyID, "error", err.Error())
		}
		k.settleTouch(hash, t, now, version)
	}()
}

// settleTouch brings the cache in line with a last-used write made at
// now, conditioned on read's version, which answered version (zero when
// the key had changed). Reads in flight are not kept (gen).
func (k *keyCache) settleTouch(hash string, read domain.Token, now, version time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
	cur, ok, _ := k.cache.lookup(hash)
	switch {
	case ok && cur.Version.After(read.Version):
		// Read again since the grant this write was conditioned on (its
		// own write included): the cache is already newer.
	case version.IsZero() || !ok || !cur.Version.Equal(read.Version):
		// The key changed before the write, or is not cached as the
		// write found it.
		k.cache.forget(hash)
	default:
		cur.LastUsedAt, cur.Version = now, version
		k.cache.keep(hash, cur, nil)
	}
}

func (k *keyCache) close() {
	k.touchMu.Lock()
	k.closed = true
	k.touchMu.Unlock()
	k.stop()
	k.wg.Wait()
}
