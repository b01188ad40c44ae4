package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/admin"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/sandbox"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// The Meta side of the channels the tests add: a number of its own (the
// demo tenant apptest seeds keeps the demo's), with a WABA holding more
// templates than one page of the provider's list, some not approved.
const (
	phoneNumberID = "300000000000001"
	wabaID        = "400000000000001"
	accessToken   = "cli-test-access-token"
	displayNumber = "5511988880000"
	tokenEnv      = "TEMPLATEGW_CLI_TEST_META_TOKEN"
	bulkTemplates = 113 // with the 5 demo and 2 unapproved: 120, over the provider's page of 100
)

// wabaTemplates is the test WABA as Meta lists it.
func wabaTemplates() []domain.Template {
	ts := demo.Templates()
	for i := range bulkTemplates {
		ts = append(ts, domain.Template{Name: fmt.Sprintf("bulk_%03d", i), Language: "en_US", Category: "MARKETING",
			Status: domain.TemplateApproved, ParameterFormat: "POSITIONAL",
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Offer {{1}} ends {{2}}"}}})
	}
	return append(ts,
		domain.Template{Name: "awaiting_review", Language: "pt_BR", Category: "UTILITY", Status: "PENDING", ParameterFormat: "POSITIONAL",
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Seu pedido {{1}} saiu."}}},
		domain.Template{Name: "refused_one", Language: "pt_BR", Category: "MARKETING", Status: "REJECTED", ParameterFormat: "POSITIONAL",
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Compre {{1}}!"}}},
	)
}

// meta is a sandbox serving a WABA over real HTTP, counting template list
// calls.
type meta struct {
	*sandbox.Sandbox
	URL   string
	Pages atomic.Int32
}

func newMeta(t *testing.T, templates []domain.Template) *meta {
	t.Helper()
	m := &meta{Sandbox: sandbox.New(sandbox.Config{
		Numbers:   []sandbox.Number{{PhoneNumberID: phoneNumberID, WABAID: wabaID, AccessToken: accessToken, DisplayPhoneNumber: displayNumber, MessagesPerSecond: 1000}},
		Templates: map[string][]domain.Template{wabaID: templates},
	})}
	h := m.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/message_templates") {
			m.Pages.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(m.Close)
	m.URL = srv.URL
	return m
}

// env is one test's project on the emulators (with the demo tenant apptest
// seeds) and the CLI pointed at it.
type env struct {
	*apptest.Env
	cli *admin.CLI
}

func newEnv(t *testing.T) *env {
	t.Helper()
	t.Setenv(tokenEnv, accessToken)
	return &env{Env: apptest.New(t), cli: admin.New(admin.Options{})}
}

// run runs one admin command in the test's project.
func (e *env) run(args ...string) (string, error) {
	var out bytes.Buffer
	err := e.cli.Run(context.Background(), append(args, "--project", e.Project), &out)
	return out.String(), err
}

// must runs a command that must succeed.
func (e *env) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.run(args...)
	if err != nil {
		t.Fatalf("templategw %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// mustJSON runs a command with --json and decodes its output into v.
func (e *env) mustJSON(t *testing.T, v any, args ...string) string {
	t.Helper()
	out := e.must(t, append(args, "--json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("templategw %s --json printed %q: %v", strings.Join(args, " "), out, err)
	}
	return out
}

// atomHandler is the templates function over a catalog that caches
// nothing, so a revoked token or a synced template counts at once.
func (e *env) atomHandler() http.Handler {
	cat := catalog.New(e.Store, 0)
	return atom.New(cat, e.Store, accept.New(cat, e.Store, e.Publisher, accept.Options{})).Handler()
}

// provider is the Meta client dispatch uses, pointed at m.
func (m *meta) provider() *provider.Client {
	return provider.New(provider.Config{BaseURL: m.URL, Version: "v23.0", Timeout: 5 * time.Second}, nil)
}

// docs counts the documents of a collection path.
func (e *env) docs(t *testing.T, path string) int {
	t.Helper()
	list, err := e.Firestore.Collection(path).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// Decoded JSON outputs.
type tenantOut struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	CountryCode       string `json:"countryCode"`
	ConversationLimit int    `json:"conversationLimit"`
	ConversationHours int    `json:"conversationHours"`
	CallbackURLSet    bool   `json:"callbackUrlSet"`
	CallbackHost      string `json:"callbackHost"`
	CallbackSecret    string `json:"callbackSecret"`
	UnknownPolicy     string `json:"unknownPolicy"`
	RateLimit         int    `json:"rateLimit"`
}

type tokenOut struct {
	Token          string     `json:"token"`
	ID             string     `json:"id"`
	Prefix         string     `json:"prefix"`
	Hash           string     `json:"hash"`
	Tenant         string     `json:"tenant"`
	Integration    string     `json:"integration"`
	Scopes         []string   `json:"scopes"`
	Channels       []string   `json:"channels"`
	Groups         []string   `json:"groups"`
	DefaultChannel string     `json:"defaultChannel"`
	PendingCode    int        `json:"pendingCode"`
	CallbackURLSet bool       `json:"callbackUrlSet"`
	CreatedAt      *time.Time `json:"createdAt"`
	ExpiresAt      *time.Time `json:"expiresAt"`
	LastUsedAt     *time.Time `json:"lastUsedAt"`
	Revoked        bool       `json:"revoked"`
}

type templateOut struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Category string   `json:"category"`
	Status   string   `json:"status"`
	Params   []string `json:"params"`
	Change   string   `json:"change"`
}

type syncOut struct {
	Tenant      string        `json:"tenant"`
	Channel     string        `json:"channel"`
	WABAID      string        `json:"wabaId"`
	Added       int           `json:"added"`
	Updated     int           `json:"updated"`
	Unchanged   int           `json:"unchanged"`
	NotApproved []string      `json:"notApproved"`
	Templates   []templateOut `json:"templates"`
}

func (s syncOut) byID() map[string]templateOut {
	m := map[string]templateOut{}
	for _, t := range s.Templates {
		m[t.ID] = t
	}
	return m
}

// setUp creates a tenant with a token and the test WABA's channel through
// the CLI, and returns the tenant id and the token.
func (e *env) setUp(t *testing.T) (tenant, token string) {
	t.Helper()
	var tn tenantOut
	e.mustJSON(t, &tn, "tenant", "create", "--name", "Acme", "--country-code", "55")
	var tk tokenOut
	e.mustJSON(t, &tk, "token", "create", "--tenant", tn.ID, "--integration", "crm", "--groups", "Support")
	e.must(t, "channel", "add", "--tenant", tn.ID, "--id", "main", "--display-number", displayNumber,
		"--phone-number-id", phoneNumberID, "--waba-id", wabaID, "--secret-ref", "env:"+tokenEnv, "--default")
	return tn.ID, tk.Token
}
