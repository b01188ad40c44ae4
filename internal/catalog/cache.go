package catalog

import (
	"errors"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/templategw/templategw/internal/store"
)

// cache is one kind's bounded TTL cache: what was found, in an LRU of
// its own, and what was not (store.ErrNotFound), in a smaller one. A
// client naming things that do not exist (guessed tokens, unknown
// template names) churns only the second, so it can neither push out
// what others use nor grow memory. Errors other than ErrNotFound are not
// cached, so a passing outage does not stick.
type cache[V any] struct {
	ttl    time.Duration
	now    func() time.Time
	found  *lru.Cache[string, entry[V]]
	absent *lru.Cache[string, time.Time] // key → expiry
}

type entry[V any] struct {
	v   V
	exp time.Time
}

func newCache[V any](ttl time.Duration, now func() time.Time, size, absentSize int) *cache[V] {
	return &cache[V]{ttl: ttl, now: now, found: mustLRU[entry[V]](size), absent: mustLRU[time.Time](absentSize)}
}

// mustLRU panics only on a size below 1, which New never passes.
func mustLRU[V any](size int) *lru.Cache[string, V] {
	c, err := lru.New[string, V](max(size, 1))
	if err != nil {
		panic(err)
	}
	return c
}

// lookup returns a fresh cached value (ok) or a fresh cached absence
// (err is store.ErrNotFound).
func (c *cache[V]) lookup(key string) (v V, ok bool, err error) {
	now := c.now()
	if e, hit := c.found.Get(key); hit {
		if now.Before(e.exp) {
			return e.v, true, nil
		}
		c.found.Remove(key)
	}
	if exp, hit := c.absent.Get(key); hit {
		if now.Before(exp) {
			return v, false, store.ErrNotFound
		}
		c.absent.Remove(key)
	}
	return v, false, nil
}

// keep caches a load's result: a value, or an absence.
func (c *cache[V]) keep(key string, v V, err error) {
	if c.ttl <= 0 {
		return
	}
	exp := c.now().Add(c.ttl)
	switch {
	case err == nil:
		c.absent.Remove(key)
		c.found.Add(key, entry[V]{v: v, exp: exp})
	case errors.Is(err, store.ErrNotFound):
		c.found.Remove(key)
		c.absent.Add(key, exp)
	}
}

// get is a read-through lookup.
func (c *cache[V]) get(key string, load func() (V, error)) (V, error) {
	if v, ok, err := c.lookup(key); ok || err != nil {
		return v, err
	}
	v, err := load()
	c.keep(key, v, err)
	return v, err
}

// forget drops what is cached under key, found or absent.
func (c *cache[V]) forget(key string) {
	c.found.Remove(key)
	c.absent.Remove(key)
}

func (c *cache[V]) purge() {
	c.found.Purge()
	c.absent.Purge()
}
