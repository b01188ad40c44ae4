package console_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// Sign-in takes a valid token and a form this console issued; the token
// never comes back in a page, a header or a cookie; sign-out ends the
// session for every copy of its cookie.
func TestSignInAndOut(t *testing.T) {
	s := newStack(t)
	c := browser(t)

	code, _, loc := get(t, c, s.console+"messages")
	if code != http.StatusSeeOther || loc != "./signin" {
		t.Fatalf("a page without a session: %d %q, want 303 to ./signin", code, loc)
	}
	if code, _, _ := get(t, c, s.console+"overview.json"); code != http.StatusUnauthorized {
		t.Errorf("figures without a session: %d, want 401", code)
	}

	_, page, _ := get(t, c, s.console+"signin")
	csrf := csrfOf(t, page)
	if code, _, _ := post(t, c, s.console+"signin", url.Values{"csrf": {csrf + "x"}, "token": {apptest.Token}}); code != http.StatusForbidden {
		t.Errorf("sign-in with a forged form token: %d, want 403", code)
	}
	if code, body, _ := post(t, browser(t), s.console+"signin", url.Values{"csrf": {csrf}, "token": {apptest.Token}}); code != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Errorf("sign-in from a browser without the form's cookie: %d, want 403", code)
	}
	_, page, _ = get(t, c, s.console+"signin")
	if code, body, _ := post(t, c, s.console+"signin", url.Values{"csrf": {csrfOf(t, page)}, "token": {"wrong-token"}}); code != http.StatusUnauthorized || !strings.Contains(body, "not valid") {
		t.Errorf("sign-in with a wrong token: %d, want 401 saying so", code)
	}

	overview := s.signIn(t, c, apptest.Token)
	if !strings.Contains(overview, "<h1>Overview</h1>") || !strings.Contains(overview, s.Tenant) {
		t.Fatalf("overview:\n%s", overview)
	}
	u, _ := url.Parse(s.console)
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if strings.Contains(ck.Value, apptest.Token) {
			t.Errorf("cookie %s holds the token", ck.Name)
		}
		if ck.Name == "templategw_console" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	for _, p := range []string{"", "messages", "broadcasts", "templates", "contacts", "channels"} {
		code, body, _ := get(t, c, s.console+p)
		if code != http.StatusOK || strings.Contains(body, apptest.Token) {
			t.Errorf("/%s: %d, or the page shows the token", p, code)
		}
	}

	// A form without the session's CSRF token changes nothing.
	if code, _, _ := post(t, c, s.console+"signout", nil); code != http.StatusForbidden {
		t.Errorf("sign-out without the CSRF token: %d, want 403", code)
	}
	if code, _, _ := get(t, c, s.console); code != http.StatusOK {
		t.Fatalf("the refused sign-out ended the session: %d", code)
	}
	code, _, loc = post(t, c, s.console+"signout", url.Values{"csrf": {csrfOf(t, overview)}})
	if code != http.StatusSeeOther || loc != "signin" {
		t.Fatalf("sign-out: %d %q", code, loc)
	}
	// The old cookie, replayed by anyone who kept a copy, is refused.
	replay := browser(t)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: session.Name, Value: session.Value, Path: "/"}})
	if code, _, loc := get(t, replay, s.console); code != http.StatusSeeOther || loc != "./signin" {
		t.Errorf("the signed-out cookie: %d %q, want 303 to ./signin", code, loc)
	}
}

// A session ends when the token that opened it is revoked, and a cookie
// this console did not sign is refused before anything is read.
func TestSessionsFollowTheirToken(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	const other = "console-revoked-token"
	grant, err := s.Store.Token(ctx, store.HashToken(apptest.Token))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PutToken(ctx, other, grant); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	s.signIn(t, c, other)
	if _, err := s.Store.RevokeToken(ctx, store.HashToken(other)); err != nil {
		t.Fatal(err)
	}
	if code, _, loc := get(t, c, s.console+"contacts"); code != http.StatusSeeOther || loc != "./signin" {
		t.Errorf("after the token's revocation: %d %q, want 303 to ./signin", code, loc)
	}

	forged := browser(t)
	u, _ := url.Parse(s.console)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: "templategw_console", Value: "ZGVtbw.abc.def", Path: "/"}})
	if code, _, _ := get(t, forged, s.console); code != http.StatusSeeOther {
		t.Errorf("a forged cookie: %d, want 303", code)
	}
}

// The message search checks its fields before it queries, and each
// filter (and their combinations) finds what it should.
func TestMessageSearch(t *testing.T) {
	s := newStack(t)
	first := s.send(t, "5511987650401")
	s.WaitStatus(t, first, domain.StatusRead)
	c := browser(t)
	s.signIn(t, c, apptest.Token)
	code, figures, _ := get(t, c, s.console+"overview.json")
	for _, want := range []string{`"today.read":"1"`, `"month.read":"1"`, `"today.total":"1"`, `"today.read-rate":"100.0 %"`, `"today.failed":"0"`} {
		if code != http.StatusOK || !strings.Contains(figures, want) {
			t.Errorf("overview figures lack %s: %d %s", want, code, figures)
		}
	}

	for q, want := range map[string]int{
		"phone=55+119": http.StatusBadRequest, "status=lost": http.StatusBadRequest, "from=yesterday": http.StatusBadRequest,
		"from=2030-01-02&to=2030-01-01": http.StatusBadRequest,
	} {
		if code, body, _ := get(t, c, s.console+"messages?"+strings.ReplaceAll(q, " ", "%20")); code != want || !strings.Contains(body, "The search was not run") {
			t.Errorf("?%s: %d, want %d naming the problem", q, code, want)
		}
	}
	today := time.Now().UTC().Format("2006-01-02")
	for _, q := range []string{
		"phone=5511987650401", "status=read", "template=welcome", "from=" + today, "to=" + today,
		"phone=5511987650401&status=read", "phone=5511987650401&template=welcome", "template=welcome&status=read",
		"phone=5511987650401&status=read&template=welcome&from=" + today + "&to=" + today,
	} {
		code, body, _ := get(t, c, s.console+"messages?"+q)
		if code != http.StatusOK || !strings.Contains(body, "messages/"+first) {
			t.Errorf("?%s: %d, the message is not listed", q, code)
		}
	}
	for _, q := range []string{"phone=5511987650499", "status=failed", "template=promo", "to=2001-01-01"} {
		code, body, _ := get(t, c, s.console+"messages?"+q)
		if code != http.StatusOK || strings.Contains(body, "messages/"+first) {
			t.Errorf("?%s: %d, lists a message it does not match", q, code)
		}
	}
	code, body, _ := get(t, c, s.console+"messages/"+first)
	for _, want := range []string{"read", "accepted", "pending", "delivered", "wamid.", "5511987650401"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("message page: %d, no %q", code, want)
		}
	}
	code, body, _ = get(t, c, s.console+"contacts/5511987650401")
	if code != http.StatusOK || !strings.Contains(body, "open until") || !strings.Contains(body, "messages/"+first) {
		t.Errorf("contact page: %d, no open conversation or message:\n%s", code, body)
	}
	if code, _, _ := get(t, c, s.console+"messages/not-a-message"); code != http.StatusNotFound {
		t.Errorf("an unknown message: %d, want 404", code)
	}
}

// The console's actions change state only through a form that carries
// the session's CSRF token and, where they cannot be undone, a ticked
// confirmation: resolving an unknown message (the store call the CLI's
// messages resolve makes, a resend handed to dispatch) and opting a
// contact out of marketing and back in.
func TestResolveAndOptOut(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := browser(t)
	csrf := csrfOf(t, s.signIn(t, c, apptest.Token))
	failed, resend := s.unknownMessage(t, "5511987650601"), s.unknownMessage(t, "5511987650602")

	// Another tenant's operator, naming this tenant's ids, finds nothing
	// to change: the tenant comes from the session, never the form.
	grant, err := s.Store.Token(ctx, store.HashToken(apptest.Token))
	if err != nil {
		t.Fatal(err)
	}
	grant.Tenant = "console-other"
	if err := s.Store.PutTenant(ctx, domain.Tenant{ID: grant.Tenant, Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PutToken(ctx, "console-other-token", grant); err != nil {
		t.Fatal(err)
	}
	other := browser(t)
	otherCSRF := csrfOf(t, s.signIn(t, other, "console-other-token"))
	code := s.broadcast(t, []string{"5511987650611"}, time.Now().Add(time.Hour))
	for path, f := range map[string]url.Values{
		"messages/" + failed + "/resolve": {"as": {"failed"}},
		"contacts/5511987650601/opt-out":  {},
		"broadcasts/" + code + "/cancel":  {},
		"broadcasts/" + code + "/pause":   {},
	} {
		f.Set("csrf", otherCSRF)
		f.Set("confirm", "yes")
		if code, _, _ := post(t, other, s.console+path, f); code != http.StatusNotFound {
			t.Errorf("another tenant's %s: %d, want 404", path, code)
		}
	}
	if p, _ := s.batches.Progress(ctx, s.Tenant, code); p.State != domain.BatchScheduled {
		t.Errorf("another tenant's forms changed the broadcast: %s", p.State)
	}

	_, page, _ := get(t, c, s.console+"messages/"+failed)
	if !strings.Contains(page, `action="../messages/`+failed+`/resolve"`) {
		t.Fatalf("an unknown message's page offers no resolution:\n%s", page)
	}
	for _, f := range []url.Values{
		{"as": {"failed"}, "confirm": {"yes"}},               // no CSRF token
		{"csrf": {csrf}, "as": {"failed"}},                   // not confirmed
		{"csrf": {csrf}, "as": {"read"}, "confirm": {"yes"}}, // no settlement
	} {
		if code, _, _ := post(t, c, s.console+"messages/"+failed+"/resolve", f); code != http.StatusForbidden && code != http.StatusBadRequest {
			t.Errorf("resolve %v: %d, want a refusal", f, code)
		}
	}
	if m, _ := s.Store.Message(ctx, s.Tenant, failed); m.Status != domain.StatusUnknown {
		t.Fatalf("a refused form changed the message: %s", m.Status)
	}
	status, _, loc := post(t, c, s.console+"messages/"+failed+"/resolve", url.Values{"csrf": {csrf}, "as": {"failed"}, "confirm": {"yes"}})
	if status != http.StatusSeeOther || loc != "../"+failed+"?done=failed" {
		t.Fatalf("resolve as failed: %d %q", status, loc)
	}
	if m, _ := s.Store.Message(ctx, s.Tenant, failed); m.Status != domain.StatusFailed || m.Error == nil || m.Error.Title != domain.SettledByOperator {
		t.Errorf("resolved as failed, the message is %s %+v", m.Status, m.Error)
	}
	if _, page, _ := get(t, c, s.console+"messages/"+failed+"?done=failed"); !strings.Contains(page, "resolved as failed") || strings.Contains(page, "/resolve") {
		t.Errorf("the resolved message's page:\n%s", page)
	}
	if code, _, _ := post(t, c, s.console+"messages/"+failed+"/resolve", url.Values{"csrf": {csrf}, "as": {"sent"}, "confirm": {"yes"}}); code != http.StatusConflict {
		t.Errorf("resolving a failed message: %d, want 409", code)
	}
	if code, _, _ := post(t, c, s.console+"messages/nope/resolve", url.Values{"csrf": {csrf}, "as": {"sent"}, "confirm": {"yes"}}); code != http.StatusNotFound {
		t.Errorf("resolving no message: %d, want 404", code)
	}
	// A resend goes back to dispatch, which sends it through the sandbox.
	if code, _, _ := post(t, c, s.console+"messages/"+resend+"/resolve", url.Values{"csrf": {csrf}, "as": {"resend"}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Fatalf("resolve as resend: %d", code)
	}
	s.WaitStatus(t, resend, domain.StatusRead)

	const phone = "5511987650601"
	contact := s.console + "contacts/" + phone
	if code, _, _ := post(t, c, contact+"/opt-out", nil); code != http.StatusForbidden {
		t.Errorf("opt-out without the CSRF token: %d, want 403", code)
	}
	if code, _, loc := post(t, c, contact+"/opt-out", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther || loc != "../"+phone+"?done=opt-out" {
		t.Fatalf("opt-out: %d %q", code, loc)
	}
	ct, err := s.Store.Contact(ctx, s.Tenant, phone)
	if err != nil || !ct.Marketing.Out || ct.Marketing.Source != domain.OptOutByOperator {
		t.Fatalf("after opt-out the contact is %+v %v", ct.Marketing, err)
	}
	if _, page, _ := get(t, c, contact+"?done=opt-out"); !strings.Contains(page, "opted out of marketing") || !strings.Contains(page, "/opt-in") {
		t.Errorf("the opted-out contact's page:\n%s", page)
	}
	if code, _, _ := post(t, c, contact+"/opt-in", url.Values{"csrf": {csrf}}); code != http.StatusBadRequest {
		t.Errorf("opt-in without its confirmation: %d, want 400", code)
	}
	if code, _, _ := post(t, c, contact+"/opt-in", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Errorf("opt-in: %d", code)
	}
	if ct, _ := s.Store.Contact(ctx, s.Tenant, phone); ct.Marketing.Out {
		t.Errorf("after opt-in the contact is still opted out")
	}
	// A form cannot create a contact.
	if code, _, _ := post(t, c, s.console+"contacts/5511987650699/opt-out", url.Values{"csrf": {csrf}}); code != http.StatusNotFound {
		t.Errorf("opt-out of no contact: %d, want 404", code)
	}
	if _, err := s.Store.Contact(ctx, s.Tenant, "5511987650699"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused opt-out stored the contact: %v", err)
	}
}
