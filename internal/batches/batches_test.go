package batches_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/batches"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// nopFanout drops fan-out events: these tests look at what the API says,
// not at sends.
type nopFanout struct{}

func (nopFanout) PublishJSON(context.Context, any, map[string]string) error { return nil }

// call is one request to h with a bearer token ("" sends none).
func call(t testing.TB, h http.Handler, method, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decode reads a JSON answer into v, failing t when it is not one.
func decode(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON; body %s", ct, w.Body.String())
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("answer %q: %v", w.Body.String(), err)
	}
}

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

// wantError checks an error answer's status and code.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var e apiError
	decode(t, w, &e)
	if w.Code != status || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("%d %s, want %d with code %s", w.Code, w.Body.String(), status, code)
	}
}

// create stores a batch of n recipients for tok, in chunks of 2.
func create(t testing.TB, svc *batch.Service, tok domain.Token, code string, n int, sendAt time.Time) batch.Batch {
	t.Helper()
	i := 0
	b, err := svc.Create(context.Background(), tok, batch.Spec{
		Source: "emkt", Code: code, TemplateName: "alerta1", Channel: demo.SenderCode, National: true, Positional: true, SendAt: sendAt,
	}, func() (batch.Recipient, bool, error) {
		if i == n {
			return batch.Recipient{}, false, nil
		}
		i++
		// The last four digits stay clear of the sandbox's failure
		// injection (0001 to 0009).
		return batch.Recipient{Raw: fmt.Sprintf("1198763%04d", 1000+i), Params: map[string]string{"1": "Ana"}}, true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func authenticate(t testing.TB, e *apptest.Env, token string) domain.Token {
	t.Helper()
	tok, err := e.Catalog.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGetListAndControl(t *testing.T) {
	e := apptest.New(t)
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, nopFanout{}, batch.Options{ChunkSize: 2})
	h := batches.New(e.Catalog, svc).Handler()
	tok := authenticate(t, e, apptest.Token)
	sendAt := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	first := create(t, svc, tok, "LOTEA", 3, time.Time{})
	create(t, svc, tok, "LOTEB", 2, sendAt)

	w := call(t, h, http.MethodGet, "/LOTEA", apptest.Token)
	var v batches.View
	decode(t, w, &v)
	if w.Code != http.StatusOK || v.ID != "LOTEA" || v.State != domain.BatchRunning || v.Recipients != 3 || v.Counts == nil ||
		v.Counts.Accepted != 3 || v.Rate == nil || v.StartedAt == nil || v.SendAt != nil || v.Source != "emkt" || v.TemplateID == "" {
		t.Fatalf("GET /LOTEA = %d %s", w.Code, w.Body.String())
	}
	if strings.Contains(w.Body.String(), first.ID) {
		t.Errorf("the answer names the batch's internal id: %s", w.Body.String())
	}
	if v = progressOf(t, h, "/LOTEB"); v.State != domain.BatchScheduled || v.SendAt == nil || !v.SendAt.Equal(sendAt) || v.StartedAt != nil {
		t.Fatalf("a scheduled batch: %+v", v)
	}

	// Newest first, a page at a time.
	var page batches.ListView
	decode(t, call(t, h, http.MethodGet, "/?limit=1", apptest.Token), &page)
	if len(page.Batches) != 1 || page.Batches[0].ID != "LOTEB" || page.NextPageToken == "" || page.Batches[0].Counts != nil {
		t.Fatalf("first page: %+v", page)
	}
	next := page.NextPageToken
	page = batches.ListView{}
	decode(t, call(t, h, http.MethodGet, "/?limit=1&pageToken="+next, apptest.Token), &page)
	if len(page.Batches) != 1 || page.Batches[0].ID != "LOTEA" || page.NextPageToken != "" {
		t.Fatalf("second page: %+v", page)
	}

	for op, want := range map[string]domain.BatchState{"pause": domain.BatchPaused, "resume": domain.BatchRunning} {
		var v batches.View
		if w := call(t, h, http.MethodPost, "/LOTEA/"+op, apptest.Token); w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", op, w.Code, w.Body.String())
		} else if decode(t, w, &v); v.State != want {
			t.Fatalf("%s: %+v, want %s", op, v, want)
		}
	}
	w = call(t, h, http.MethodPost, "/LOTEB/cancel", apptest.Token)
	v = batches.View{}
	decode(t, w, &v)
	if w.Code != http.StatusOK || v.State != domain.BatchCancelled || v.Counts.Cancelled != 2 || v.Counts.Accepted != 0 || v.FinishedAt == nil {
		t.Fatalf("cancel of a scheduled batch: %d %s", w.Code, w.Body.String())
	}
	wantError(t, call(t, h, http.MethodPost, "/LOTEB/resume", apptest.Token), http.StatusConflict, "failed_precondition")
	wantError(t, call(t, h, http.MethodPost, "/LOTEB/pause", apptest.Token), http.StatusConflict, "failed_precondition")
}

func TestRefusals(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	svc := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, nopFanout{}, batch.Options{ChunkSize: 2})
	h := batches.New(e.Catalog, svc).Handler()
	create(t, svc, authenticate(t, e, apptest.Token), "MINE", 1, time.Time{})

	// Another tenant's token sees nothing of it, and its own list is empty.
	if err := demo.Seed(ctx, e.Store, "other", "other-token"); err != nil {
		t.Fatal(err)
	}
	wantError(t, call(t, h, http.MethodGet, "/MINE", "other-token"), http.StatusNotFound, "not_found")
	for _, op := range []string{"pause", "resume", "cancel"} {
		wantError(t, call(t, h, http.MethodPost, "/MINE/"+op, "other-token"), http.StatusNotFound, "not_found")
	}
	var page batches.ListView
	if w := call(t, h, http.MethodGet, "/", "other-token"); w.Code != http.StatusOK {
		t.Fatalf("other tenant's list: %d", w.Code)
	} else if decode(t, w, &page); len(page.Batches) != 0 {
		t.Fatalf("another tenant lists %+v", page.Batches)
	}
	if v := progressOf(t, h, "/MINE"); v.State != domain.BatchRunning {
		t.Fatalf("the other tenant's tries changed the batch: %+v", v)
	}

	// A key that may read messages follows broadcasts but cannot steer them.
	if err := e.Store.PutToken(ctx, "reader-token", domain.Token{Tenant: e.Tenant, Integration: "bi", Scopes: []domain.Scope{domain.ScopeReadMessages}}); err != nil {
		t.Fatal(err)
	}
	if w := call(t, h, http.MethodGet, "/MINE", "reader-token"); w.Code != http.StatusOK {
		t.Fatalf("a read:messages key reading progress: %d %s", w.Code, w.Body.String())
	}
	wantError(t, call(t, h, http.MethodPost, "/MINE/cancel", "reader-token"), http.StatusForbidden, "permission_denied")
	if err := e.Store.PutToken(ctx, "sender-token", domain.Token{Tenant: e.Tenant, Integration: "crm", Scopes: []domain.Scope{domain.ScopeSend}}); err != nil {
		t.Fatal(err)
	}
	wantError(t, call(t, h, http.MethodGet, "/MINE", "sender-token"), http.StatusForbidden, "permission_denied")

	for _, c := range []struct {
		method, path, token string
		status              int
		code                string
	}{
		{http.MethodGet, "/MINE", "", http.StatusUnauthorized, "unauthenticated"},
		{http.MethodGet, "/MINE", "wrong", http.StatusUnauthorized, "unauthenticated"},
		{http.MethodPost, "/MINE/cancel", "", http.StatusUnauthorized, "unauthenticated"},
		{http.MethodGet, "/NOPE", apptest.Token, http.StatusNotFound, "not_found"},
		{http.MethodPost, "/NOPE/pause", apptest.Token, http.StatusNotFound, "not_found"},
		{http.MethodGet, "/" + strings.Repeat("x", 2000), apptest.Token, http.StatusNotFound, "not_found"},
		{http.MethodGet, "/MINE/pause", apptest.Token, http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodDelete, "/MINE", apptest.Token, http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodPost, "/MINE/restart", apptest.Token, http.StatusNotFound, "not_found"},
		{http.MethodGet, "/?limit=0", apptest.Token, http.StatusBadRequest, "invalid_argument"},
		{http.MethodGet, "/?limit=101", apptest.Token, http.StatusBadRequest, "invalid_argument"},
		{http.MethodGet, "/?pageToken=bogus", apptest.Token, http.StatusBadRequest, "invalid_argument"},
	} {
		t.Run(c.method+" "+c.path[:min(len(c.path), 20)], func(t *testing.T) {
			wantError(t, call(t, h, c.method, c.path, c.token), c.status, c.code)
		})
	}
}

func progressOf(t testing.TB, h http.Handler, path string) batches.View {
	t.Helper()
	w := call(t, h, http.MethodGet, path, apptest.Token)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, w.Code, w.Body.String())
	}
	var v batches.View
	decode(t, w, &v)
	return v
}
