package wati_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/wati"
)

// memoryContacts adds to the accept path's in-memory store what the Wati
// dialect reads and edits: contacts and chats.
type memoryContacts struct{ *memory.Store }

func (m memoryContacts) EditContact(ctx context.Context, tenant, phone string, now time.Time, edit func(c *domain.Contact, exists bool) error) (domain.Contact, bool, error) {
	c, err := m.Contact(ctx, tenant, phone)
	exists := err == nil
	if !exists {
		c = domain.Contact{Phone: phone, CreatedAt: now}
	}
	if err := edit(&c, exists); err != nil {
		return domain.Contact{}, false, err
	}
	c.UpdatedAt = now
	m.PutContact(tenant, c)
	return c, !exists, nil
}

func (m memoryContacts) list(tenant string) []domain.Contact {
	var out []domain.Contact
	for k, c := range m.Contacts {
		if strings.HasPrefix(k, tenant+"/") {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Phone < out[j].Phone })
	return out
}

func (m memoryContacts) ContactsPage(_ context.Context, tenant string, offset, limit int) ([]domain.Contact, error) {
	all := m.list(tenant)
	return all[min(offset, len(all)):min(offset+limit, len(all))], nil
}

func (m memoryContacts) CountContacts(_ context.Context, tenant string) (int, error) {
	return len(m.list(tenant)), nil
}

func (m memoryContacts) EachContact(_ context.Context, tenant string, yield func(domain.Contact) (bool, error)) error {
	for _, c := range m.list(tenant) {
		if more, err := yield(c); !more || err != nil {
			return err
		}
	}
	return nil
}

func (memoryContacts) Chat(context.Context, string, string, string, int) ([]store.ChatItem, int, error) {
	return nil, 0, nil
}

// memoryServer is the wati function over the demo tenant in memory, with
// the store it writes to and the batches it makes.
func memoryServer(t testing.TB) (http.Handler, *memory.Store, *fakeBatches) {
	cat := catalog.New(memory.NewSource(), 0)
	st := memory.NewStore(t)
	b := &fakeBatches{}
	sender := accept.New(cat, st, memory.Publisher{}, accept.Options{Wait: -1})
	return wati.New(cat, memoryContacts{st}, sender, b, wati.Options{}).Handler(), st, b
}

// repeat is n copies of s: "é" makes n characters of 2n bytes, so a
// bound counted in bytes would show.
func repeat(s string, n int) string { return strings.Repeat(s, n) }

// js is v as JSON, HTML characters as they are.
func js(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.String()
}

// pairList is n {name, value} pairs named 1..n, each valued value.
func pairList(n int, value string) []map[string]string {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{"name": strconv.Itoa(i + 1), "value": value}
	}
	return out
}

// TestFieldsOverTheirBounds sends every field of every route one past its
// bound: each is a 400 in the route's shape naming the field and the
// bound, and nothing is stored.
func TestFieldsOverTheirBounds(t *testing.T) {
	h, st, batches := memoryServer(t)
	const number = "5511987654321"
	send := path("sendTemplateMessage?whatsappNumber=" + number)
	tpl := func(extra map[string]any) string {
		b := map[string]any{"template_name": "welcome", "broadcast_name": "b", "parameters": pairList(2, "x")}
		for k, v := range extra {
			b[k] = v
		}
		return js(b)
	}
	tests := []struct {
		name, method, path, body string
		header                   []string
		says                     string
	}{
		{"template_name", http.MethodPost, send, tpl(map[string]any{"template_name": repeat("é", 513)}), nil, "template_name: at most 512 characters, got 513"},
		{"broadcast_name", http.MethodPost, send, tpl(map[string]any{"broadcast_name": repeat("é", 257)}), nil, "broadcast_name: at most 256 characters, got 257"},
		{"a parameter's value", http.MethodPost, send, tpl(map[string]any{"parameters": pairList(2, repeat("é", 1025))}), nil, "parameters[0].value: at most 1024 characters, got 1025"},
		{"a header's value", http.MethodPost, send, tpl(map[string]any{"template_name": "promo_image", "parameters": []map[string]string{
			{"name": "1", "value": "A"}, {"name": "header", "value": "https://x.example/" + repeat("a", 1983)}}}), nil,
			"parameters[1].value: at most 2000 characters, got 2001"},
		{"a parameter's name", http.MethodPost, send, tpl(map[string]any{"parameters": []map[string]string{{"name": repeat("n", 101), "value": "x"}}}), nil,
			"parameters[0].name: at most 100 characters, got 101"},
		{"too many parameters", http.MethodPost, send, tpl(map[string]any{"parameters": pairList(129, "x")}), nil, "parameters: at most 128 entries, got 129"},
		{"channelNumber", http.MethodPost, send, tpl(map[string]any{"channelNumber": repeat("5", 129)}), nil, "channelNumber: at most 128 characters"},
		{"a huge whatsappNumber", http.MethodPost, path("sendTemplateMessage?whatsappNumber=" + repeat("5", 100_000)), tpl(nil), nil, "whatsappNumber: must be the WhatsApp number"},
		{"Idempotency-Key", http.MethodPost, send, tpl(nil), []string{"Idempotency-Key", repeat("k", 256)}, "Idempotency-Key: at most 255 characters"},
		{"messageText", http.MethodPost, path("sendSessionMessage/" + number), js(map[string]string{"messageText": repeat("é", 4097)}), nil, "messageText: at most 4096 characters"},
		{"messageText in the query", http.MethodPost, path("sendSessionMessage/" + number + "?messageText=" + repeat("a", 4097)), "", nil, "messageText: at most 4096 characters"},
		{"channelPhoneNumber of a session message", http.MethodPost, path("sendSessionMessage/" + number + "?channelPhoneNumber=" + repeat("5", 129)),
			js(map[string]string{"messageText": "oi"}), nil, "channelPhoneNumber: at most 128 characters"},
		{"Idempotency-Key of a session message", http.MethodPost, path("sendSessionMessage/" + number), js(map[string]string{"messageText": "oi"}),
			[]string{"Idempotency-Key", repeat("k", 256)}, "Idempotency-Key: at most 255 characters"},
		{"a contact's name", http.MethodPost, path("addContact/" + number), js(map[string]string{"name": repeat("é", 257)}), nil, "name: at most 256 characters, got 257"},
		{"a 600,000-character contact name", http.MethodPost, path("addContact/" + number), js(map[string]string{"name": repeat("a", 600_000)}), nil, "name: at most 256 characters, got 600000"},
		{"too many attributes", http.MethodPost, path("addContact/" + number), js(map[string]any{"customParams": pairList(101, "x")}), nil, "customParams: at most 100 entries, got 101"},
		{"an attribute's value", http.MethodPost, path("updateContactAttributes/" + number), js(map[string]any{"customParams": pairList(1, repeat("é", 2001))}), nil,
			"customParams[0].value: at most 2000 characters, got 2001"},
		{"an attribute's name", http.MethodPost, path("updateContactAttributes/" + number), js(map[string]any{"customParams": []map[string]string{{"name": repeat("n", 101), "value": "x"}}}), nil,
			"customParams[0].name: at most 100 characters, got 101"},
		{"an attribute with a NUL", http.MethodPost, path("updateContactAttributes/" + number), js(map[string]any{"customParams": pairList(1, "a\x00b")}), nil,
			"customParams[0].value: must not contain control characters"},
		{"channelPhoneNumber of a chat status", http.MethodPost, path("updateChatStatus"), js(map[string]string{"whatsappNumber": number, "chatStatus": "open", "channelPhoneNumber": repeat("5", 129)}), nil,
			"channelPhoneNumber: at most 128 characters"},
		{"channelPhoneNumber of getMessages", http.MethodGet, path("getMessages/" + number + "?channelPhoneNumber=" + repeat("5", 129)), "", nil, "channelPhoneNumber: at most 128 characters"},
		{"a name filter", http.MethodGet, path("getContacts?name=" + repeat("a", 4097)), "", nil, "name: at most 4096 characters, got 4097"},
		{"an attribute filter", http.MethodGet, path("getContacts?attribute=" + url.QueryEscape(`[{"name":"city","value":"`+repeat("a", 4097)+`"}]`)), "", nil, "attribute: at most 4096 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, h, tt.method, tt.path, memory.Token, tt.body, tt.header...)
			wantFail(t, w, http.StatusBadRequest, tt.says)
			if w.Body.Len() > 2000 {
				t.Errorf("the answer echoes the value: %d bytes", w.Body.Len())
			}
		})
	}
	if n, c := len(st.Messages), len(st.Contacts); n != 0 || c != 0 {
		t.Errorf("%d messages and %d contacts stored from refused requests", n, c)
	}
	if n := batches.created(); n != 0 {
		t.Errorf("%d broadcasts made from refused requests", n)
	}
}

// TestReceiversOverTheirBounds sends a broadcast whose receivers' values
// are past their bounds among good ones: each is refused alone, named in
// invalidCustomParameters with the bound, and the others go out.
func TestReceiversOverTheirBounds(t *testing.T) {
	h, _, batches := memoryServer(t)
	b := js(map[string]any{"template_name": "welcome", "receivers": []map[string]any{
		{"whatsappNumber": "5511987654321", "customParams": pairList(2, repeat("é", 1024))},
		{"whatsappNumber": "5511987654322", "customParams": pairList(2, repeat("é", 1025))},
		{"whatsappNumber": "5511987654323", "customParams": pairList(129, "x")},
		{"whatsappNumber": "5511987654324", "customParams": []map[string]string{{"name": repeat("n", 101), "value": "x"}}},
		{"whatsappNumber": repeat("5", 100_000), "customParams": pairList(2, "x")},
	}})
	w := serve(t, h, http.MethodPost, path("sendTemplateMessages"), memory.Token, b)
	if w.Code != http.StatusOK {
		t.Fatalf("broadcast answered %d %.500s", w.Code, w.Body.String())
	}
	var a struct {
		Errors struct {
			InvalidNumbers []string `json:"invalidWhatsappNumbers"`
			InvalidParams  []string `json:"invalidCustomParameters"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"5511987654322: invalid fields: customParams[0].value: at most 1024 characters, got 1025",
		"5511987654323: invalid fields: customParams: at most 128 entries, got 129",
		"5511987654324: invalid fields: customParams[0].name: at most 100 characters, got 101",
	}
	if got := a.Errors.InvalidParams; len(got) != len(want) {
		t.Fatalf("invalidCustomParameters %q, want %q", got, want)
	}
	for i, p := range a.Errors.InvalidParams {
		if !strings.HasPrefix(p, want[i]) {
			t.Errorf("invalidCustomParameters[%d] = %q, want %q", i, p, want[i])
		}
	}
	if n := a.Errors.InvalidNumbers; len(n) != 1 || len(n[0]) > 100 {
		t.Errorf("invalidWhatsappNumbers %q, want the long number cut short", n)
	}
	if len(batches.recs) != 1 || len(batches.recs[0]) != 1 {
		t.Errorf("recipients %v, want the one good receiver", batches.recs)
	}
}

// TestTooManyReceivers sends one receiver more than a batch takes: the
// broadcast is refused naming receivers and the bound, before any
// receiver is read.
func TestTooManyReceivers(t *testing.T) {
	h, _, batches := memoryServer(t)
	b := `{"template_name":"welcome","receivers":[` + strings.TrimSuffix(repeat("{},", batch.DefaultMaxRecipients+1), ",") + `]}`
	w := serve(t, h, http.MethodPost, path("sendTemplateMessages"), memory.Token, b)
	wantFail(t, w, http.StatusBadRequest, "receivers: at most 100000 entries, got 100001")
	if n := batches.created(); n != 0 {
		t.Errorf("%d broadcasts made", n)
	}
}

// TestTheLargestContactFitsItsDocuments stores a contact with every field
// at its bound in four-byte characters, then sends it a template under an
// Idempotency-Key: the answer that is stored shows the whole contact,
// and every document still fits Firestore's.
func TestTheLargestContactFitsItsDocuments(t *testing.T) {
	h, st, _ := memoryServer(t)
	const number = "5511987654321"
	params := make([]map[string]string, domain.MaxParams)
	for i := range params {
		n := strconv.Itoa(i)
		params[i] = map[string]string{"name": n + repeat("😀", domain.MaxParamNameLength-len(n)), "value": repeat("<", domain.MaxParamValue)}
	}
	w := serve(t, h, http.MethodPost, path("addContact/"+number), memory.Token, js(map[string]any{"name": repeat("😀", 256), "customParams": params}))
	if w.Code != http.StatusOK {
		t.Fatalf("addContact at every bound answered %d %.500s", w.Code, w.Body.String())
	}
	w = serve(t, h, http.MethodPost, path("sendTemplateMessage?whatsappNumber="+number), memory.Token,
		js(map[string]any{"template_name": "welcome", "broadcast_name": repeat("😀", 256), "parameters": pairList(2, repeat("😀", 1024))}),
		"Idempotency-Key", repeat("k", 255))
	if w.Code != http.StatusOK {
		t.Fatalf("send at every bound answered %d %.500s", w.Code, w.Body.String())
	}
	if w.Body.Len() < 100*domain.MaxParamValue {
		t.Fatalf("the answer (%d bytes) does not show the contact's attributes", w.Body.Len())
	}
	if o := st.Oversized(); len(o) > 0 {
		t.Errorf("documents over Firestore's bound: %v", o)
	}
}

// TestOddValuesAreNeverAnInternalError sends what no client should to
// every route: NUL bytes, invalid UTF-8, deep JSON, huge arrays. Each is
// answered in Wati's shapes with a 2xx or a 4xx.
func TestOddValuesAreNeverAnInternalError(t *testing.T) {
	h, st, _ := memoryServer(t)
	deep := repeat("[", 20_000) + repeat("]", 20_000)
	hugeArray := "[" + strings.TrimSuffix(repeat(`{"name":"a","value":"b"},`, 30_000), ",") + "]"
	routes := []struct{ method, path string }{
		{http.MethodPost, path("sendTemplateMessage?whatsappNumber=5511987654321")},
		{http.MethodPost, path("sendTemplateMessages")},
		{http.MethodPost, path("sendSessionMessage/5511987654321")},
		{http.MethodPost, path("addContact/5511987654321")},
		{http.MethodPost, path("updateContactAttributes/5511987654321")},
		{http.MethodPost, path("updateChatStatus")},
		{http.MethodGet, path("getMessages/5511987654321?pageSize=%00")},
		{http.MethodGet, path("getContacts?name=%ff%fe&attribute=%00")},
		{http.MethodGet, path("getContacts?attribute=" + url.QueryEscape(deep[:4000]))},
	}
	bodies := []string{
		`{"template_name":"welcome","parameters":[{"name":"1","value":"a\u0000b"},{"name":"2","value":"\u2028"}],"name":"\u0000","customParams":[{"name":"a","value":"\u0000"}],"messageText":"\u0000"}`,
		"{\"template_name\":\"welcome\",\"name\":\"\xff\xfe\",\"messageText\":\"\xc3\x28\",\"customParams\":[{\"name\":\"\xff\",\"value\":\"x\"}]}",
		`{"template_name":"welcome","parameters":` + deep + `}`,
		`{"template_name":"welcome","parameters":` + hugeArray + `,"customParams":` + hugeArray + `}`,
		`{"template_name":"welcome","receivers":[{"whatsappNumber":"5511987654321","customParams":` + hugeArray + `}]}`,
		`{"template_name":"welcome","receivers":` + deep + `}`,
		`{"whatsappNumber":` + deep + `,"chatStatus":"open"}`,
		`{"channelPhoneNumber":"\u0000","channelNumber":{"a":1},"messageText":"oi"}`,
		deep,
	}
	for _, r := range routes {
		for i, b := range bodies {
			w := serve(t, h, r.method, r.path, memory.Token, b, "Idempotency-Key", "k\x01"+strconv.Itoa(i))
			if w.Code >= 500 || w.Code < 200 {
				t.Errorf("%s %.60s body %d answered %d %.300s", r.method, r.path, i, w.Code, w.Body.String())
				continue
			}
			var a map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a["result"] == nil {
				t.Errorf("%s %.60s body %d answered %q, not Wati's JSON", r.method, r.path, i, w.Body.String())
			}
		}
	}
	if o := st.Oversized(); len(o) > 0 {
		t.Errorf("documents over Firestore's bound: %v", o)
	}
}

// TestBroadcastFieldsOverTheirBounds: sendTemplateMessages' own fields are
// bounded like sendTemplateMessage's, before anything is stored.
func TestBroadcastFieldsOverTheirBounds(t *testing.T) {
	h, _, b := memoryServer(t)
	send := path("sendTemplateMessages")
	receivers := `"receivers":[{"whatsappNumber":"5511987654321","customParams":[{"name":"1","value":"Ana"}]}]`
	for _, c := range []struct{ name, body, want string }{
		{"broadcast_name", `{"template_name":"alerta1","broadcast_name":"` + repeat("b", domain.MaxLabel+1) + `",` + receivers + `}`, "broadcast_name: at most"},
		{"template_name", `{"template_name":"` + repeat("t", domain.MaxTemplateRef+1) + `",` + receivers + `}`, "template_name: at most"},
	} {
		w := serve(t, h, http.MethodPost, send, memory.Token, c.body)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", c.name, w.Code, w.Body, c.want)
		}
	}
	if b.created() != 0 {
		t.Errorf("%d broadcasts stored for refused requests", b.created())
	}
}
