package cloudchat_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/request"
)

// FuzzCloudchatBody drives arbitrary bodies through the real handler,
// parser, accept path and answer (with in-memory configuration and
// storage): nothing a client sends is an internal error, an error names
// its problem, and a 200 is the conversation object.
func FuzzCloudchatBody(f *testing.F) {
	for _, b := range []string{
		seedBody(demo.ChannelID, "+"+phone),
		seedBody(demo.DisplayNumber, phone),
		body(nil),
		body(map[string]any{"inbox_id": 5511999990000}),
		body(map[string]any{"inbox_id": "nope", "phone_number": "12"}),
		body(map[string]any{"name": map[string]any{"a": 1}, "email": nil}),
		body(map[string]any{"header_attachment": "not a url", "button_param_0": 1e300}),
		body(map[string]any{"template_name": "welcome", "first": "A", "second": "B"}),
		body(map[string]any{"template_name": "welcome", "1": "A"}),
		body(map[string]any{"template_name": "promo_image", "1": "A", "header_attachment": "https://x.example/a.jpg", "button_param_0": "x"}),
		body(map[string]any{"template_name": "order_update", "first.name": "A", "order.id": 1}),
		`{"inbox_id":"main","phone_number":"+5511987654321","template_name":"welcome","1":1e400,"2":-0}`,
		`{"inbox_id":"main","inbox_id":1,"phone_number":"+5511987654321","template_name":"welcome","a":"\ud800","b":"x"}`,
		`{"inbox_id":null,"phone_number":null,"template_name":null}`,
		`{"inbox_id":"main","phone_number":"+5511987654321","template_name":"test_template","":"x","button_param_":"y","button_param_999":"z"}`,
		`"x"`, `{`, `}`, `{}`, `{}}`, `null`, "\xff\xfe{}", `{"a":1,}`,
	} {
		f.Add([]byte(b))
	}
	src := memory.NewSource()
	f.Fuzz(func(t *testing.T, b []byte) {
		cat, svc := memory.Accept(t, src)
		h := cloudchat.New(cat, svc).Handler()
		r := httptest.NewRequest(http.MethodPost, sendPath(demo.TenantID), strings.NewReader(string(b)))
		r.Header.Set("api_access_token", memory.Token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not UTF-8: %q", w.Body.String())
		}
		switch w.Code {
		case http.StatusOK:
			if !json.Valid(b) {
				t.Fatalf("body %q is not valid JSON but answered 200", b)
			}
			var c struct {
				ID       string `json:"id"`
				Status   string `json:"status"`
				Messages []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || c.Status != "open" || len(c.Messages) != 1 ||
				c.Messages[0].ID == "" || c.ID != c.Messages[0].ID || c.Messages[0].Status != "pending" {
				t.Fatalf("200 body %s (%v)", w.Body.String(), err)
			}
			return
		case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
		case http.StatusRequestEntityTooLarge:
			if len(b) <= request.MaxBody {
				t.Fatalf("413 for %d bytes", len(b))
			}
		default:
			t.Fatalf("body %q answered %d %s", b, w.Code, w.Body.String())
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%d without an error message: %s (%v)", w.Code, w.Body.String(), err)
		}
	})
}
