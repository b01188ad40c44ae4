package catalog_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

var quiet = catalog.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// listening returns a catalog over src whose key listener is k and
// current, as every authenticating instance runs it.
func listening(t *testing.T, src *source, k *keys, opts ...catalog.Option) *catalog.Catalog {
	t.Helper()
	c := catalog.New(src, time.Hour, append([]catalog.Option{catalog.WithKeys(k), quiet}, opts...)...)
	t.Cleanup(c.Close)
	// The first authentication starts the listener.
	_, _ = c.Authenticate(context.Background(), "start")
	waitListening(t, c)
	return c
}

func mustAuth(t *testing.T, c *catalog.Catalog, token string) domain.Token {
	t.Helper()
	tok, err := c.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("authenticate %s: %v", token, err)
	}
	return tok
}

// 20,000 requests with random tokens cost one read each and leave a
// valid key cached, with the caches at their bounds.
func TestRandomTokensLeaveAValidKeyCached(t *testing.T) {
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme", Scopes: []domain.Scope{domain.ScopeSend}})
	c := listening(t, src, newKeys())
	mustAuth(t, c, "valid")
	read := src.reads.Load()
	mustAuth(t, c, "valid")
	if n := src.reads.Load() - read; n != 0 {
		t.Fatalf("a cached key was read %d times", n)
	}

	const spray = 20000
	ctx := context.Background()
	// A machine stalled past a second looks like a frozen instance,
	// which drops its keys on purpose; only then may the key be read.
	thaws := c.Stats().Thaws
	read = src.reads.Load()
	for range spray {
		if _, err := c.Authenticate(ctx, "tgw_"+rand.Text()); !isUnauthorized(err) {
			t.Fatalf("random token: %v", err)
		}
	}
	if n := src.reads.Load() - read; n != spray {
		t.Errorf("%d random tokens cost %d reads, want one each", spray, n)
	}
	st := c.Stats()
	if st.Tokens > 1 || st.UnknownTokens != catalog.DefaultSizes.Unknown {
		t.Errorf("after the spray: %d keys and %d unknown tokens cached, want 1 and the bound %d", st.Tokens, st.UnknownTokens, catalog.DefaultSizes.Unknown)
	}
	read = src.reads.Load()
	mustAuth(t, c, "valid")
	if n := src.reads.Load() - read; n != 0 && c.Stats().Thaws == thaws {
		t.Errorf("the valid key was pushed out by the spray: %d reads", n)
	}
}

// A change the listener reports drops the key at once: a revocation is
// refused from then on, a key created after a miss works.
func TestListenerDropsAChangedKeyAtOnce(t *testing.T) {
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme"})
	k := newKeys()
	c := listening(t, src, k)
	mustAuth(t, c, "valid")

	src.edit("valid", func(t *domain.Token) { t.Revoked = true })
	mustAuth(t, c, "valid") // cached for the hour: only the listener can tell
	k.push(t, store.TokenChange{Hash: store.HashToken("valid")})
	if _, err := c.Authenticate(context.Background(), "valid"); !isUnauthorized(err) {
		t.Errorf("revoked key after the listener reported it: %v", err)
	}

	if _, err := c.Authenticate(context.Background(), "later"); !isUnauthorized(err) {
		t.Fatalf("unknown token: %v", err)
	}
	src.put("later", domain.Token{Tenant: "acme"})
	if _, err := c.Authenticate(context.Background(), "later"); !isUnauthorized(err) {
		t.Fatalf("the miss is not cached: %v", err)
	}
	k.push(t, store.TokenChange{Hash: store.HashToken("later")})
	mustAuth(t, c, "later")
}

// The listener's report of a version the cache already holds (its first
// snapshot reports every recent key) leaves the key cached; a later
// version drops it.
func TestListenerKeepsAKeyCachedAtThatVersion(t *testing.T) {
	v1 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme", Version: v1})
	k := newKeys()
	c := listening(t, src, k)
	mustAuth(t, c, "valid")
	reads := src.reads.Load()
	k.push(t, store.TokenChange{Hash: store.HashToken("valid"), Token: domain.Token{Tenant: "acme", Version: v1}})
	mustAuth(t, c, "valid")
	if n := src.reads.Load() - reads; n != 0 {
		t.Errorf("a report of the version cached made the key read %d times again", n)
	}
	src.edit("valid", func(t *domain.Token) { t.Revoked, t.Version = true, v1.Add(time.Hour) })
	k.push(t, store.TokenChange{Hash: store.HashToken("valid"), Token: domain.Token{Tenant: "acme", Revoked: true, Version: v1.Add(time.Hour)}})
	if _, err := c.Authenticate(context.Background(), "valid"); !isUnauthorized(err) {
		t.Errorf("revoked key after the listener reported its new version: %v", err)
	}
}

// A read that raced a newer one never replaces the newer version in the
// cache, though the listener, finding that version cached, dropped
// nothing.
func TestAnOlderReadNeverReplacesANewerCachedVersion(t *testing.T) {
	v1 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	v2 := v1.Add(time.Second)
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme", Version: v1})
	k := newKeys()
	c := listening(t, src, k)
	src.beforeToken = func(hash string) {
		src.beforeToken = nil
		src.edit("valid", func(t *domain.Token) { t.Revoked, t.Version = true, v2 })
		if _, err := c.Authenticate(context.Background(), "valid"); !isUnauthorized(err) {
			t.Errorf("the revoked key read after the revocation: %v", err)
		}
		k.push(t, store.TokenChange{Hash: hash, Token: domain.Token{Tenant: "acme", Revoked: true, Version: v2}})
	}
	mustAuth(t, c, "valid") // read before the revocation, answered after
	if _, err := c.Authenticate(context.Background(), "valid"); !isUnauthorized(err) {
		t.Errorf("the grant read before the revocation replaced the revoked one: %v", err)
	}
}

// A read that raced a change is used for its request but not kept: the
// next request reads again and sees the change.
func TestAReadThatRacedAChangeIsNotKept(t *testing.T) {
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme"})
	k := newKeys()
	c := listening(t, src, k)
	src.beforeToken = func(hash string) {
		src.beforeToken = nil
		src.edit("valid", func(t *domain.Token) { t.Revoked = true })
		k.push(t, store.TokenChange{Hash: hash})
	}
	mustAuth(t, c, "valid") // read before the revocation
	if _, err := c.Authenticate(context.Background(), "valid"); !isUnauthorized(err) {
		t.Errorf("the grant read before the revocation was cached: %v", err)
	}
}

// While the listener is down, keys are read on every request and none
// is cached: a revocation missed meanwhile cannot linger.
func TestKeysAreReadWhileTheListenerIsDown(t *testing.T) {
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme"})
	k := newKeys()
	k.fail = errors.New("listener down")
	c := catalog.New(src, time.Hour, catalog.WithKeys(k), quiet)
	t.Cleanup(c.Close)
	for range 3 {
		mustAuth(t, c, "valid")
	}
	if n := src.reads.Load(); n != 3 {
		t.Errorf("3 requests read the key %d times", n)
	}
	if st := c.Stats(); st.Listening || st.Tokens != 0 {
		t.Errorf("stats with the listener down: %+v", st)
	}
}

// An expired key is refused from the instant it expires, cached or not.
func TestExpiredKeyIsRefused(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme", ExpiresAt: clk.now.Add(time.Hour)})
	c := listening(t, src, newKeys(), catalog.WithClock(clk.Now))
	mustAuth(t, c, "valid")
	clk.Add(time.Hour - time.Second)
	mustAuth(t, c, "valid")
	clk.Add(time.Second)
	if _, err := c.Authenticate(context.Background(), "valid"); !isUnauthorized(err) {
		t.Errorf("expired key: %v", err)
	}
}

// lastUsedAt is written at most once a minute per key, with the version
// read, and the cached grant follows the write's new version.
func TestLastUseIsWrittenAtMostOnceAMinute(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	v0 := t0.Add(-time.Hour)
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme", Version: v0})
	src.put("fresh", domain.Token{Tenant: "acme", Version: v0, LastUsedAt: t0.Add(-30 * time.Second)})
	k := newKeys()
	c := listening(t, src, k, catalog.WithClock(clk.Now))
	for range 50 {
		mustAuth(t, c, "valid")
		mustAuth(t, c, "fresh") // another instance wrote 30 s ago
	}
	first := <-k.touched
	clk.Add(59 * time.Second)
	for range 50 {
		mustAuth(t, c, "valid")
	}
	clk.Add(2 * time.Second)
	for range 50 {
		mustAuth(t, c, "valid")
	}
	second := <-k.touched
	c.Close() // waits for the writes
	if n := k.count(); n != 2 {
		t.Fatalf("%d last-used writes, want 2: %+v", n, k.touches)
	}
	h := store.HashToken("valid")
	if first.hash != h || !first.at.Equal(t0) || !first.version.Equal(v0) {
		t.Errorf("first write %+v", first)
	}
	if second.hash != h || !second.at.Equal(t0.Add(61*time.Second)) || !second.version.Equal(v0.Add(time.Second)) {
		t.Errorf("second write %+v, want the version the first returned", second)
	}
}

// Unknown template ids churn their own small cache, never the templates
// in use.
func TestUnknownTemplatesDoNotPushOutKnownOnes(t *testing.T) {
	src := newSource()
	src.templates["acme/welcome"] = domain.Template{ID: "welcome"}
	c := catalog.New(src, time.Hour, catalog.WithSizes(catalog.Sizes{Templates: 10, Unknown: 5}))
	ctx := context.Background()
	if _, err := c.Template(ctx, "acme", "welcome"); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if _, err := c.Template(ctx, "acme", rand.Text()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown template: %v", err)
		}
	}
	read := src.tplReads.Load()
	if _, err := c.Template(ctx, "acme", "welcome"); err != nil || src.tplReads.Load() != read {
		t.Errorf("the known template was pushed out: %v, %d reads", err, src.tplReads.Load()-read)
	}
	if st := c.Stats(); st.Templates != 1 || st.UnknownTemplates != 5 {
		t.Errorf("stats %+v", st)
	}
}

// A TTL of 0 caches nothing.
func TestNoTTLCachesNothing(t *testing.T) {
	src := newSource()
	src.put("valid", domain.Token{Tenant: "acme"})
	c := catalog.New(src, 0)
	for range 3 {
		mustAuth(t, c, "valid")
		if _, err := c.Authenticate(context.Background(), "nope"); !isUnauthorized(err) {
			t.Fatal(err)
		}
	}
	if n := src.reads.Load(); n != 6 {
		t.Errorf("6 requests read %d times", n)
	}
}

// A missing token, an unknown one and a revoked one get the same answer.
func TestRefusalsLookAlike(t *testing.T) {
	src := newSource()
	src.put("revoked", domain.Token{Tenant: "acme", Revoked: true})
	c := catalog.New(src, time.Hour)
	for _, tok := range []string{"", "unknown", "revoked"} {
		_, err := c.Authenticate(context.Background(), tok)
		var de *domain.Error
		if !errors.As(err, &de) || de.Kind != domain.KindUnauthorized || de.Message != "incorrect token" {
			t.Errorf("%q: %v", tok, err)
		}
	}
}
