package admin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// A key with scopes, channels and an expiry is stored as asked, listed
// by its prefix without the key, and revoked by its id.
func TestScopedKey(t *testing.T) {
	e := newEnv(t)
	tenant, _ := e.setUp(t)
	before := time.Now()
	var k tokenOut
	raw := e.mustJSON(t, &k, "token", "create", "--tenant", tenant, "--integration", "erp",
		"--scopes", "read:messages,send", "--channels", "main", "--expires", "90d")
	if k.Prefix != "tgw_"+k.ID || !strings.HasPrefix(k.Token, k.Prefix+"_") || k.Hash != store.HashToken(k.Token) {
		t.Fatalf("token create --json: %s", raw)
	}
	if !slices.Equal(k.Scopes, []string{"send", "read:messages"}) || !slices.Equal(k.Channels, []string{"main"}) || k.DefaultChannel != "main" {
		t.Errorf("scopes %q, channels %q, default %q", k.Scopes, k.Channels, k.DefaultChannel)
	}
	expiry := before.AddDate(0, 0, 90)
	if k.ExpiresAt == nil || k.ExpiresAt.Before(expiry.Add(-time.Second)) || k.ExpiresAt.After(expiry.Add(time.Minute)) {
		t.Fatalf("expires %v, want about %v", k.ExpiresAt, expiry)
	}
	grant, err := e.Store.Token(context.Background(), k.Hash)
	if err != nil || grant.KeyID != k.ID || !slices.Equal(grant.Scopes, []domain.Scope{domain.ScopeSend, domain.ScopeReadMessages}) ||
		!slices.Equal(grant.Channels, []string{"main"}) || !grant.ExpiresAt.Equal(*k.ExpiresAt) || grant.CreatedAt.IsZero() {
		t.Errorf("stored grant %+v, %v", grant, err)
	}

	table := e.must(t, "token", "list", "--tenant", tenant)
	var line string
	for l := range strings.Lines(table) {
		if strings.HasPrefix(l, k.Prefix+" ") {
			line = l
		}
	}
	want := []string{k.Prefix, "erp", "send,read:messages", "main", k.ExpiresAt.Format(time.RFC3339), "never", "no"}
	if strings.Contains(table, k.Token) || !slices.Equal(strings.Fields(line), want) {
		t.Errorf("token list, want the row %q:\n%s", want, table)
	}
	// setUp's key was issued with the default, every scope.
	if !strings.Contains(table, "send,read:messages,contacts,console,admin") {
		t.Errorf("token list misses the default key's scopes:\n%s", table)
	}

	var rv tokenOut
	e.mustJSON(t, &rv, "token", "revoke", "--id", k.Prefix, "--tenant", tenant)
	if !rv.Revoked || rv.Hash != k.Hash {
		t.Errorf("revoke --id: %+v", rv)
	}
}

// A token stored before keys had ids, scopes or channels keeps working
// with every scope, and is listed by its hash.
func TestTokenFromBeforeScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// apptest seeds the demo tenant's token as an old deployment stored it.
	grant, err := e.Store.Token(ctx, store.HashToken(apptest.Token))
	if err != nil || grant.Scopes != nil || grant.KeyID != "" {
		t.Fatalf("demo token %+v, %v", grant, err)
	}
	for _, s := range domain.AllScopes() {
		if !grant.Has(s) {
			t.Errorf("an old token lacks %s", s)
		}
	}
	table := e.must(t, "token", "list", "--tenant", e.Tenant)
	if !strings.Contains(table, "sha256:"+store.HashToken(apptest.Token)) || !strings.Contains(table, "send,read:messages,contacts,console,admin") {
		t.Errorf("token list:\n%s", table)
	}
	w := apptest.Call(t, e.atomHandler(), http.MethodGet, "/", apptest.Token, "")
	if w.Code != http.StatusOK {
		t.Errorf("old token lists templates: %d %s", w.Code, w.Body.String())
	}
}

// countingStore counts the key reads a catalog makes.
type countingStore struct {
	*store.Store
	reads atomic.Int64
}

func (s *countingStore) Token(ctx context.Context, hash string) (domain.Token, error) {
	s.reads.Add(1)
	return s.Store.Token(ctx, hash)
}

// instance is a catalog as a function instance builds it: an hour's TTL,
// so only the listener can make it notice a change.
func (e *env) instance(t *testing.T) (*catalog.Catalog, *countingStore) {
	t.Helper()
	src := &countingStore{Store: e.Store}
	c := catalog.New(src, time.Hour, catalog.WithKeys(e.Store))
	t.Cleanup(c.Close)
	return c, src
}

// cachedKey authenticates token until the instance's listener is current
// and the key is served from its cache, its use recorded: until then, the
// background write of lastUsedAt may still drop the key from the cache
// (when it fails, as under load it may time out).
func cachedKey(t *testing.T, c *catalog.Catalog, src *countingStore, token string) {
	t.Helper()
	ctx := context.Background()
	wait.Until(t, 10*time.Second, "the key is served from the cache, its use recorded", func() bool {
		if _, err := c.Authenticate(ctx, token); err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		read := src.reads.Load()
		got, err := c.Authenticate(ctx, token)
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		return c.Stats().Listening && src.reads.Load() == read && !got.LastUsedAt.IsZero()
	})
}

// A key revoked with the CLI is refused by a running instance, which had
// it cached for an hour, within two seconds.
func TestRevokedKeyIsRefusedByARunningInstanceWithinTwoSeconds(t *testing.T) {
	e := newEnv(t)
	tenant, _ := e.setUp(t)
	var k tokenOut
	e.mustJSON(t, &k, "token", "create", "--tenant", tenant, "--integration", "erp", "--scopes", "send")
	c, src := e.instance(t)
	cachedKey(t, c, src, k.Token)

	e.must(t, "token", "revoke", "--id", k.ID)
	revoked := time.Now()
	wait.Until(t, 2*time.Second, "the revoked key to be refused", func() bool {
		_, err := c.Authenticate(context.Background(), k.Token)
		if err != nil && domain.KindOf(err) != domain.KindUnauthorized {
			t.Fatal(err)
		}
		return err != nil
	})
	t.Logf("refused %v after the revocation", time.Since(revoked).Round(time.Millisecond))
}

// 20,000 requests with random tokens cost one read each, leave a valid
// key cached and the caches at their bounds.
func TestRandomTokensLeaveAValidKeyInPlace(t *testing.T) {
	e := newEnv(t)
	_, token := e.setUp(t)
	c, src := e.instance(t)
	cachedKey(t, c, src, token)

	const spray, workers = 20000, 16
	// A machine stalled past a second looks like a frozen instance,
	// which drops its keys on purpose; only then may the key be read.
	thaws := c.Stats().Thaws
	read := src.reads.Load()
	var wg sync.WaitGroup
	var wrong atomic.Int64
	next := make(chan struct{})
	for range workers {
		wg.Go(func() {
			for range next {
				key, _ := domain.NewKey()
				if _, err := c.Authenticate(context.Background(), key+rand.Text()[:1]); !errors.As(err, new(*domain.Error)) {
					wrong.Add(1)
				}
			}
		})
	}
	start := time.Now()
	for range spray {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	t.Logf("%d random tokens in %v", spray, time.Since(start).Round(time.Millisecond))
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d random tokens were not refused", n)
	}
	if n := src.reads.Load() - read; n != spray {
		t.Errorf("%d random tokens cost %d reads, want one each", spray, n)
	}
	st := c.Stats()
	if st.Tokens > 1 || st.UnknownTokens > catalog.DefaultSizes.Unknown {
		t.Errorf("cached after the spray: %+v", st)
	}
	read = src.reads.Load()
	if _, err := c.Authenticate(context.Background(), token); err != nil || (src.reads.Load() != read && c.Stats().Thaws == thaws) {
		t.Errorf("the valid key left the cache: %v, %d reads; %+v", err, src.reads.Load()-read, c.Stats())
	}
}

// A key's use is recorded as lastUsedAt, which token list shows.
func TestLastUseIsRecorded(t *testing.T) {
	e := newEnv(t)
	tenant, token := e.setUp(t)
	c, _ := e.instance(t)
	used := time.Now().Add(-time.Second)
	if _, err := c.Authenticate(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, 10*time.Second, "lastUsedAt to be written", func() bool {
		g, err := e.Store.Token(context.Background(), store.HashToken(token))
		if err != nil {
			t.Fatal(err)
		}
		return g.LastUsedAt.After(used)
	})
	var list struct {
		Tokens []tokenOut `json:"tokens"`
	}
	e.mustJSON(t, &list, "token", "list", "--tenant", tenant)
	if len(list.Tokens) != 1 || list.Tokens[0].LastUsedAt == nil || list.Tokens[0].LastUsedAt.Before(used) {
		t.Errorf("token list: %+v", list.Tokens)
	}
}
