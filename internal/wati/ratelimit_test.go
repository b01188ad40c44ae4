package wati_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/wati"
)

// A template or session send over the tenant's request limit is a 429 in
// the route's shape with Retry-After in whole seconds rounded up, and
// stores nothing. (The bulk route's limit is batch.Create's, the same
// Limit; emkt's test shows it.)
func TestOverTheRequestLimitIs429WithRetryAfter(t *testing.T) {
	cat := catalog.New(memory.NewSource(), 0)
	st := memory.NewStore(t)
	sender := accept.New(cat, st, memory.Publisher{}, accept.Options{Wait: -1, Limiter: memory.RefuseAll{RetryAfter: 2300 * time.Millisecond}, RateLimit: 1})
	h := wati.New(cat, memoryContacts{st}, sender, &fakeBatches{}, wati.Options{}).Handler()
	const number = "5511987654321"
	for _, tc := range []struct {
		name, path, body string
		session          bool
	}{
		{"sendTemplateMessage", path("sendTemplateMessage?whatsappNumber=" + number),
			js(map[string]any{"template_name": "welcome", "broadcast_name": "b", "parameters": pairList(2, "x")}), false},
		{"sendSessionMessage", path("sendSessionMessage/" + number), js(map[string]string{"messageText": "oi"}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(t, h, http.MethodPost, tc.path, memory.Token, tc.body)
			m := wantFail(t, w, http.StatusTooManyRequests, "too many requests")
			if got := w.Header().Get("Retry-After"); got != "3" {
				t.Errorf("Retry-After = %q, want 3 (2.3 s rounded up)", got)
			}
			if _, ok := m["ok"]; ok != tc.session {
				t.Errorf("answer %s: \"ok\" present = %t, want %t (the route's shape)", w.Body.String(), ok, tc.session)
			}
		})
	}
	if len(st.Messages) != 0 {
		t.Errorf("refused sends stored %d messages", len(st.Messages))
	}
}
