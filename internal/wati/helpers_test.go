package wati_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/wati"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// The second tenant of isolation tests, and the demo tenant's second
// number.
const (
	otherTenant = "other"
	otherToken  = "other-token"

	secondChannel = "second"
	secondNumber  = "5511999990001"
	secondPNID    = "100000000000002"
)

// fakeBatches records what a broadcast hands the batch service, so tests
// can read the spec and recipients the dialect built; it drains the
// recipients and treats a repeated code as a replay, as the service's
// contract says. TestSendTemplateMessagesThroughTheRealBatch runs the real
// service end to end.
type fakeBatches struct {
	mu    sync.Mutex
	specs []batch.Spec
	toks  []domain.Token
	recs  [][]batch.Recipient
	codes map[string]bool
	err   error // returned instead of storing, when set
}

func (b *fakeBatches) Create(_ context.Context, tok domain.Token, spec batch.Spec, next batch.Next) (batch.Batch, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return batch.Batch{}, b.err
	}
	if spec.Code != "" && b.codes[spec.Code] {
		return batch.Batch{ID: "b-" + spec.Code, Code: spec.Code, Replayed: true}, nil
	}
	var recs []batch.Recipient
	for {
		r, ok, err := next()
		if err != nil {
			return batch.Batch{}, err
		}
		if !ok {
			break
		}
		recs = append(recs, r)
	}
	if b.codes == nil {
		b.codes = map[string]bool{}
	}
	b.codes[spec.Code] = true
	b.specs, b.toks, b.recs = append(b.specs, spec), append(b.toks, tok), append(b.recs, recs)
	return batch.Batch{ID: "b" + spec.Code, Code: spec.Code, Accepted: len(recs)}, nil
}

func (b *fakeBatches) created() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.specs)
}

// fixture is the wati function on the real accept path, store, catalog and
// publisher, over the emulators, with the demo tenant, its second number
// (not the default) and a second tenant seeded.
type fixture struct {
	*apptest.Env
	h       http.Handler
	batches *fakeBatches
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	e := apptest.New(t)
	ctx := context.Background()
	second := demo.Channel()
	second.ID, second.DisplayNumber, second.PhoneNumberID, second.Default, second.SenderCode = secondChannel, secondNumber, secondPNID, false, ""
	if err := e.Store.PutChannel(ctx, e.Tenant, second); err != nil {
		t.Fatal(err)
	}
	// The other tenant is the demo under another id, with its own Meta
	// number so webhooks for the demo's number still find the demo.
	if err := demo.Seed(ctx, e.Store, otherTenant, otherToken); err != nil {
		t.Fatal(err)
	}
	theirs := demo.Channel()
	theirs.PhoneNumberID = "100000000000009"
	if err := e.Store.PutChannel(ctx, otherTenant, theirs); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.PutChannel(ctx, e.Tenant, demo.Channel()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{Env: e, batches: &fakeBatches{}}
	f.h = f.server(acceptOptions()).Handler()
	return f
}

// acceptOptions keeps a send into an open conversation from waiting long
// for an outcome the Wati answer does not show.
func acceptOptions() accept.Options { return accept.Options{Wait: 100 * time.Millisecond} }

func (f *fixture) server(opt accept.Options) *wati.Server {
	svc := accept.New(f.Catalog, f.Store, f.Publisher, opt)
	return wati.New(f.Catalog, f.Store, svc, f.batches, wati.Options{})
}

// path is a Wati API path of the demo tenant.
func path(rest string) string { return "/" + demo.TenantID + "/api/v1/" + rest }

// call is one request to the fixture's handler; header pairs follow the
// body.
func (f *fixture) call(t testing.TB, method, p, token, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return serve(t, f.h, method, p, token, body, header...)
}

var serve = apptest.Call

// obj decodes a JSON object answer, failing the test on anything else.
func obj(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer %d %q is not a JSON object: %v", w.Code, w.Body.String(), err)
	}
	return m
}

// wantFail checks a failure: the code, result false, info containing each
// of the fragments, and for the session shape ok false.
func wantFail(t testing.TB, w *httptest.ResponseRecorder, code int, fragments ...string) map[string]any {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d; body %s", w.Code, code, w.Body.String())
	}
	m := obj(t, w)
	if m["result"] != false {
		t.Errorf("result = %v on a %d: %s", m["result"], code, w.Body.String())
	}
	info, _ := m["info"].(string)
	for _, f := range fragments {
		if !strings.Contains(info, f) {
			t.Errorf("info %q does not name %q", info, f)
		}
	}
	return m
}

// messages lists a tenant's stored messages.
func (f *fixture) messages(t testing.TB, tenant string) []domain.Message {
	t.Helper()
	list, _, err := f.Store.Messages(context.Background(), tenant, store.MessageFilter{}, 500, "")
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// contactDocs counts a tenant's contact documents.
func (f *fixture) contactDocs(t testing.TB, tenant string) int {
	t.Helper()
	n, err := f.Store.CountContacts(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// openWindow writes an inbound message from phone to channel, as the
// whatsapp function stores one, which opens the contact's window there.
func (f *fixture) openWindow(t testing.TB, channel, phone string, at time.Time) {
	t.Helper()
	in := store.Inbound{ID: "wamid.in-" + channel + "-" + phone + "-" + at.Format("150405.000"), Channel: channel, Phone: phone, Type: "text", Text: "oi", At: at}
	if err := f.Store.PutInbound(context.Background(), f.Tenant, in); err != nil {
		t.Fatal(err)
	}
}

// str and num read a decoded JSON path such as "message.id".
func str(t testing.TB, m map[string]any, dotted string) string {
	t.Helper()
	v := at(t, m, dotted)
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s = %v (%T), want a string", dotted, v, v)
	}
	return s
}

func num(t testing.TB, m map[string]any, dotted string) int {
	t.Helper()
	v := at(t, m, dotted)
	n, ok := v.(float64)
	if !ok {
		t.Fatalf("%s = %v (%T), want a number", dotted, v, v)
	}
	return int(n)
}

func at(t testing.TB, m map[string]any, dotted string) any {
	t.Helper()
	var v any = m
	for _, k := range strings.Split(dotted, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %v is not an object", dotted, v)
		}
		v = o[k]
	}
	return v
}

func list(t testing.TB, m map[string]any, dotted string) []any {
	t.Helper()
	v, ok := at(t, m, dotted).([]any)
	if !ok {
		t.Fatalf("%s = %v, want a list", dotted, at(t, m, dotted))
	}
	return v
}

// serveDispatch runs the real dispatch behind a real emulator push
// subscription on the dispatch topic, sending through the fixture's
// sandbox.
func serveDispatch(t *testing.T, f *fixture) {
	t.Helper()
	d := dispatch.New(f.Store, f.Catalog, f.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	f.Push(t, apptest.Topic, d.HandleEvent)
}
