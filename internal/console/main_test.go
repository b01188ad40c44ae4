package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/admin"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/console"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/webhook"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// sessionKey signs the test consoles' cookies.
var sessionKey = []byte("console-test-session-key-32-bytes-long")

// callbacksTopic is where the stack's console replays dead letters.
const callbacksTopic = "callbacks"

// stack is the gateway's real parts on one test's emulator project, as
// the dev stack wires them: the Atom API and accept path, Pub/Sub push to
// dispatch and fanout, the sandbox posting signed webhooks to the
// whatsapp handler, and the console mounted at /console/ as the front
// door mounts it, replaying dead letters to the callbacks topic.
type stack struct {
	*apptest.Env
	batches *batch.Service
	srv     *httptest.Server
	console string // the console's URL, with its trailing slash
}

const appSecret, verifyToken = "console-app-secret", "console-verify-token"

func newStack(t *testing.T) *stack {
	t.Helper()
	e := apptest.New(t)
	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	e.Push(t, apptest.Topic, d.HandleEvent)
	fanout := e.TopicPublisher(t, batch.DefaultTopic)
	e.Push(t, batch.DefaultTopic, batch.NewWorker(e.Store, e.Publisher, nil).HandleEvent)
	hook := httptest.NewServer(webhook.New(webhook.Config{VerifyToken: verifyToken, AppSecret: appSecret}, e.Catalog, e.Store, nil).Handler())
	t.Cleanup(hook.Close)
	e.Sandbox.SetWebhook(hook.URL+"/", appSecret)

	send := accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{Wait: -1})
	b := batch.New(send, e.Store, fanout, batch.Options{})
	callbacks := e.TopicPublisher(t, callbacksTopic)
	c, err := console.New(console.Config{SessionKey: sessionKey, SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour},
		console.Deps{Auth: e.Catalog, Store: e.Store, Broadcasts: b, Sync: templateSync{e}, Dispatch: e.Publisher, Callbacks: callbacks})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", http.StripPrefix("/console", c.Handler()))
	mux.Handle("/templates/", http.StripPrefix("/templates", atom.New(e.Catalog, e.Store, send).Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &stack{Env: e, batches: b, srv: srv, console: srv.URL + "/console/"}
}

// templateSync is the CLI's template sync against the sandbox, as internal/app
// wires it.
type templateSync struct{ e *apptest.Env }

func (s templateSync) SyncTemplates(ctx context.Context, tenant string) (console.SyncResult, error) {
	rep, err := admin.SyncTemplates(ctx, s.e.Store, s.e.Provider, secret.Env{}, tenant, "")
	return console.SyncResult{Added: rep.Added, Updated: rep.Updated, Unchanged: rep.Unchanged, NotApproved: rep.NotApproved}, err
}

// send posts one Atom send and returns its message id.
func (s *stack) send(t *testing.T, phone string) string {
	t.Helper()
	body := `{"templateId":"welcome","phoneNumber":"` + phone + `","firstName":"Maria","params":{"1":"Maria","2":"templategw"}}`
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/templates/", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Success bool
		Data    struct {
			MessageID string `json:"message_id"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || !a.Success || a.Data.MessageID == "" {
		t.Fatalf("send: %s %+v %v", resp.Status, a, err)
	}
	return a.Data.MessageID
}

// browser is an HTTP client that keeps cookies and does not follow
// redirects, so a test sees each answer as a browser gets it.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get fetches a console page and returns its status, body and Location.
func get(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("Location")
}

// post submits a form and returns its status, body and Location.
func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("Location")
}

// csrfOf is the value of the first csrf field of a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no csrf field in:\n%s", page)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// signIn signs c in with token and returns the overview page.
func (s *stack) signIn(t *testing.T, c *http.Client, token string) string {
	t.Helper()
	_, page, _ := get(t, c, s.console+"signin")
	code, body, loc := post(t, c, s.console+"signin", url.Values{"csrf": {csrfOf(t, page)}, "token": {token}})
	if code != http.StatusSeeOther || loc != "./" {
		t.Fatalf("sign in: %d %q\n%s", code, loc, body)
	}
	code, body, _ = get(t, c, s.console)
	if code != http.StatusOK {
		t.Fatalf("overview after sign-in: %d\n%s", code, body)
	}
	return body
}

// unknownMessage stores a message of the demo tenant to phone whose
// attempt's outcome was lost and left for a person, as dispatch leaves it
// under the hold policy: the sandbox's unknown outcomes settle themselves
// through their webhooks, too soon for a page to catch them unknown.
func (s *stack) unknownMessage(t *testing.T, phone string) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	tpl := domain.TemplateMessage{Name: "welcome", Language: domain.Language{Code: "pt_BR"},
		Components: []domain.Component{{Type: "body", Parameters: []domain.Parameter{{Type: "text", Text: "Ana"}, {Type: "text", Text: "templategw"}}}}}
	m := domain.NewMessage(store.NewID(), s.Tenant, "main", phone, "welcome", tpl, now)
	if _, err := s.Store.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Store.Claim(ctx, s.Tenant, m.ID, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Store.Settle(ctx, s.Tenant, m.ID, m.Attempts, func(m *domain.Message, _ domain.Conversation) error {
		return m.MarkUnknown(&domain.MessageError{Title: "no answer after the request was sent"}, now, time.Hour)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.KeepUnknown(ctx, s.Tenant, m.ID); err != nil {
		t.Fatal(err)
	}
	return m.ID
}
