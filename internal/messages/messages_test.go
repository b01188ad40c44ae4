package messages_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/store"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func get(t testing.TB, h http.Handler, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// sendAtom sends through the real Atom handler and returns the message id.
func sendAtom(t testing.TB, e *apptest.Env, phone string) string {
	t.Helper()
	svc := accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{})
	h := atom.New(e.Catalog, e.Store, svc).Handler()
	b := `{"templateId":"welcome","phoneNumber":"` + phone + `","firstName":"Ana","params":{"1":"Ana","2":"templategw"}}`
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(b))
	r.Header.Set("Authorization", "Bearer "+apptest.Token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusAccepted {
		t.Fatalf("send = %d %s", w.Code, w.Body.String())
	}
	var a struct {
		Data struct {
			MessageID string `json:"message_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.Data.MessageID == "" {
		t.Fatalf("send answer %s: %v", w.Body.String(), err)
	}
	return a.Data.MessageID
}

// put stores a message of tenant in state st created at at, as the accept
// path (and later dispatch) would leave it.
func put(t testing.TB, e *apptest.Env, tenant, phone string, st domain.Status, at time.Time) domain.Message {
	t.Helper()
	m := domain.NewMessage(store.NewID(), tenant, demo.ChannelID, phone, "welcome", domain.TemplateMessage{Name: "welcome"}, at)
	if st != domain.StatusAccepted {
		m.Status = st
		m.History = append(m.History, domain.HistoryEntry{Status: st, At: at.Add(time.Millisecond)})
		m.Attempts = 1
	}
	if _, err := e.Store.Accept(context.Background(), store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// apiError is {"error":{"code","message"}}.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, code string, mentions ...string) apiError {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body.String())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil || len(raw) != 1 || raw["error"] == nil {
		t.Fatalf("body %s is not {\"error\":{…}} (%v)", w.Body.String(), err)
	}
	var e apiError
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	if e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error = %+v, want code %q and a message", e.Error, code)
	}
	for _, m := range mentions {
		if !strings.Contains(e.Error.Message, m) {
			t.Errorf("error message %q does not name %q", e.Error.Message, m)
		}
	}
	return e
}

type view struct {
	ID                string                `json:"id"`
	Status            string                `json:"status"`
	Channel           string                `json:"channel"`
	PhoneNumber       string                `json:"phoneNumber"`
	TemplateID        string                `json:"templateId"`
	ConversationID    string                `json:"conversationId"`
	ProviderMessageID string                `json:"providerMessageId"`
	Attempts          int                   `json:"attempts"`
	Error             *domain.MessageError  `json:"error"`
	History           []domain.HistoryEntry `json:"history"`
	CreatedAt         time.Time             `json:"createdAt"`
	UpdatedAt         time.Time             `json:"updatedAt"`
}

func TestGetAcceptedMessage(t *testing.T) {
	e := apptest.New(t)
	before := time.Now().UTC().Add(-time.Second)
	id := sendAtom(t, e, "5511987654321")
	h := messages.New(e.Catalog, e.Store).Handler()
	w := get(t, h, "/"+id, apptest.Token)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /%s = %d %s", id, w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "status", "channel", "phoneNumber", "templateId", "attempts", "history", "createdAt", "updatedAt"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, w.Body.String())
		}
	}
	if _, ok := raw["success"]; ok {
		t.Errorf("the native API has no envelope: %s", w.Body.String())
	}
	var v view
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.ID != id || v.Status != "accepted" || v.Channel != demo.ChannelID || v.TemplateID != "welcome" || v.Attempts != 0 || v.Error != nil {
		t.Errorf("message = %+v", v)
	}
	if v.PhoneNumber != "*********4321" {
		t.Errorf("phoneNumber = %q, want *********4321", v.PhoneNumber)
	}
	if strings.Contains(w.Body.String(), "5511987654321") || strings.Contains(w.Body.String(), "55119876") {
		t.Errorf("the full phone number leaks: %s", w.Body.String())
	}
	if len(v.History) != 1 || v.History[0].Status != domain.StatusAccepted || v.History[0].At.Before(before) || v.History[0].At.After(time.Now().Add(time.Second)) {
		t.Errorf("history = %+v, want one accepted entry from now", v.History)
	}
	if !v.CreatedAt.Equal(v.History[0].At) || v.CreatedAt.Before(before) {
		t.Errorf("createdAt = %v, history at %v", v.CreatedAt, v.History[0].At)
	}
}

func TestGetFailedMessageShowsError(t *testing.T) {
	e := apptest.New(t)
	m := domain.NewMessage(store.NewID(), e.Tenant, demo.ChannelID, "5511987650000", "welcome", domain.TemplateMessage{Name: "welcome"}, time.Now().UTC())
	m.Status, m.Attempts, m.Error = domain.StatusFailed, 1, &domain.MessageError{Code: 131026, Title: "Message undeliverable"}
	m.History = append(m.History, domain.HistoryEntry{Status: domain.StatusFailed, At: m.CreatedAt.Add(time.Second)})
	if _, err := e.Store.Accept(context.Background(), store.Acceptance{Message: m, Contact: domain.Contact{Phone: m.PhoneNumber}}); err != nil {
		t.Fatal(err)
	}
	w := get(t, messages.New(e.Catalog, e.Store).Handler(), "/"+m.ID, apptest.Token)
	var v view
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &v) != nil {
		t.Fatalf("GET = %d %s", w.Code, w.Body.String())
	}
	if v.Status != "failed" || v.Error == nil || v.Error.Code != 131026 || v.Error.Title != "Message undeliverable" || len(v.History) != 2 || v.History[1].Status != "failed" {
		t.Errorf("failed message = %+v", v)
	}
}

func TestGetMessageNotFound(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := demo.Seed(ctx, e.Store, "other", "other-token"); err != nil {
		t.Fatal(err)
	}
	theirs := put(t, e, "other", "5511987650000", domain.StatusAccepted, time.Now().UTC())
	h := messages.New(e.Catalog, e.Store).Handler()
	for _, id := range []string{"nope", theirs.ID, "__x__", "..", strings.Repeat("m", 1600)} {
		name := id
		if len(name) > 20 {
			name = "long"
		}
		t.Run(name, func(t *testing.T) {
			w := get(t, h, "/"+id, apptest.Token)
			wantError(t, w, http.StatusNotFound, "not_found")
			if strings.Contains(w.Body.String(), "5511987650000") {
				t.Errorf("another tenant's data leaks: %s", w.Body.String())
			}
		})
	}
	// The owner sees it.
	if w := get(t, h, "/"+theirs.ID, "other-token"); w.Code != http.StatusOK {
		t.Errorf("owner GET = %d %s", w.Code, w.Body.String())
	}
}

func TestMessagesUnauthenticated(t *testing.T) {
	e := apptest.New(t)
	m := put(t, e, e.Tenant, "5511987650000", domain.StatusAccepted, time.Now().UTC())
	if err := e.Store.PutToken(context.Background(), "revoked", domain.Token{Tenant: e.Tenant, Revoked: true}); err != nil {
		t.Fatal(err)
	}
	h := messages.New(e.Catalog, e.Store).Handler()
	for _, tok := range []string{"", "wrong", "revoked"} {
		for _, path := range []string{"/" + m.ID, "/", "/?status=bogus"} {
			w := get(t, h, path, tok)
			wantError(t, w, http.StatusUnauthorized, "unauthenticated")
			if strings.Contains(w.Body.String(), m.ID) {
				t.Errorf("unauthenticated answer shows the message: %s", w.Body.String())
			}
		}
	}
}

type listAnswer struct {
	Messages      []view `json:"messages"`
	NextPageToken string `json:"nextPageToken"`
}

// listAll pages through GET /?query with limit per page and returns the ids.
func listAll(t *testing.T, h http.Handler, query string, limit int) ([]string, []view) {
	t.Helper()
	var ids []string
	var all []view
	tok := ""
	for page := 0; ; page++ {
		if page > 20 {
			t.Fatal("paging does not end")
		}
		q, _ := url.ParseQuery(query)
		q.Set("limit", itoa(limit))
		if tok != "" {
			q.Set("pageToken", tok)
		}
		w := get(t, h, "/?"+q.Encode(), apptest.Token)
		if w.Code != http.StatusOK {
			t.Fatalf("GET /?%s = %d %s", q.Encode(), w.Code, w.Body.String())
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(w.Body.Bytes(), &raw)
		if string(raw["messages"]) == "null" || raw["messages"] == nil {
			t.Fatalf("messages is not a list: %s", w.Body.String())
		}
		var a listAnswer
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		if len(a.Messages) > limit {
			t.Fatalf("page of %d with limit %d", len(a.Messages), limit)
		}
		for _, v := range a.Messages {
			ids = append(ids, v.ID)
			all = append(all, v)
		}
		if a.NextPageToken == "" {
			if _, ok := raw["nextPageToken"]; ok {
				t.Errorf("empty nextPageToken is shown: %s", w.Body.String())
			}
			return ids, all
		}
		if len(a.Messages) != limit {
			t.Errorf("short page (%d of %d) with a next token", len(a.Messages), limit)
		}
		tok = a.NextPageToken
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestListMessagesPagesNewestFirstAndFilters(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := demo.Seed(ctx, e.Store, "other", "other-token"); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	const a, b = "5511987650001", "5511987650002"
	type spec struct {
		phone string
		st    domain.Status
	}
	specs := []spec{{a, "accepted"}, {b, "sent"}, {a, "failed"}, {b, "accepted"}, {a, "sent"}, {a, "accepted"}, {b, "delivered"}}
	var ms []domain.Message
	for i, s := range specs {
		ms = append(ms, put(t, e, e.Tenant, s.phone, s.st, base.Add(time.Duration(i)*time.Second)))
	}
	put(t, e, "other", a, "accepted", base.Add(time.Minute)) // never listed for the demo tenant
	// Two more through the real send path; they are the newest.
	sent1 := sendAtom(t, e, a)
	time.Sleep(2 * time.Millisecond)
	sent2 := sendAtom(t, e, b)

	newestFirst := func(keep func(domain.Message) bool) []string {
		var out []domain.Message
		for _, m := range ms {
			if keep(m) {
				out = append(out, m)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
		ids := make([]string, 0, len(out))
		for _, m := range out {
			ids = append(ids, m.ID)
		}
		return ids
	}

	h := messages.New(e.Catalog, e.Store).Handler()
	all, views := listAll(t, h, "", 2)
	want := append([]string{sent2, sent1}, newestFirst(func(domain.Message) bool { return true })...)
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("all, 2 a page = %v\nwant newest first %v", all, want)
	}
	for _, v := range views {
		if !strings.HasPrefix(v.PhoneNumber, "*********") || (!strings.HasSuffix(v.PhoneNumber, "0001") && !strings.HasSuffix(v.PhoneNumber, "0002")) {
			t.Errorf("listed phoneNumber %q is not masked to its last 4 digits", v.PhoneNumber)
		}
	}
	if one, _ := listAll(t, h, "", 500); !reflect.DeepEqual(one, want) {
		t.Errorf("one page = %v, want %v", one, want)
	}

	got, _ := listAll(t, h, "phone="+a, 2)
	want = append([]string{sent1}, newestFirst(func(m domain.Message) bool { return m.PhoneNumber == a })...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("phone=%s = %v, want %v", a, got, want)
	}
	got, _ = listAll(t, h, "status=accepted", 2)
	want = append([]string{sent2, sent1}, newestFirst(func(m domain.Message) bool { return m.Status == "accepted" })...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status=accepted = %v, want %v", got, want)
	}
	got, vs := listAll(t, h, "status=sent", 1)
	want = newestFirst(func(m domain.Message) bool { return m.Status == "sent" })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status=sent = %v, want %v", got, want)
	}
	for _, v := range vs {
		if v.Status != "sent" {
			t.Errorf("status=sent lists a %s message", v.Status)
		}
	}
	got, _ = listAll(t, h, "status=accepted&phone="+b, 1)
	want = append([]string{sent2}, newestFirst(func(m domain.Message) bool { return m.Status == "accepted" && m.PhoneNumber == b })...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status=accepted&phone=%s = %v, want %v", b, got, want)
	}
	if got, _ = listAll(t, h, "status=read", 3); len(got) != 0 {
		t.Errorf("status=read = %v, want none", got)
	}
	if got, _ = listAll(t, h, "phone=5511987659999", 3); len(got) != 0 {
		t.Errorf("unknown phone = %v, want none", got)
	}
	// The default page holds everything here (default limit 50).
	w := get(t, h, "/", apptest.Token)
	var la listAnswer
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &la) != nil || len(la.Messages) != len(specs)+2 || la.NextPageToken != "" {
		t.Errorf("GET / = %d %s", w.Code, w.Body.String())
	}
}

func TestListMessagesEmpty(t *testing.T) {
	e := apptest.New(t)
	w := get(t, messages.New(e.Catalog, e.Store).Handler(), "/", apptest.Token)
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"messages":[]}` {
		t.Errorf("empty list = %d %s, want {\"messages\":[]}", w.Code, w.Body.String())
	}
}

func TestListMessagesBadQuery(t *testing.T) {
	e := apptest.New(t)
	put(t, e, e.Tenant, "5511987650001", domain.StatusAccepted, time.Now().UTC())
	h := messages.New(e.Catalog, e.Store).Handler()
	for _, c := range []struct {
		query string
		names []string
	}{
		{"status=bogus", []string{"status"}},
		{"status=ACCEPTED", []string{"status"}},
		{"phone=%2B5511987650001", []string{"phone"}},
		{"phone=55667788", []string{"phone"}},
		{"phone=abc", []string{"phone"}},
		{"limit=0", []string{"limit"}},
		{"limit=501", []string{"limit"}},
		{"limit=x", []string{"limit"}},
		{"status=bogus&phone=x&limit=0", []string{"status", "phone", "limit"}},
		{"pageToken=garbage!", []string{"pageToken"}},
		{"pageToken=" + base64.RawURLEncoding.EncodeToString([]byte("123.a/b")), []string{"pageToken"}},
		{"pageToken=" + base64.RawURLEncoding.EncodeToString([]byte("x.abc")), []string{"pageToken"}},
		{"pageToken=" + base64.RawURLEncoding.EncodeToString([]byte("123.")), []string{"pageToken"}},
	} {
		t.Run(c.query, func(t *testing.T) {
			wantError(t, get(t, h, "/?"+c.query, apptest.Token), http.StatusBadRequest, "invalid_argument", c.names...)
		})
	}
	// limit=500 is allowed.
	if w := get(t, h, "/?limit=500", apptest.Token); w.Code != http.StatusOK {
		t.Errorf("limit=500 = %d %s", w.Code, w.Body.String())
	}
}

// A page token carries a document id; one Firestore cannot take is a token
// this API never issued: 400, not an internal error.
func TestListMessagesTokenFirestoreCannotName(t *testing.T) {
	e := apptest.New(t)
	put(t, e, e.Tenant, "5511987650001", domain.StatusAccepted, time.Now().UTC())
	h := messages.New(e.Catalog, e.Store).Handler()
	for _, id := range []string{"__x__", strings.Repeat("m", 1600)} {
		tok := base64.RawURLEncoding.EncodeToString([]byte("123." + id))
		w := get(t, h, "/?pageToken="+tok, apptest.Token)
		if w.Code != http.StatusBadRequest && w.Code != http.StatusOK {
			t.Errorf("pageToken naming %.20q = %d %s, want 400", id, w.Code, w.Body.String())
		}
	}
}

func TestMessagesIsReadOnly(t *testing.T) {
	e := apptest.New(t)
	h := messages.New(e.Catalog, e.Store).Handler()
	for _, path := range []string{"/", "/some-id"} {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader("{}"))
		r.Header.Set("Authorization", "Bearer "+apptest.Token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		wantError(t, w, http.StatusMethodNotAllowed, "method_not_allowed")
		if w.Header().Get("Allow") != http.MethodGet {
			t.Errorf("POST %s: Allow = %q, want GET", path, w.Header().Get("Allow"))
		}
	}
}
