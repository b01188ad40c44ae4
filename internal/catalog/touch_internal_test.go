package catalog

import (
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// A last-used write's answer settles the cache by the versions: the
// write's own new version when the cache still holds what it read, the
// cache's when a read since has already brought a newer grant (its own
// write included), and nothing cached when the key changed before the
// write.
func TestSettleTouch(t *testing.T) {
	v0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	now := v0.Add(time.Minute)
	read := domain.Token{Tenant: "acme", Version: v0}
	for _, c := range []struct {
		name    string
		cached  *domain.Token
		answer  time.Time // the write's new version; zero: the key had changed
		want    time.Time // the cached version after; zero: not cached
		wantUse time.Time
	}{
		{"cached as read: takes the write's version", &read, v0.Add(time.Second), v0.Add(time.Second), now},
		{"read again since, with the write", &domain.Token{Tenant: "acme", Version: v0.Add(time.Second), LastUsedAt: now}, v0.Add(time.Second), v0.Add(time.Second), now},
		{"read again since, changed again", &domain.Token{Tenant: "acme", Version: v0.Add(time.Hour)}, v0.Add(time.Second), v0.Add(time.Hour), time.Time{}},
		{"read again since, the write refused", &domain.Token{Tenant: "acme", Version: v0.Add(time.Hour), Revoked: true}, time.Time{}, v0.Add(time.Hour), time.Time{}},
		{"cached as read, the write refused", &read, time.Time{}, time.Time{}, time.Time{}},
		{"not cached", nil, v0.Add(time.Second), time.Time{}, time.Time{}},
	} {
		cat := New(nil, time.Hour)
		k := cat.keys
		if c.cached != nil {
			k.cache.keep("h", *c.cached, nil)
		}
		gen := k.gen
		k.settleTouch("h", read, now, c.answer)
		got, ok, _ := k.cache.lookup("h")
		switch {
		case c.want.IsZero() && ok:
			t.Errorf("%s: still cached at %s", c.name, got.Version)
		case !c.want.IsZero() && (!ok || !got.Version.Equal(c.want) || !got.LastUsedAt.Equal(c.wantUse)):
			t.Errorf("%s: cached %v at %s, last used %s; want %s, %s", c.name, ok, got.Version, got.LastUsedAt, c.want, c.wantUse)
		}
		if k.gen == gen {
			t.Errorf("%s: reads in flight may still be kept", c.name)
		}
	}
}
