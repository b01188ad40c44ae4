package cloudchat_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/demo"
)

// A send over the tenant's request limit is a 429 {"error"} with
// Retry-After in whole seconds rounded up, and stores nothing.
func TestOverTheRequestLimitIs429WithRetryAfter(t *testing.T) {
	cat := catalog.New(memory.NewSource(), 0)
	st := memory.NewStore(t)
	h := cloudchat.New(cat, accept.New(cat, st, memory.Publisher{}, accept.Options{Wait: -1, Limiter: memory.RefuseAll{RetryAfter: 2300 * time.Millisecond}, RateLimit: 1})).Handler()
	w := post(t, h, demo.TenantID, memory.Token, body(nil))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429; body %s", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want 3 (2.3 s rounded up)", got)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || !strings.HasPrefix(e.Error, "too many requests") {
		t.Errorf("body %s (%v): want {\"error\":\"too many requests…\"}", w.Body.String(), err)
	}
	if len(st.Messages) != 0 {
		t.Errorf("a refused send stored %d messages", len(st.Messages))
	}
}
