package atom_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/catalog"
)

// A send over the tenant's request limit is Atom's 429 in its envelope,
// with Retry-After in whole seconds rounded up, and stores nothing.
func TestOverTheRequestLimitIs429WithRetryAfter(t *testing.T) {
	src := memory.NewSource()
	cat := catalog.New(src, 0)
	st := memory.NewStore(t)
	h := atom.New(cat, src, accept.New(cat, st, memory.Publisher{}, accept.Options{Wait: -1, Limiter: memory.RefuseAll{RetryAfter: 2300 * time.Millisecond}, RateLimit: 1})).Handler()
	w := send(t, h, memory.Token, body(nil), "Idempotency-Key", "k1")
	wantError(t, w, http.StatusTooManyRequests, "too many requests")
	if got := w.Header().Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want 3 (2.3 s rounded up)", got)
	}
	if len(st.Messages) != 0 {
		t.Errorf("a refused send stored %d messages", len(st.Messages))
	}
}
