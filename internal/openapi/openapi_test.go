package openapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/batches"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/openapi"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/wati"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// specFile is docs/openapi.yaml from this package's directory, where go
// test runs.
const specFile = "../../docs/openapi.yaml"

// frontDoor is the dev stack's server of the description: requests are
// addressed to it, as a client of the dev stack addresses them, so the
// router matches them the way it matches a client's.
const frontDoor = "http://127.0.0.1:8080"

// description loads and validates the spec and builds its router.
func description(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi.Load(context.Background(), specFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router over the description: %v", err)
	}
	return doc, r
}

func TestDescriptionIsValidOpenAPI31(t *testing.T) {
	doc, _ := description(t)
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	for path, item := range doc.Paths.Map() {
		if !slices.Contains(openapi.Functions, openapi.FunctionOf(path)) {
			t.Errorf("%s is under no function of %v", path, openapi.Functions)
		}
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if op.Security == nil || len(*op.Security) == 0 {
				t.Errorf("%s %s names no credential: every route authenticates", method, path)
			}
		}
	}
}

func TestPathOf(t *testing.T) {
	for _, c := range []struct{ function, route, want string }{
		{"templates", "/", "/templates"},
		{"templates", "/{templateId}", "/templates/{templateId}"},
		{"wati", "/{tenantId}/api/v1/getMessages/{whatsappNumber}", "/wati/{tenantId}/api/v1/getMessages/{whatsappNumber}"},
		{"messages", "/{messageId:[a-z0-9]+}", "/messages/{messageId}"},
	} {
		if got := openapi.PathOf(c.function, c.route); got != c.want {
			t.Errorf("PathOf(%q, %q) = %q, want %q", c.function, c.route, got, c.want)
		}
	}
}

// gateway is the four functions on the emulators, with the real dispatch
// behind a push subscription so sends move on as they do when deployed.
type gateway struct {
	*apptest.Env
	doc      *openapi3.T
	router   routers.Router
	handlers map[string]http.Handler
}

func newGateway(t *testing.T) *gateway {
	t.Helper()
	e := apptest.New(t)
	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	e.Push(t, apptest.Topic, d.HandleEvent)
	g := &gateway{Env: e, handlers: functions(t, e)}
	g.doc, g.router = description(t)
	return g
}

// functions builds each function's handler as internal/app does; the wati
// function never waits for dispatch's outcome, as deployed.
func functions(t testing.TB, e *apptest.Env) map[string]http.Handler {
	// The dialects' own tests keep the deployed 5 s bound;
	// here the answer into an open conversation only has to be Sent, on
	// a machine that may be running every other package's emulators.
	send := accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{Wait: 20 * time.Second})
	noWait := accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{Wait: -1})
	bulk := batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, e.TopicPublisher(t, "fanout"), batch.Options{})
	return map[string]http.Handler{
		"templates": atom.New(e.Catalog, e.Store, send).Handler(),
		"messages":  messages.New(e.Catalog, e.Store).Handler(),
		"batches":   batches.New(e.Catalog, bulk).Handler(),
		"cloudchat": cloudchat.New(e.Catalog, send).Handler(),
		"wati":      wati.New(e.Catalog, e.Store, noWait, bulk, wati.Options{}).Handler(),
	}
}

func TestRoutesMatchDescription(t *testing.T) {
	e := apptest.New(t)
	doc, _ := description(t)
	served := map[string]bool{}
	for name, h := range functions(t, e) {
		routes, ok := h.(chi.Routes)
		if !ok {
			t.Fatalf("the %s handler is a %T, not a chi router to walk", name, h)
		}
		err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			served[method+" "+openapi.PathOf(name, route)] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	for r := range served {
		if !described[r] {
			t.Errorf("%s is served but not in %s", r, specFile)
		}
	}
	for r := range described {
		if !served[r] {
			t.Errorf("%s is in %s but no function serves it", r, specFile)
		}
	}
	if len(served) == 0 {
		t.Fatal("walked no routes")
	}
}

// exchange is one request through the front door and the answer it must
// get.
type exchange struct {
	name   string
	method string
	path   string   // as a client addresses it: /<function>/..., query included
	header []string // name, value pairs
	body   string
	status int
	// refused marks a request that breaks the description on purpose (no
	// credential, a bad body): the description must refuse it too, and
	// the function's answer must still be one the description documents.
	refused bool
}

// do checks x's request against the description, serves it to its
// function as the front door does (/<function>/rest becomes /rest), and
// checks the answer's code and that the description documents it exactly.
func (g *gateway) do(t *testing.T, x exchange) *httptest.ResponseRecorder {
	t.Helper()
	// An empty answer stands in when the subtest stops early, so callers
	// reading it fail on its content rather than crash.
	w := httptest.NewRecorder()
	t.Run(x.name, func(t *testing.T) {
		in, err := validateRequest(g.router, x)
		switch {
		case in == nil:
			t.Fatal(err)
		case x.refused && err == nil:
			t.Errorf("the description accepts a request this test makes invalid: %s %s %.200s", x.method, x.path, x.body)
		case !x.refused && err != nil:
			t.Errorf("the description refuses the request: %v", err)
		}
		path, _, _ := strings.Cut(x.path, "?")
		function := openapi.FunctionOf(path)
		h := g.handlers[function]
		if h == nil {
			t.Fatalf("no function %q", function)
		}
		rest := strings.TrimPrefix(x.path, "/"+function)
		if !strings.HasPrefix(rest, "/") {
			rest = "/" + rest
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, newRequest(x.method, rest, x))
		if w.Code != x.status {
			t.Errorf("status %d, want %d; body %.500s", w.Code, x.status, w.Body.String())
		}
		if err := validateResponse(in, w.Code, w.Header(), w.Body.Bytes()); err != nil {
			t.Errorf("the answer %d %.500s does not match the description: %v", w.Code, w.Body.String(), err)
		}
	})
	return w
}

// newRequest is x's request addressed to target.
func newRequest(method, target string, x exchange) *http.Request {
	var body io.Reader = http.NoBody
	if x.body != "" {
		body = strings.NewReader(x.body)
	}
	r := httptest.NewRequest(method, target, body)
	if x.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(x.header); i += 2 {
		r.Header.Set(x.header[i], x.header[i+1])
	}
	return r
}

// validateRequest finds x's operation and validates the request against
// it. The input is nil only when no operation matches; otherwise it is
// returned with the validation's verdict, for validateResponse.
func validateRequest(router routers.Router, x exchange) (*openapi3filter.RequestValidationInput, error) {
	r := newRequest(x.method, frontDoor+x.path, x)
	route, params, err := router.FindRoute(r)
	if err != nil {
		return nil, fmt.Errorf("%s %s matches no operation of the description: %w", x.method, x.path, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: credentialGiven, MultiError: true},
	}
	return in, openapi3filter.ValidateRequest(context.Background(), in)
}

// validateResponse validates an answer against the operation of in. An
// undocumented status fails too: the description lists every code a
// function answers.
func validateResponse(in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) error {
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// credentialGiven checks that a request carries the credential a security
// scheme names. Whether the token is good is the function's business; the
// description only says where it goes.
func credentialGiven(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s, h := in.SecurityScheme, in.RequestValidationInput.Request.Header
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		a := h.Get("Authorization")
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") && strings.TrimSpace(a[7:]) != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "header":
		if strings.TrimSpace(h.Get(s.Name)) != "" {
			return nil
		}
	default:
		return fmt.Errorf("scheme %s: type %q is not one this test checks", in.SecuritySchemeName, s.Type)
	}
	return fmt.Errorf("no credential for scheme %s", in.SecuritySchemeName)
}

// bearer is an Authorization header with token.
func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// jsonAt reads a dotted path ("data.message_id", "model.ids.0") of a JSON
// answer.
func jsonAt(t testing.TB, w *httptest.ResponseRecorder, dotted string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %q is not JSON: %v", w.Body.String(), err)
	}
	for _, k := range strings.Split(dotted, ".") {
		switch c := v.(type) {
		case map[string]any:
			v = c[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i < 0 || i >= len(c) {
				t.Fatalf("%s: no element %s in %s", dotted, k, w.Body.String())
			}
			v = c[i]
		default:
			t.Fatalf("%s: %v is not an object or list", dotted, v)
		}
	}
	return v
}

func jsonString(t testing.TB, w *httptest.ResponseRecorder, dotted string) string {
	t.Helper()
	s, ok := jsonAt(t, w, dotted).(string)
	if !ok || s == "" {
		t.Fatalf("%s of %s is not a non-empty string", dotted, w.Body.String())
	}
	return s
}

// TestDescriptionRejectsWrongAnswers proves the checks above can fail:
// answers and requests that differ from the description in one way each
// are refused by the validator.
func TestDescriptionRejectsWrongAnswers(t *testing.T) {
	_, router := description(t)
	send := exchange{method: http.MethodPost, path: "/templates", header: bearer("t"),
		body: `{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":"Maria","2":"templategw"}}`}
	in, err := validateRequest(router, send)
	if err != nil {
		t.Fatalf("a seed 000 send is refused: %v", err)
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	good := `{"success":true,"message":"Pending","data":{"message_id":"z6z7cuinnwjrizeqop55vjrg"}}`
	if err := validateResponse(in, http.StatusAccepted, jsonHeader, []byte(good)); err != nil {
		t.Fatalf("the good answer is refused: %v", err)
	}
	for _, c := range []struct {
		name   string
		status int
		header http.Header
		body   string
	}{
		{"no data", http.StatusAccepted, jsonHeader, `{"success":true,"message":"Pending"}`},
		{"success as a string", http.StatusAccepted, jsonHeader, `{"success":"true","message":"Pending","data":{"message_id":"m"}}`},
		{"Sent on a 202", http.StatusAccepted, jsonHeader, `{"success":true,"message":"Sent","data":{"message_id":"m","conversation_id":"c"}}`},
		{"an extra key", http.StatusAccepted, jsonHeader, `{"success":true,"message":"Pending","data":{"message_id":"m"},"extra":1}`},
		{"an error with success true", http.StatusBadRequest, jsonHeader, `{"success":true,"message":"invalid fields"}`},
		{"an undocumented status", http.StatusTeapot, jsonHeader, good},
		{"not JSON", http.StatusAccepted, http.Header{"Content-Type": {"text/plain"}}, "Pending"},
	} {
		if err := validateResponse(in, c.status, c.header, []byte(c.body)); err == nil {
			t.Errorf("%s: the description accepts %d %s", c.name, c.status, c.body)
		}
	}

	// A Wati 401 must name its scheme in WWW-Authenticate.
	in, _ = validateRequest(router, exchange{method: http.MethodGet, path: "/wati/demo/api/v1/getContacts"})
	if in == nil {
		t.Fatal("getContacts matches no operation")
	}
	if err := validateResponse(in, http.StatusUnauthorized, jsonHeader, []byte(`{"result":false,"info":"incorrect token"}`)); err == nil {
		t.Error("the description accepts a Wati 401 without WWW-Authenticate")
	}

	for _, x := range []exchange{
		{name: "templateId as a number", method: http.MethodPost, path: "/templates", header: bearer("t"), body: `{"templateId":5,"phoneNumber":"50755667788"}`},
		{name: "no credential", method: http.MethodGet, path: "/messages"},
		{name: "a CloudChat token as a bearer", method: http.MethodPost, header: bearer("t"),
			path: "/cloudchat/api/v1/accounts/demo/conversations/create_proactive_whatsapp_conversation",
			body: `{"inbox_id":"main","phone_number":"+5511987654321","template_name":"welcome"}`},
	} {
		in, err := validateRequest(router, x)
		if in == nil {
			t.Fatalf("%s: %v", x.name, err)
		}
		if err == nil {
			t.Errorf("%s: the description accepts the request", x.name)
		}
	}
	var re *routers.RouteError
	if _, err := validateRequest(router, exchange{method: http.MethodDelete, path: "/templates/welcome"}); !errors.As(err, &re) {
		t.Errorf("DELETE /templates/welcome: %v, want a route error", err)
	}
}
