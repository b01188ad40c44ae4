package atom_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/request"
)

// FuzzSendBody drives arbitrary bodies through the real handler, parser,
// accept path and renderer (with in-memory configuration and storage):
// nothing a client sends is an internal error, and every answer is Atom's
// envelope with a code from DESIGN §2.
func FuzzSendBody(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b))
	}
	for _, b := range []string{
		body(nil),
		body(map[string]any{"assign": "yes"}),
		body(map[string]any{"params": map[string]any{"1": map[string]any{"a": 1}}}),
		body(map[string]any{"templateId": 5}),
		body(map[string]any{"templateId": "test_template", "params": map[string]any{"name": "A", "custom_code": "1", "email": "a@b.c", "header": "https://x.example/a.pdf", "button_0": "1", "button_1": "2"}}),
		body(map[string]any{"templateId": "promo_image", "params": map[string]any{"1": "A", "header": "not a url", "button_0": "x"}}),
		body(map[string]any{"channelNumber": "+" + demo.DisplayNumber}),
		body(map[string]any{"channelNumber": "nope"}),
		`{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":1e400,"2":-0}}`,
		`{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":"\ud800","2":"x"}}`,
		`{"params":null,"templateId":null,"phoneNumber":null}`,
		`{"templateId":"welcome","templateId":"alerta1","phoneNumber":"50755667788","params":{"1":"a"}}`,
		`"x"`, `{`, `}`, `{}`, `{}}`, `null`, "\xff\xfe{}",
	} {
		f.Add([]byte(b))
	}
	src := memory.NewSource()
	f.Fuzz(func(t *testing.T, b []byte) {
		cat, svc := memory.Accept(t, src)
		h := atom.New(cat, src, svc).Handler()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(b)))
		r.Header.Set("Authorization", "Bearer "+memory.Token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized:
		case http.StatusRequestEntityTooLarge:
			if len(b) <= request.MaxBody {
				t.Fatalf("413 for %d bytes", len(b))
			}
		default:
			t.Fatalf("body %q answered %d %s", b, w.Code, w.Body.String())
		}
		var env struct {
			Success *bool          `json:"success"`
			Message *string        `json:"message"`
			Data    map[string]any `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Success == nil || env.Message == nil {
			t.Fatalf("body %q answered a non-envelope %q (%v)", b, w.Body.String(), err)
		}
		if !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not UTF-8: %q", w.Body.String())
		}
		if *env.Success != (w.Code == http.StatusAccepted) {
			t.Fatalf("success %t with %d", *env.Success, w.Code)
		}
		if w.Code == http.StatusAccepted {
			// Only a body that is one valid JSON object is a send.
			if !json.Valid(b) {
				t.Fatalf("body %q is not valid JSON but answered 202", b)
			}
			if *env.Message != "Pending" || env.Data["message_id"] == "" || env.Data["message_id"] == nil {
				t.Fatalf("202 body %s", w.Body.String())
			}
		} else if *env.Message == "" {
			t.Fatalf("%d without a message", w.Code)
		}
	})
}
