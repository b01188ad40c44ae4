package security_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/console"
	"github.com/templategw/templategw/internal/store"
)

// fnConsole is the web console, as function.go registers it.
const fnConsole = "console"

// consoleKey signs the test console's cookies.
var consoleKey = []byte("security-console-session-key-0123456789")

// withConsole adds the console to the gateway's functions, on its
// recorded store.
func withConsole(t *testing.T, g *gateway) {
	t.Helper()
	bulk := batch.New(accept.New(g.cat, g.st, g.Publisher, accept.Options{}), g.st, g.TopicPublisher(t, batch.DefaultTopic), batch.Options{})
	c, err := console.New(console.Config{SessionKey: consoleKey, SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour},
		console.Deps{Auth: g.cat, Store: g.st, Broadcasts: bulk, Callbacks: g.TopicPublisher(t, "callbacks")})
	if err != nil {
		t.Fatal(err)
	}
	g.handlers[fnConsole] = c.Handler()
}

// consoleSession signs in with token and returns the session cookie and
// the session's CSRF token.
func consoleSession(t *testing.T, g *gateway, token string) (*http.Cookie, string) {
	t.Helper()
	w, _ := g.serveRequest(t, fnConsole, httptest.NewRequest(http.MethodGet, "/signin", nil))
	nonce := cookieNamed(w.Result().Cookies(), "templategw_console_signin")
	form := url.Values{"csrf": {formCSRF(t, w.Body.String())}, "token": {token}}
	r := httptest.NewRequest(http.MethodPost, "/signin", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(nonce)
	w, _ = g.serveRequest(t, fnConsole, r)
	session := cookieNamed(w.Result().Cookies(), "templategw_console")
	if w.Code != http.StatusSeeOther || session == nil {
		t.Fatalf("sign in: %d %s", w.Code, w.Body.String())
	}
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(session)
	w, _ = g.serveRequest(t, fnConsole, r)
	return session, formCSRF(t, w.Body.String())
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name && c.Value != "" {
			return c
		}
	}
	return nil
}

func formCSRF(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no csrf field in:\n%s", page)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// victimDeadLetter is the id of the victim's dead letter: the event id of
// its first message's first status change.
func victimDeadLetter(v victimData) string { return v.messageIDs[0] + ".1" }

// seedVictimDeadLetters gives the victim two dead letters, as the
// callbacks function records them on a job's last attempt, and returns
// the page token of the second in the victim's own listing.
func seedVictimDeadLetters(t *testing.T, g *gateway, v victimData) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for i, id := range []string{v.messageIDs[1] + ".1", victimDeadLetter(v)} {
		job := `{"tenant":"` + victim + `","url":"https://hooks.example.com/in?key=` + victimClient + `","event":{"id":"` + id + `"}}`
		err := g.Store.RecordDeadLetter(ctx, victim, store.DeadLetter{ID: id, Kind: store.DeadLetterCallback, EventType: "message.status",
			Host: "https://hooks.example.com", Error: "answered 500", Attempts: 10, At: now.Add(time.Duration(i) * time.Second), Job: []byte(job)})
		if err != nil {
			t.Fatal(err)
		}
	}
	_, next, err := g.Store.DeadLetters(ctx, victim, 1, "")
	if err != nil || next == "" {
		t.Fatalf("the victim's dead letters have one page: %v", err)
	}
	return next
}

// consoleRoutes are every route of the console that shows or changes a
// tenant's data, each naming the victim's ids where it takes one.
func consoleRoutes(v victimData) []struct{ method, path string } {
	return []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/overview.json"},
		{http.MethodGet, "/messages?phone=" + victimPhone},
		{http.MethodGet, "/messages?template=" + victimTemplate},
		{http.MethodGet, "/messages/" + v.messageIDs[0]},
		{http.MethodGet, "/broadcasts"},
		{http.MethodGet, "/broadcasts/" + victimBatch},
		{http.MethodGet, "/broadcasts/" + victimBatch + "/progress.json"},
		{http.MethodGet, "/broadcasts/" + victimBatch + "/recipients.csv"},
		{http.MethodPost, "/broadcasts/" + victimBatch + "/pause"},
		{http.MethodPost, "/broadcasts/" + victimBatch + "/cancel"},
		{http.MethodGet, "/templates"},
		{http.MethodPost, "/templates/sync"},
		{http.MethodGet, "/contacts"},
		{http.MethodGet, "/contacts?phone=" + victimPhone},
		{http.MethodGet, "/contacts/" + victimPhone},
		{http.MethodPost, "/contacts/" + victimPhone + "/opt-out"},
		{http.MethodPost, "/contacts/" + victimPhone + "/opt-in"},
		{http.MethodPost, "/messages/" + v.messageIDs[0] + "/resolve"},
		{http.MethodPost, "/broadcasts/" + victimBatch + "/resume"},
		{http.MethodGet, "/channels"},
		{http.MethodGet, "/channels?deadletters=" + v.deadLetterPage},
		{http.MethodPost, "/deadletters/" + victimDeadLetter(v) + "/replay"},
		{http.MethodPost, "/signout"},
	}
}

// TestConsoleShowsAnotherTenantNothing: signed in to the console as
// another tenant, every page and form naming the victim's message ids,
// phone number, template and broadcast code finds nothing of the victim's:
// no Firestore RPC names a path under tenants/{victim} or its token, no
// value only the victim holds is in the page, and none of its documents
// changes.
func TestConsoleShowsAnotherTenantNothing(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	withConsole(t, g)
	v := seedVictim(t, g)
	v.deadLetterPage = seedVictimDeadLetters(t, g, v)
	routes := consoleRoutes(v)
	attackers := seedAttackers(t, g, len(routes))
	before := victimSnapshot(t, g, v)
	for i, rt := range routes {
		a := attackers[i]
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			session, csrf := consoleSession(t, g, a.token)
			var body *strings.Reader
			if rt.method == http.MethodPost {
				body = strings.NewReader(url.Values{"csrf": {csrf}}.Encode())
			} else {
				body = strings.NewReader("")
			}
			r := httptest.NewRequest(rt.method, rt.path, body)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(session)
			w, rpcs := g.serveRequest(t, fnConsole, r)
			if w.Code >= 500 {
				t.Errorf("%d %s", w.Code, w.Body.String())
			}
			if strings.Contains(rt.path, victimBatch) || strings.Contains(rt.path, v.messageIDs[0]) || strings.HasPrefix(rt.path, "/contacts/") {
				if w.Code != http.StatusNotFound {
					t.Errorf("the victim's id answered %d, want 404", w.Code)
				}
			}
			if x := touching(rpcs, victim); len(x) > 0 {
				t.Errorf("read or wrote the victim's data:%s", describe(x))
			}
			if x := touchingTopLevel(rpcs); len(x) > 0 {
				t.Errorf("read the victim's token or numbers:%s", describe(x))
			}
			for _, m := range v.markers() {
				if m != "" && !strings.Contains(rt.path, m) && strings.Contains(w.Body.String(), m) {
					t.Errorf("the page shows the victim's %q", m)
				}
			}
		})
	}
	if d := diff(before, victimSnapshot(t, g, v)); d != "" {
		t.Errorf("the console changed the victim's documents:\n  %s", d)
	}
}

// TestConsoleRefusesWithoutASession: with no session cookie, or one this
// console did not sign, every route sends a page request to sign in and
// refuses anything else with 401, before reading anything.
func TestConsoleRefusesWithoutASession(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	withConsole(t, g)
	v := seedVictim(t, g)
	session, _ := consoleSession(t, g, seedAttackers(t, g, 1)[0].token)
	tenant, rest, _ := strings.Cut(session.Value, ".")
	forged := []*http.Cookie{
		nil,
		{Name: "templategw_console", Value: "garbage"},
		// The attacker's own session id, claimed for the victim's tenant.
		{Name: "templategw_console", Value: "ZGVtbw." + rest},
		// The attacker's session, its signature cut short.
		{Name: "templategw_console", Value: tenant + "." + rest[:len(rest)-2]},
	}
	for _, rt := range consoleRoutes(v) {
		for i, c := range forged {
			r := httptest.NewRequest(rt.method, rt.path, nil)
			if c != nil {
				r.AddCookie(c)
			}
			w, rpcs := g.serveRequest(t, fnConsole, r)
			page := rt.method == http.MethodGet && !strings.HasSuffix(rt.path, ".json") && !strings.HasSuffix(rt.path, ".csv")
			switch {
			case page && (w.Code != http.StatusSeeOther || !strings.HasSuffix(w.Header().Get("Location"), "signin")):
				t.Errorf("%s %s with cookie %d: %d %q, want 303 to sign in", rt.method, rt.path, i, w.Code, w.Header().Get("Location"))
			case !page && w.Code != http.StatusUnauthorized:
				t.Errorf("%s %s with cookie %d: %d, want 401", rt.method, rt.path, i, w.Code)
			}
			if len(rpcs) > 0 {
				t.Errorf("%s %s with cookie %d read Firestore before refusing:%s", rt.method, rt.path, i, describe(rpcs))
			}
		}
	}
}
