package atom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/request"
	"github.com/templategw/templategw/internal/store"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// handler builds the templates function the way internal/app does.
func handler(e *apptest.Env) http.Handler {
	svc := accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{})
	return atom.New(e.Catalog, e.Store, svc).Handler()
}

// call is one request to h; header pairs follow the body.
var call = apptest.Call

func send(t testing.TB, h http.Handler, token, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return call(t, h, http.MethodPost, "/", token, body, header...)
}

// answer is Atom's envelope, decoded strictly enough to see extra keys.
type answer struct {
	Success bool                       `json:"success"`
	Message string                     `json:"message"`
	Data    map[string]json.RawMessage `json:"data"`
	keys    []string
}

func decode(t testing.TB, w *httptest.ResponseRecorder) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("body %q is not Atom's JSON envelope: %v", w.Body.String(), err)
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(w.Body.Bytes(), &raw)
	for k := range raw {
		a.keys = append(a.keys, k)
		if k != "success" && k != "message" && k != "data" {
			t.Errorf("envelope has an unexpected key %q: %s", k, w.Body.String())
		}
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return a
}

// fields is data.fields of an error answer.
func (a answer) fields(t testing.TB) []string {
	t.Helper()
	var f []string
	if raw, ok := a.Data["fields"]; ok {
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("data.fields = %s: %v", raw, err)
		}
	}
	return f
}

func (a answer) str(t testing.TB, key string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(a.Data[key], &s); err != nil {
		t.Fatalf("data.%s = %s: %v", key, a.Data[key], err)
	}
	return s
}

// wantError checks a failure answer: code, success false, a message with
// the given prefix, and data.fields exactly fields (nil: no data at all).
func wantError(t testing.TB, w *httptest.ResponseRecorder, code int, msgPrefix string, fields ...string) answer {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status = %d, want %d; body %s", w.Code, code, w.Body.String())
	}
	a := decode(t, w)
	if a.Success {
		t.Errorf("success = true on a %d: %s", code, w.Body.String())
	}
	if !strings.HasPrefix(a.Message, msgPrefix) {
		t.Errorf("message = %q, want it to start with %q", a.Message, msgPrefix)
	}
	if len(fields) == 0 {
		if a.Data != nil {
			t.Errorf("data = %v, want none", a.Data)
		}
	} else if got := a.fields(t); !reflect.DeepEqual(got, fields) {
		t.Errorf("data.fields = %q, want %q; body %s", got, fields, w.Body.String())
	}
	return a
}

// wantPending checks a Pending answer and returns its message id.
func wantPending(t testing.TB, w *httptest.ResponseRecorder, code int) string {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status = %d, want %d; body %s", w.Code, code, w.Body.String())
	}
	a := decode(t, w)
	if !a.Success || a.Message != "Pending" {
		t.Fatalf("answer = %s, want success true and message Pending", w.Body.String())
	}
	if len(a.Data) != 1 {
		t.Errorf("data = %s, want only message_id", w.Body.String())
	}
	id := a.str(t, "message_id")
	if id == "" {
		t.Fatalf("empty data.message_id: %s", w.Body.String())
	}
	return id
}

// messageDocs counts the tenant's message documents.
func messageDocs(t testing.TB, e *apptest.Env, tenant string) int {
	t.Helper()
	docs, err := e.Firestore.Collection("tenants").Doc(tenant).Collection("messages").Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

func contactDocs(t testing.TB, e *apptest.Env, tenant string) int {
	t.Helper()
	docs, err := e.Firestore.Collection("tenants").Doc(tenant).Collection("contacts").Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

// body is a send body; the caller's overrides replace or add keys (a nil
// value removes the key).
func body(overrides map[string]any) string {
	b := map[string]any{
		"templateId":  "welcome",
		"phoneNumber": "50755667788",
		"firstName":   "Ana",
		"lastName":    "Souza",
		"params":      map[string]any{"1": "Ana", "2": "templategw"},
	}
	for k, v := range overrides {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	out, _ := json.Marshal(b)
	return string(out)
}

func TestSendAcceptsAndStores(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	w := send(t, h, apptest.Token, body(nil))
	id := wantPending(t, w, http.StatusAccepted)

	m, err := e.Store.Message(context.Background(), e.Tenant, id)
	if err != nil {
		t.Fatalf("message %s answered 202 but is not stored: %v", id, err)
	}
	if m.Status != domain.StatusAccepted || len(m.History) != 1 || m.History[0].Status != domain.StatusAccepted {
		t.Errorf("stored message status %s, history %+v; want accepted with one accepted entry", m.Status, m.History)
	}
	if m.PhoneNumber != "50755667788" || m.TemplateID != "welcome" || m.Channel != demo.ChannelID || m.Tenant != e.Tenant {
		t.Errorf("stored message = %+v", m)
	}
	if m.Template.Name != "welcome" || m.Template.ParamCount("body") != 2 {
		t.Errorf("stored rendering = %+v, want welcome with two body params", m.Template)
	}
	snap, err := e.Firestore.Collection("tenants").Doc(e.Tenant).Collection("contacts").Doc("50755667788").Get(context.Background())
	if err != nil {
		t.Fatalf("contact not stored: %v", err)
	}
	d := snap.Data()
	if d["firstName"] != "Ana" || d["lastName"] != "Souza" || d["name"] != "Ana Souza" || d["phone"] != "50755667788" {
		t.Errorf("contact = %v", d)
	}
	if n := messageDocs(t, e, e.Tenant); n != 1 {
		t.Errorf("%d message docs after one send, want 1", n)
	}
}

func TestSendClientNameOverridesContactName(t *testing.T) {
	e := apptest.New(t)
	w := send(t, handler(e), apptest.Token, body(map[string]any{"clientName": "Dona Ana", "assign": true, "groupName": "Support"}))
	wantPending(t, w, http.StatusAccepted)
	snap, err := e.Firestore.Doc("tenants/" + e.Tenant + "/contacts/50755667788").Get(context.Background())
	if err != nil || snap.Data()["name"] != "Dona Ana" {
		t.Fatalf("contact = %v, %v; want name Dona Ana", snap, err)
	}
}

func TestSendPendingCode200ForSeed001Clients(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Store.PutToken(ctx, "seed-001-token", tokenWith200(e)); err != nil {
		t.Fatal(err)
	}
	h := handler(e)
	id := wantPending(t, send(t, h, "seed-001-token", body(nil)), http.StatusOK)
	if _, err := e.Store.Message(ctx, e.Tenant, id); err != nil {
		t.Fatalf("message of a 200 Pending not stored: %v", err)
	}
	// The default token still answers 202.
	wantPending(t, send(t, h, apptest.Token, body(nil)), http.StatusAccepted)
}

// tokenWith200 is a grant for a client built on seed 001, which documents
// Pending as 200.
func tokenWith200(e *apptest.Env) domain.Token {
	return domain.Token{Tenant: e.Tenant, Integration: "legacy", Groups: []string{"Support"}, DefaultChannel: demo.ChannelID, PendingCode: http.StatusOK}
}

func TestSendNoData(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for name, b := range map[string]string{
		"empty":            "",
		"whitespace":       " \n\t ",
		"array":            "[]",
		"string":           `"x"`,
		"number":           "42",
		"null":             "null",
		"invalid":          `{"templateId": "welcome",`,
		"not json":         "templateId=welcome&phoneNumber=50755667788",
		"two objects":      body(nil) + body(nil),
		"trailing garbage": body(nil) + "x",
		// A stray closing brace makes the body invalid JSON, even though
		// the object before it is complete.
		"trailing brace":   body(nil) + "}",
		"trailing bracket": body(nil) + "]",
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, send(t, h, apptest.Token, b), http.StatusBadRequest, "no data to send")
		})
	}
	if n := messageDocs(t, e, e.Tenant); n != 0 {
		t.Errorf("%d messages stored by refused requests", n)
	}
}

func TestSendBadPhone(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, phone := range []any{"+50755667788", "55667788", "507 55667788", "5075566778a", "", nil, "0755667788", "5075566778899887766", "1234"} {
		name, _ := phone.(string)
		if phone == nil {
			name = "missing"
		}
		t.Run(name, func(t *testing.T) {
			var w *httptest.ResponseRecorder
			if phone == nil {
				w = send(t, h, apptest.Token, body(map[string]any{"phoneNumber": nil}))
			} else {
				w = send(t, h, apptest.Token, body(map[string]any{"phoneNumber": phone}))
			}
			a := wantError(t, w, http.StatusBadRequest, "invalid fields: phoneNumber: ", "phoneNumber")
			if (phone == nil || phone == "") && a.Message != "invalid fields: phoneNumber: required" {
				t.Errorf("message = %q, want it to say the phone is required", a.Message)
			}
		})
	}
	if n := messageDocs(t, e, e.Tenant) + contactDocs(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents stored by refused requests", n)
	}
	wantPending(t, send(t, h, apptest.Token, body(map[string]any{"phoneNumber": "50755667788"})), http.StatusAccepted)
}

func TestSendWrongTypes(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, c := range []struct {
		name  string
		over  map[string]any
		field string
	}{
		{"assign string", map[string]any{"assign": "yes"}, "assign"},
		{"param object", map[string]any{"params": map[string]any{"1": map[string]any{"a": 1}, "2": "x"}}, "params.1"},
		{"param array", map[string]any{"params": map[string]any{"1": "Ana", "2": []any{"x"}}}, "params.2"},
		{"templateId number", map[string]any{"templateId": 5}, "templateId"},
		{"phone number", map[string]any{"phoneNumber": 50755667788}, "phoneNumber"},
		{"params string", map[string]any{"params": "1=Ana"}, "params"},
		{"firstName object", map[string]any{"firstName": map[string]any{}}, "firstName"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := wantError(t, send(t, h, apptest.Token, body(c.over)), http.StatusBadRequest, "invalid fields: ", c.field)
			if !strings.Contains(a.Message, c.field) {
				t.Errorf("message %q does not name %s", a.Message, c.field)
			}
		})
	}
	// A null param is refused naming it; numbers and booleans are taken as text.
	wantError(t, send(t, h, apptest.Token, `{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":null,"2":"x"}}`),
		http.StatusBadRequest, "invalid fields: params.1", "params.1")
	// Several bad fields are named together.
	a := wantError(t, send(t, h, apptest.Token, `{"templateId":"welcome","phoneNumber":"+1","params":{"1":{},"2":"x"}}`),
		http.StatusBadRequest, "invalid fields: phoneNumber: ", "phoneNumber", "params.1")
	if !strings.Contains(a.Message, "params.1: ") {
		t.Errorf("message %q does not name params.1", a.Message)
	}
	wantPending(t, send(t, h, apptest.Token, `{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":7,"2":true}}`), http.StatusAccepted)
}

func TestSendMissingParams(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	a := wantError(t, send(t, h, apptest.Token, body(map[string]any{"params": map[string]any{"1": "Ana"}})),
		http.StatusBadRequest, "missing template params: ", "2")
	if a.Message != "missing template params: 2" {
		t.Errorf("message = %q, want it to list 2", a.Message)
	}
	// A blank value is as good as none.
	wantError(t, send(t, h, apptest.Token, body(map[string]any{"params": map[string]any{"1": " ", "2": "x"}})),
		http.StatusBadRequest, "missing template params: 1", "1")
	wantError(t, send(t, h, apptest.Token, body(map[string]any{"params": nil})),
		http.StatusBadRequest, "missing template params: 1, 2", "1", "2")
	a = wantError(t, send(t, h, apptest.Token, body(map[string]any{"templateId": "promo_image", "params": map[string]any{"1": "Ana"}})),
		http.StatusBadRequest, "missing template params: ", "header", "button_0")
	if !strings.Contains(a.Message, "header") || !strings.Contains(a.Message, "button_0") {
		t.Errorf("message %q does not list header and button_0", a.Message)
	}
	// Named placeholders are listed by name.
	wantError(t, send(t, h, apptest.Token, body(map[string]any{"templateId": "order_update", "params": map[string]any{"first_name": "Ana"}})),
		http.StatusBadRequest, "missing template params: order_id", "order_id")
	if n := messageDocs(t, e, e.Tenant); n != 0 {
		t.Errorf("%d messages stored by refused requests", n)
	}
	wantPending(t, send(t, h, apptest.Token, body(map[string]any{"templateId": "promo_image",
		"params": map[string]any{"1": "Ana", "header": "https://cdn.example.com/p.jpg", "button_0": "summer"}})), http.StatusAccepted)
}

func TestSendTemplateWithoutIDOrMessage(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Store.PutTemplate(ctx, e.Tenant, domain.Template{ID: "header_only", Name: "header_only", Language: "pt_BR",
		Category: "UTILITY", Status: domain.TemplateApproved,
		Components: []domain.TemplateComponent{{Type: "HEADER", Format: "TEXT", Text: "Olá"}}}); err != nil {
		t.Fatal(err)
	}
	h := handler(e)
	for name, over := range map[string]map[string]any{
		"unknown id":  {"templateId": "no_such_template"},
		"missing id":  {"templateId": nil},
		"empty id":    {"templateId": ""},
		"no body":     {"templateId": "header_only"},
		"other case":  {"templateId": "WELCOME"},
		"id is name+": {"templateId": "welcome "},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, send(t, h, apptest.Token, body(over)), http.StatusBadRequest, "template without id or message", "templateId")
		})
	}
	if n := messageDocs(t, e, e.Tenant); n != 0 {
		t.Errorf("%d messages stored by refused requests", n)
	}
}

// Template ids reach Firestore as document ids; ids Firestore refuses (a
// slash, __reserved__, "." or "..") are still just unknown templates to
// the client, not internal errors, and one over 1500 bytes is over
// templateId's bound before anything is read.
func TestSendTemplateIDsFirestoreCannotName(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, id := range []string{"a/b", "welcome/x", "/welcome", "__x__", ".", ".."} {
		t.Run(id, func(t *testing.T) {
			wantError(t, send(t, h, apptest.Token, body(map[string]any{"templateId": id})), http.StatusBadRequest, "template without id or message", "templateId")
		})
	}
	long := body(map[string]any{"templateId": strings.Repeat("t", 1600)})
	wantError(t, send(t, h, apptest.Token, long), http.StatusBadRequest, "invalid fields: templateId: at most 512 characters", "templateId")
}

func TestSendChannelNotConnected(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	ch := demo.Channel()
	ch.Connected = false
	if err := e.Store.PutChannel(ctx, e.Tenant, ch); err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(e.Store, 0)
	svc := accept.New(cat, e.Store, e.Publisher, accept.Options{})
	h := atom.New(cat, e.Store, svc).Handler()
	wantError(t, send(t, h, apptest.Token, body(nil)), http.StatusUnauthorized, "channel not connected")
	if n := messageDocs(t, e, e.Tenant); n != 0 {
		t.Errorf("%d messages stored for a disconnected channel", n)
	}
	// Reconnected, the same request goes through.
	if err := e.Store.SetChannelConnected(ctx, e.Tenant, ch.ID, true); err != nil {
		t.Fatal(err)
	}
	wantPending(t, send(t, h, apptest.Token, body(nil)), http.StatusAccepted)
}

func TestSendUnknownChannelNumber(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	wantError(t, send(t, h, apptest.Token, body(map[string]any{"channelNumber": "5511000000000"})), http.StatusBadRequest, "channelNumber: ", "channelNumber")
	wantPending(t, send(t, h, apptest.Token, body(map[string]any{"channelNumber": "+" + demo.DisplayNumber})), http.StatusAccepted)
}

func TestSendIncorrectToken(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Store.PutToken(ctx, "revoked-token", domain.Token{Tenant: e.Tenant, Integration: "old", DefaultChannel: demo.ChannelID, Revoked: true}); err != nil {
		t.Fatal(err)
	}
	h := handler(e)
	for name, tok := range map[string]string{"missing": "", "wrong": "not-the-token", "revoked": "revoked-token", "prefix": apptest.Token[:4]} {
		t.Run(name, func(t *testing.T) {
			w := send(t, h, tok, body(nil))
			a := wantError(t, w, http.StatusUnauthorized, "incorrect token")
			if a.Message != "incorrect token" {
				t.Errorf("message = %q", a.Message)
			}
		})
	}
	// Not a bearer scheme.
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body(nil)))
	r.Header.Set("Authorization", "Basic "+apptest.Token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	wantError(t, w, http.StatusUnauthorized, "incorrect token")
	// An unauthenticated request with a bad body is still a 401, not a 400.
	wantError(t, send(t, h, "", ""), http.StatusUnauthorized, "incorrect token")
	if n := messageDocs(t, e, e.Tenant); n != 0 {
		t.Errorf("%d messages stored for bad tokens", n)
	}
}

// failingSource is the real store whose reads of one kind fail.
type failingSource struct {
	*store.Store
	token, channels, template bool
}

var errOutage = errors.New("rpc error: code = Unavailable desc = backend 10.0.0.7 unreachable")

func (f failingSource) Token(ctx context.Context, hash string) (domain.Token, error) {
	if f.token {
		return domain.Token{}, errOutage
	}
	return f.Store.Token(ctx, hash)
}

func (f failingSource) Channels(ctx context.Context, tenant string) ([]domain.Channel, error) {
	if f.channels {
		return nil, errOutage
	}
	return f.Store.Channels(ctx, tenant)
}

func (f failingSource) Template(ctx context.Context, tenant, id string) (domain.Template, error) {
	if f.template {
		return domain.Template{}, errOutage
	}
	return f.Store.Template(ctx, tenant, id)
}

// failingAccept is the real store whose commit fails.
type failingAccept struct{ *store.Store }

func (failingAccept) Accept(context.Context, store.Acceptance) (time.Time, error) {
	return time.Time{}, errOutage
}

func TestSendInternalErrorHidesDetails(t *testing.T) {
	for name, build := range map[string]func(e *apptest.Env, pub accept.Publisher) http.Handler{
		"token read fails": func(e *apptest.Env, pub accept.Publisher) http.Handler {
			cat := catalog.New(failingSource{Store: e.Store, token: true}, 0)
			return atom.New(cat, e.Store, accept.New(cat, e.Store, pub, accept.Options{})).Handler()
		},
		"channels read fails": func(e *apptest.Env, pub accept.Publisher) http.Handler {
			cat := catalog.New(failingSource{Store: e.Store, channels: true}, 0)
			return atom.New(cat, e.Store, accept.New(cat, e.Store, pub, accept.Options{})).Handler()
		},
		"template read fails": func(e *apptest.Env, pub accept.Publisher) http.Handler {
			cat := catalog.New(failingSource{Store: e.Store, template: true}, 0)
			return atom.New(cat, e.Store, accept.New(cat, e.Store, pub, accept.Options{})).Handler()
		},
		"commit fails": func(e *apptest.Env, pub accept.Publisher) http.Handler {
			return atom.New(e.Catalog, e.Store, accept.New(e.Catalog, failingAccept{e.Store}, pub, accept.Options{})).Handler()
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := apptest.New(t)
			pub := &apptest.WatchedPublisher{Next: e.Publisher}
			h := build(e, pub)
			w := send(t, h, apptest.Token, body(nil), "Idempotency-Key", "k-500")
			if w.Code != http.StatusInternalServerError {
				t.Fatalf("status = %d, want 500; body %s", w.Code, w.Body.String())
			}
			if got := strings.TrimSpace(w.Body.String()); got != `{"success":false,"message":"internal error"}` {
				t.Errorf("body = %s, want exactly the internal error envelope", got)
			}
			if strings.Contains(w.Body.String(), "10.0.0.7") || strings.Contains(w.Body.String(), "Unavailable") {
				t.Errorf("body leaks the cause: %s", w.Body.String())
			}
			if n := messageDocs(t, e, e.Tenant) + contactDocs(t, e, e.Tenant); n != 0 {
				t.Errorf("%d documents written by a failed send", n)
			}
			if _, err := e.Store.Idempotency(context.Background(), e.Tenant, "k-500"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a 500 was stored under its Idempotency-Key: %v", err)
			}
			if n := pub.Calls.Load(); n != 0 {
				t.Errorf("published %d jobs for a failed send", n)
			}
		})
	}
}

func TestSendPublishFailureStillAccepts(t *testing.T) {
	e := apptest.New(t)
	pub := &apptest.WatchedPublisher{Next: e.Publisher, Err: errors.New("pubsub down")}
	svc := accept.New(e.Catalog, e.Store, pub, accept.Options{PublishTimeout: time.Second})
	h := atom.New(e.Catalog, e.Store, svc).Handler()
	id := wantPending(t, send(t, h, apptest.Token, body(nil)), http.StatusAccepted)
	if pub.Calls.Load() != 1 {
		t.Errorf("publish called %d times, want 1", pub.Calls.Load())
	}
	m, err := e.Store.Message(context.Background(), e.Tenant, id)
	if err != nil || m.Status != domain.StatusAccepted {
		t.Fatalf("message after a failed publish = %+v, %v; want it stored as accepted for sweep", m, err)
	}
}

func TestSendPublishesTheJob(t *testing.T) {
	e := apptest.New(t)
	var got []queue.Job
	rec := recordingPublisher(func(j queue.Job) { got = append(got, j) })
	svc := accept.New(e.Catalog, e.Store, rec, accept.Options{})
	h := atom.New(e.Catalog, e.Store, svc).Handler()
	id := wantPending(t, send(t, h, apptest.Token, body(nil)), http.StatusAccepted)
	if len(got) != 1 || got[0].Tenant != e.Tenant || got[0].Message != id || got[0].Channel != demo.ChannelID || got[0].Bulk {
		t.Fatalf("published %+v, want one job for %s/%s", got, e.Tenant, id)
	}
	// The job carries the message as stored, for a claim without a read.
	carried, ok := got[0].Carried()
	stored, err := e.Store.Message(context.Background(), e.Tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || carried.Status != domain.StatusAccepted || carried.PhoneNumber != stored.PhoneNumber || !reflect.DeepEqual(carried.Template, stored.Template) {
		t.Fatalf("job carries %+v (%v), want the stored %+v", carried, ok, stored)
	}
	if _, err := e.Store.ClaimAccepted(context.Background(), carried, time.Now(), time.Minute); err != nil {
		t.Fatalf("claim of the carried message: %v", err)
	}
}

type recordingPublisher func(queue.Job)

func (f recordingPublisher) Publish(_ context.Context, j queue.Job) error { f(j); return nil }

func TestSendBodyTooLarge(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	pad := strings.Repeat(" ", request.MaxBody)
	big := `{"templateId":"welcome","phoneNumber":"50755667788",` + pad + `"params":{"1":"a","2":"b"}}`
	w := send(t, h, apptest.Token, big)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413; body %.200s", w.Code, w.Body.String())
	}
	if a := decode(t, w); a.Success || a.Message == "" {
		t.Errorf("413 body = %s", w.Body.String())
	}
	if n := messageDocs(t, e, e.Tenant); n != 0 {
		t.Errorf("%d messages stored from an oversized body", n)
	}
	// Exactly MaxBody bytes is still read.
	b := body(nil)
	exact := b[:len(b)-1] + strings.Repeat(" ", request.MaxBody-len(b)) + "}"
	if len(exact) != request.MaxBody {
		t.Fatalf("built %d bytes", len(exact))
	}
	wantPending(t, send(t, h, apptest.Token, exact), http.StatusAccepted)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	w := call(t, h, http.MethodGet, "/a/b", apptest.Token, "")
	if w.Code != http.StatusNotFound || decode(t, w).Success {
		t.Errorf("GET /a/b = %d %s, want 404", w.Code, w.Body.String())
	}
	w = call(t, h, http.MethodDelete, "/", apptest.Token, "")
	if w.Code != http.StatusMethodNotAllowed || decode(t, w).Success {
		t.Errorf("DELETE / = %d %s, want 405", w.Code, w.Body.String())
	}
}

// The seeds' example bodies, as their documentation writes them, work.
func TestSendSeedExamples(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, b := range seedBodies {
		if !strings.Contains(b, "50755667788") {
			continue
		}
		w := send(t, h, apptest.Token, b)
		if w.Code != http.StatusAccepted {
			t.Errorf("seed example %s = %d %s", b, w.Code, w.Body.String())
		}
	}
}

// seedBodies are request bodies in the shapes seeds 000 and 001 document,
// with templates the demo tenant has; the fuzz target starts from them.
var seedBodies = []string{
	`{"templateId":"welcome","phoneNumber":"50755667788","firstName":"Ana","lastName":"Souza","assign":false,"params":{"1":"Ana","2":"Atom"}}`,
	`{"templateId":"welcome","phoneNumber":"50755667788","clientName":"nombre_del_cliente","groupName":"nombre_del_grupo","assign":true,"params":{"1":"valor","2":"valor "}}`,
	`{"templateId":"order_update","phoneNumber":"50755667788","params":{"first_name":"Ana","order_id":"A-1"}}`,
	`{"templateId":"promo_image","phoneNumber":"50755667788","params":{"1":"Ana","header":"https://cdn.example.com/a.jpg","button_0":"x"}}`,
	`{ "templateId": "welcome", "phoneNumber": "+50555667788" }`,
	`{"templateId":"welcome","phoneNumber":"55667788"}`,
	`{"templateId":"id_del_template","phoneNumber":"numero_de_telefono","assign":"true/false","params":{"param1":"valor"}}`,
	``,
	`[]`,
}

// bytesEqual reports a difference with context.
func bytesEqual(t testing.TB, what string, a, b []byte) {
	t.Helper()
	if !bytes.Equal(a, b) {
		t.Errorf("%s differ:\n%s\n%s", what, a, b)
	}
}
