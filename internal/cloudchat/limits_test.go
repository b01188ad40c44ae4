package cloudchat_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/demo"
)

// memoryHandler is the cloudchat function over the demo tenant in memory,
// with the store it writes to.
func memoryHandler(t testing.TB) (http.Handler, *memory.Store) {
	cat := catalog.New(memory.NewSource(), 0)
	st := memory.NewStore(t)
	return cloudchat.New(cat, accept.New(cat, st, memory.Publisher{}, accept.Options{Wait: -1})).Handler(), st
}

// repeat is n copies of s: "é" makes n characters of 2n bytes, so a
// bound counted in bytes would show.
func repeat(s string, n int) string { return strings.Repeat(s, n) }

const memoryAttachment = "https://cdn.example.com/"

// TestSendRefusesKeysOverTheirBounds sends every key of the body one past
// its bound: each is refused naming the key and the bound (422, as every
// invalid field here), and nothing is stored.
func TestSendRefusesKeysOverTheirBounds(t *testing.T) {
	h, st := memoryHandler(t)
	many := map[string]any{}
	for i := range 129 {
		many["v"+strconv.Itoa(i)] = "x"
	}
	bigKey := repeat("k", 101)
	tests := []struct {
		name   string
		body   string
		header []string
		says   string
	}{
		{"inbox_id", body(map[string]any{"inbox_id": repeat("é", 129)}), nil, "inbox_id: at most 128 characters, got 129"},
		{"phone_number", body(map[string]any{"phone_number": "+" + repeat("5", 600_000)}), nil, "phone_number: must be an international number"},
		{"template_name", body(map[string]any{"template_name": repeat("é", 513)}), nil, "template_name: at most 512 characters, got 513"},
		{"header_attachment", body(map[string]any{"header_attachment": memoryAttachment + repeat("a", 1977)}), nil, "header_attachment: at most 2000 characters, got 2001"},
		{"button_param_0", body(map[string]any{"button_param_0": repeat("é", 2001)}), nil, "button_param_0: at most 2000 characters"},
		{"a variable", body(map[string]any{"email": repeat("é", 1025)}), nil, "email: at most 1024 characters, got 1025"},
		{"the contact's name", body(map[string]any{"name": repeat("é", 257)}), nil, "name: at most 256 characters, got 257: it is the contact's name"},
		{"a 600,000-character name", body(map[string]any{"name": repeat("a", 600_000)}), nil, "name: at most 1024 characters, got 600000"},
		{"a variable's name", body(map[string]any{bigKey: "x"}), nil, bigKey[:64] + "…: a name of at most 100 characters, got 101"},
		{"too many variables", body(many), nil, "template variables: at most 128 entries, got 134"},
		{"Idempotency-Key", body(nil), []string{"Idempotency-Key", repeat("k", 256)}, "Idempotency-Key: at most 255 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := post(t, h, demo.TenantID, memory.Token, tt.body, tt.header...)
			msg := wantError(t, w, http.StatusUnprocessableEntity, tt.says)
			if len(msg) > 2000 {
				t.Errorf("the answer echoes the value: %d bytes", len(msg))
			}
		})
	}
	if n := len(st.Messages); n != 0 {
		t.Errorf("%d messages stored from refused sends", n)
	}
}

// TestSendTakesKeysAtTheirBounds sends every key at its bound, in
// two-byte characters: the send is taken, and what is stored fits
// Firestore's documents.
func TestSendTakesKeysAtTheirBounds(t *testing.T) {
	h, st := memoryHandler(t)
	b := body(map[string]any{
		"inbox_id": demo.ChannelID, "header_attachment": memoryAttachment + repeat("é", 1976),
		"button_param_0": repeat("é", 2000), "button_param_1": repeat("😀", 2000),
		"name": repeat("é", 256), "email": repeat("é", 1024), "custom_code": repeat("😀", 1024),
		repeat("n", 100): repeat("é", 1024),
	})
	w := post(t, h, demo.TenantID, memory.Token, b, "Idempotency-Key", repeat("k", 255))
	if w.Code != http.StatusOK {
		t.Fatalf("a send at every bound answered %d %.500s", w.Code, w.Body.String())
	}
	if n := len(st.Messages); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}
	if o := st.Oversized(); len(o) > 0 {
		t.Errorf("documents over Firestore's bound: %v", o)
	}
}

// TestOddBodiesAreNeverAnInternalError sends what no client should: NUL
// bytes, invalid UTF-8, deep JSON, huge arrays and objects. Each is
// answered with a 2xx or a 4xx in Chatwoot's shapes.
func TestOddBodiesAreNeverAnInternalError(t *testing.T) {
	h, st := memoryHandler(t)
	deep := repeat("[", 20_000) + repeat("]", 20_000)
	hugeArray := "[" + strings.TrimSuffix(repeat(`"x",`, 200_000), ",") + "]"
	manyKeys := "{" + strings.TrimSuffix(repeat(`"a":1,`, 100_000), ",") + "}"
	bodies := []string{
		body(map[string]any{"name": "a\x00b", "email": "\x00", "custom_code": "\u2028"}),
		`{"inbox_id":"main","phone_number":"+5511987654321","template_name":"test_template","name":"` + "\xff\xfe" + `","email":"` + "\xc3\x28" + `"}`,
		`{"inbox_id":"main","phone_number":"+5511987654321","template_name":"test_template","name":` + deep + `}`,
		`{"inbox_id":` + hugeArray + `}`,
		`{"inbox_id":"main","phone_number":"+5511987654321","template_name":"test_template","name":"` + repeat(`\u0000`, 100_000) + `"}`,
		manyKeys,
		`{"` + repeat("k", 500_000) + `":1}`,
		`{"inbox_id":"\u0000","phone_number":"+5511987654321","template_name":"\u0000/.."}`,
		deep,
	}
	for i, b := range bodies {
		w := post(t, h, demo.TenantID, memory.Token, b)
		if w.Code >= 500 || w.Code < 200 {
			t.Errorf("body %d answered %d %.300s", i, w.Code, w.Body.String())
		}
		if w.Body.Len() > 4000 {
			t.Errorf("body %d: a %d-byte answer echoes the request", i, w.Body.Len())
		}
	}
	if o := st.Oversized(); len(o) > 0 {
		t.Errorf("documents over Firestore's bound: %v", o)
	}
}
