package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// Sweep pages through a tenant's stale single sends by (updatedAt, id):
// messages written in the same instant straddle a page's edge here, and
// each comes exactly once, with its channel, while fresh messages,
// broadcasts' messages and settled ones are never listed.
func TestStaleAcceptedPagesEveryMessageOnce(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	put := func(m domain.Message) {
		t.Helper()
		if _, err := fs.Doc("tenants/t1/messages/"+m.ID).Set(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	var want []store.StaleMessage
	for i := range 7 {
		// Three in the same instant, then one a second.
		at := t0.Add(time.Duration(max(i-2, 0)) * time.Second)
		m := msg("t1", "5511987650300", at)
		m.Channel = []string{"main", "second"}[i%2]
		put(m)
		want = append(want, store.StaleMessage{ID: m.ID, Channel: m.Channel, UpdatedAt: at})
	}
	fresh := msg("t1", "5511987650301", time.Now().UTC())
	put(fresh)
	bulk := msg("t1", "5511987650302", t0)
	bulk.Batch = "b1"
	put(bulk)
	sent := msg("t1", "5511987650303", t0)
	sent.Status = domain.StatusPending
	put(sent)
	slices.SortFunc(want, func(a, b store.StaleMessage) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})

	before := time.Now().UTC().Add(-time.Minute)
	var got []store.StaleMessage
	var after store.StaleMessage
	for pages := 0; ; pages++ {
		page, err := s.StaleAccepted(ctx, "t1", before, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		after = page[len(page)-1]
	}
	if len(got) != len(want) {
		t.Fatalf("got %d stale messages, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Channel != w.Channel || !g.UpdatedAt.Equal(w.UpdatedAt) {
			t.Errorf("message %d = %+v, want %+v", i, g, w)
		}
	}
}
