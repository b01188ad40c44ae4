package atom_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/catalog"
)

// memoryHandler is the templates function over the demo tenant in memory,
// with the store it writes to.
func memoryHandler(t testing.TB) (http.Handler, *memory.Store) {
	src := memory.NewSource()
	cat := catalog.New(src, 0)
	st := memory.NewStore(t)
	svc := accept.New(cat, st, memory.Publisher{}, accept.Options{Wait: -1})
	return atom.New(cat, src, svc).Handler(), st
}

// repeat is n copies of s: "é" makes n characters of 2n bytes, so a
// bound counted in bytes would show.
func repeat(s string, n int) string { return strings.Repeat(s, n) }

// manyParams is a params object of n body values.
func manyParams(n int) map[string]any {
	p := map[string]any{}
	for i := range n {
		p[strconv.Itoa(i+1)] = "x"
	}
	return p
}

// TestSendRefusesFieldsOverTheirBounds sends every field of POST / one
// past its bound: each is a 400 naming the field and the bound, and
// nothing is stored.
func TestSendRefusesFieldsOverTheirBounds(t *testing.T) {
	h, st := memoryHandler(t)
	bigKey := repeat("k", 101)
	tests := []struct {
		name   string
		body   string
		header []string
		field  string
		says   string
	}{
		{"a 600,000-character firstName", body(map[string]any{"firstName": repeat("a", 600_000)}), nil,
			"firstName", "firstName: at most 256 characters, got 600000"},
		{"templateId", body(map[string]any{"templateId": repeat("é", 513)}), nil, "templateId", "templateId: at most 512 characters"},
		{"lastName", body(map[string]any{"lastName": repeat("é", 257)}), nil, "lastName", "lastName: at most 256 characters"},
		{"clientName", body(map[string]any{"clientName": repeat("é", 257)}), nil, "clientName", "clientName: at most 256 characters"},
		{"groupName", body(map[string]any{"groupName": repeat("é", 257)}), nil, "groupName", "groupName: at most 256 characters"},
		{"channelNumber", body(map[string]any{"channelNumber": repeat("5", 129)}), nil, "channelNumber", "channelNumber: at most 128 characters"},
		{"a huge phoneNumber", body(map[string]any{"phoneNumber": repeat("5", 600_000)}), nil, "phoneNumber", "phoneNumber: must be digits only"},
		{"a body value", body(map[string]any{"params": map[string]any{"1": repeat("é", 1025), "2": "x"}}), nil,
			"params.1", "params.1: at most 1024 characters, got 1025"},
		{"a header value", body(map[string]any{"templateId": "promo_image", "params": map[string]any{"1": "A", "header": "https://x.example/" + repeat("a", 1983), "button_0": "x"}}), nil,
			"params.header", "params.header: at most 2000 characters, got 2001"},
		{"a button value", body(map[string]any{"templateId": "promo_image", "params": map[string]any{"1": "A", "header": "https://x.example/a.jpg", "button_0": repeat("é", 2001)}}), nil,
			"params.button_0", "params.button_0: at most 2000 characters"},
		{"a param's name", body(map[string]any{"params": map[string]any{"1": "A", "2": "B", bigKey: "x"}}), nil,
			"params." + bigKey[:64] + "…", "a name of at most 100 characters, got 101"},
		{"too many params", body(map[string]any{"params": manyParams(129)}), nil, "params", "params: at most 128 entries, got 129"},
		{"Idempotency-Key", body(nil), []string{"Idempotency-Key", repeat("k", 256)}, "Idempotency-Key", "Idempotency-Key: at most 255 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := send(t, h, memory.Token, tt.body, tt.header...)
			a := wantError(t, w, http.StatusBadRequest, "invalid fields: ", tt.field)
			if !strings.Contains(a.Message, tt.says) {
				t.Errorf("message %q does not say %q", a.Message, tt.says)
			}
			if len(w.Body.String()) > 2000 {
				t.Errorf("the answer echoes the value: %d bytes", w.Body.Len())
			}
		})
	}
	if n := len(st.Messages); n != 0 {
		t.Errorf("%d messages stored from refused sends", n)
	}
}

// TestSendTakesFieldsAtTheirBounds sends every field at its bound, in
// two-byte characters where it is text: each is taken, and what is
// stored fits Firestore's documents.
func TestSendTakesFieldsAtTheirBounds(t *testing.T) {
	h, st := memoryHandler(t)
	names := map[string]any{"firstName": repeat("é", 256), "lastName": repeat("é", 256), "clientName": repeat("é", 256),
		"groupName": repeat("é", 256), "params": map[string]any{"1": repeat("é", 1024), "2": repeat("😀", 1024)}}
	wantPending(t, send(t, h, memory.Token, body(names), "Idempotency-Key", repeat("k", 255)), http.StatusAccepted)
	promo := map[string]any{"templateId": "promo_image", "params": map[string]any{
		"1": repeat("é", 1024), "header": "https://x.example/" + repeat("é", 1982), "button_0": repeat("é", 2000), "button_1": repeat("é", 2000),
	}}
	wantPending(t, send(t, h, memory.Token, body(promo)), http.StatusAccepted)
	many := manyParams(128)
	many["1"], many["2"] = "A", "B"
	wantPending(t, send(t, h, memory.Token, body(map[string]any{"params": many})), http.StatusAccepted)
	if n := len(st.Messages); n != 3 {
		t.Errorf("%d messages stored, want 3", n)
	}
	if o := st.Oversized(); len(o) > 0 {
		t.Errorf("documents over Firestore's bound: %v", o)
	}
}

// TestOddValuesAreNeverAnInternalError sends what no client should to
// every route: NUL bytes, invalid UTF-8, deep JSON, huge arrays and
// objects. Each is answered in Atom's envelope with a 2xx or a 4xx.
func TestOddValuesAreNeverAnInternalError(t *testing.T) {
	h, st := memoryHandler(t)
	deep := repeat("[", 20_000) + repeat("]", 20_000)
	hugeArray := "[" + strings.TrimSuffix(repeat(`"x",`, 200_000), ",") + "]"
	bodies := []string{
		body(map[string]any{"firstName": "a\x00b", "lastName": "\x00", "params": map[string]any{"1": "\x00", "2": "\u2028"}}),
		`{"templateId":"welcome","phoneNumber":"50755667788","firstName":"` + "\xff\xfe" + `","params":{"1":"a","2":"` + "\xc3\x28" + `"}}`,
		`{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":` + deep + `,"2":"x"}}`,
		`{"templateId":"welcome","phoneNumber":"50755667788","params":` + deep + `}`,
		`{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":` + hugeArray + `,"2":"x"}}`,
		`{"templateId":` + hugeArray + `}`,
		`{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":"` + repeat(`\u0000`, 100_000) + `","2":"x"}}`,
		`{"templateId":"\u0000/..","phoneNumber":"50755667788"}`,
		deep,
	}
	for i, b := range bodies {
		w := send(t, h, memory.Token, b, "Idempotency-Key", "k\x01"+strconv.Itoa(i))
		if w.Code >= 500 || w.Code < 200 {
			t.Errorf("body %d answered %d %.300s", i, w.Code, w.Body.String())
			continue
		}
		decode(t, w)
	}
	for _, path := range []string{
		"/?pageToken=" + repeat("A", 513), "/?pageToken=%00%ff", "/?limit=" + repeat("9", 10_000),
		"/" + repeat("t", 600_000), "/%00", "/..%2f..",
	} {
		w := call(t, h, http.MethodGet, path, memory.Token, "")
		if w.Code >= 500 {
			t.Errorf("GET %.60s answered %d %.300s", path, w.Code, w.Body.String())
			continue
		}
		decode(t, w)
	}
	w := call(t, h, http.MethodGet, "/?pageToken="+repeat("A", 513), memory.Token, "")
	if a := wantError(t, w, http.StatusBadRequest, "invalid fields: ", "pageToken"); !strings.Contains(a.Message, "at most 512 characters") {
		t.Errorf("message %q does not name the bound", a.Message)
	}
	if o := st.Oversized(); len(o) > 0 {
		t.Errorf("documents over Firestore's bound: %v", o)
	}
}
