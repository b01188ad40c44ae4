package emkt_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/emkt"
	"github.com/templategw/templategw/internal/store"
)

// A 50.01 over the tenant's request limit is a 429 <erro> with
// Retry-After in whole seconds rounded up, and no batch is made.
func TestOverTheRequestLimitIs429WithRetryAfter(t *testing.T) {
	st := &memStore{batches: map[string]store.BatchRecord{}}
	svc := batch.New(accept.New(memCatalog{}, memory.NewStore(t), memory.Publisher{}, accept.Options{Limiter: memory.RefuseAll{RetryAfter: 2300 * time.Millisecond}, RateLimit: 1}),
		st, nopFanout{}, batch.Options{MaxRecipients: 50})
	h := emkt.New(memCatalog{}, svc).Handler()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(seedSend))
	r.Header.Set("Authorization", "Bearer "+fuzzToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429; body %s", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want 3 (2.3 s rounded up)", got)
	}
	var a answer
	if err := xml.Unmarshal(w.Body.Bytes(), &a); err != nil || !strings.Contains(a.Emkt.Erro, "too many requests") || a.Emkt.Trans != "50.01" {
		t.Errorf("answer %q (%v): want emkt XML whose <erro> says too many requests", w.Body.String(), err)
	}
	if len(st.batches) != 0 {
		t.Errorf("a refused 50.01 made %d batches", len(st.batches))
	}
}
