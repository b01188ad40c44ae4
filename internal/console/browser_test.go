package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
)

// axeVersion is the axe-core release the pages are audited with; .ci/run
// installs the same one.
const axeVersion = "4.14.1"

// axeScript returns axe-core's browser bundle: $AXE_CORE_JS when set, else
// the copy npm installs into the user's cache directory, installing it
// there first when it is missing. No audit, no pass: a missing axe fails.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AXE_CORE_JS")
	if path == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("axe-core: no cache directory (%v): set AXE_CORE_JS to axe.min.js", err)
		}
		dir := filepath.Join(cache, "templategw", "axe-core-"+axeVersion)
		path = filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(path); err != nil {
			out, err := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", dir, "axe-core@"+axeVersion).CombinedOutput()
			if err != nil {
				t.Fatalf("axe-core is missing and npm could not install it into %s (.ci/run installs it): %v\n%s", dir, err, out)
			}
		}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return string(src)
}

// chromium starts Debian's headless Chromium, as .ci/run installs it. A
// machine without it fails the test naming the package: a browser test
// that skips proves nothing.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: apt-get update && apt-get install -y chromium (.ci/run does it)")
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	t.Cleanup(cancel)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// do runs browser actions and fails the test naming the step.
func do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// get runs one browser action that answers a value.
func value[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return v
}

// violation is one axe rule a page breaks.
type violation struct {
	ID, Impact, Help string
	Nodes            []string
}

// audit runs axe-core's WCAG 2.1 A and AA rules on the page and fails on
// any serious or critical violation; it then saves a screenshot of the
// page when CONSOLE_SCREENSHOTS=1.
func audit(t *testing.T, ctx context.Context, axe, name string) {
	t.Helper()
	value(t, ctx, "load axe-core on "+name, chromedp.Evaluate[bool](axe+";true"))
	raw := value(t, ctx, "audit "+name, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
			.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))))`,
		chromedp.EvalAwaitPromise))
	var found []violation
	if err := json.Unmarshal([]byte(raw), &found); err != nil {
		t.Fatalf("axe on %s answered %q: %v", name, raw, err)
	}
	for _, v := range found {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s breaks %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
		} else {
			t.Logf("%s: %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
		}
	}
	if os.Getenv("CONSOLE_SCREENSHOTS") != "1" {
		return
	}
	png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// title is the page's h1.
func title(t *testing.T, ctx context.Context) string {
	t.Helper()
	return value(t, ctx, "read the heading", chromedp.Text(chromedp.CSS("h1")))
}

// TestConsoleInABrowser drives the console as a person does, in headless
// Chromium: signs in, sends through the Atom API and watches the message
// reach read on its page, opens its contact and opts it out of
// marketing, resolves an unknown message as failed, walks every page
// (each audited with axe-core, as is every state an action leaves),
// replays a dead letter from the problems page, pauses and cancels a broadcast and reads its counts, exports one,
// syncs templates, signs out and is refused with the old cookie.
func TestConsoleInABrowser(t *testing.T) {
	axe := axeScript(t)
	s := newStack(t)
	ctx := chromium(t)

	do(t, ctx, "open the console", chromedp.Navigate(s.console), chromedp.WaitVisible(chromedp.CSS("#token")))
	if h := title(t, ctx); h != "Sign in" {
		t.Fatalf("without a session the console shows %q, want the sign-in page", h)
	}
	audit(t, ctx, axe, "signin")
	do(t, ctx, "sign in with a wrong token",
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("p.problem")))
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS("#token"), apptest.Token), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("nav")))
	if h := title(t, ctx); h != "Overview" {
		t.Fatalf("after sign-in: %q", h)
	}

	const phone = "5511987650777"
	id := s.send(t, phone)
	deadline := time.Now().Add(30 * time.Second)
	var state string
	for tick := time.NewTicker(200 * time.Millisecond); ; <-tick.C {
		do(t, ctx, "open the message", chromedp.Navigate(s.console+"messages/"+id))
		state = value(t, ctx, "read its state", chromedp.Text(chromedp.CSS(".facts .state")))
		if state == string(domain.StatusRead) {
			tick.Stop()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the message page still says %q after 30 s, want read", state)
		}
	}
	timeline := value(t, ctx, "read the timeline", chromedp.Text(chromedp.CSS("ol.timeline")))
	for _, st := range []string{"accepted", "dispatching", "pending", "sent", "delivered", "read"} {
		if !strings.Contains(timeline, st) {
			t.Errorf("the timeline lacks %s: %q", st, timeline)
		}
	}
	audit(t, ctx, axe, "message")

	do(t, ctx, "open the contact", chromedp.Click(chromedp.CSS(`.facts a[href*="contacts/"]`)), chromedp.WaitVisible(chromedp.CSS("#channels")))
	contact := value(t, ctx, "read the contact", chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(contact, phone) || !strings.Contains(contact, "open until") {
		t.Errorf("the contact page shows no open conversation for %s:\n%s", phone, contact)
	}
	audit(t, ctx, axe, "contact")

	do(t, ctx, "opt the contact out", chromedp.Click(chromedp.CSS(`form.marketing button`)), chromedp.WaitVisible(chromedp.CSS("p.done")))
	contact = value(t, ctx, "read the opted-out contact", chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(contact, "opted out on") || !strings.Contains(contact, "("+domain.OptOutByOperator+")") {
		t.Errorf("after opt-out the contact page says:\n%s", contact)
	}
	audit(t, ctx, axe, "contact-opted-out")

	unknown := s.unknownMessage(t, "5511987650778")
	do(t, ctx, "open the unknown message", chromedp.Navigate(s.console+"messages/"+unknown), chromedp.WaitVisible(chromedp.CSS("form.resolve")))
	if st := value(t, ctx, "read its state", chromedp.Text(chromedp.CSS(".facts .state"))); st != string(domain.StatusUnknown) {
		t.Errorf("the unknown message's page says %q", st)
	}
	audit(t, ctx, axe, "message-unknown")
	do(t, ctx, "resolve it as failed", chromedp.Click(chromedp.CSS("#as-failed")), chromedp.Click(chromedp.CSS("#resolve-confirm")),
		chromedp.Click(chromedp.CSS("form.resolve button")), chromedp.WaitVisible(chromedp.CSS("p.done")))
	if st := value(t, ctx, "read its state", chromedp.Text(chromedp.CSS(".facts .state"))); st != string(domain.StatusFailed) {
		t.Errorf("after resolving as failed the message is %q", st)
	}
	if n := value(t, ctx, "look for the resolve form", chromedp.Evaluate[int](`document.querySelectorAll("form.resolve").length`)); n != 0 {
		t.Error("a resolved message still offers to resolve it")
	}
	audit(t, ctx, axe, "message-resolved")

	// A dead letter fills the problems page's last table for its audit.
	dead := s.deadLetter(t, id, 9, time.Now())
	code := s.broadcast(t, []string{"5511987650801", "5511987650802", "55119"}, time.Time{})
	// Scheduled an hour out, this one makes no message before it is
	// cancelled: its counts are known exactly.
	later := s.broadcast(t, []string{"5511987650811", "5511987650812", "55119"}, time.Now().Add(time.Hour))
	for _, p := range []struct{ path, name, h1 string }{
		{"", "overview", "Overview"},
		{"messages", "messages", "Messages"},
		{"broadcasts", "broadcasts", "Broadcasts"},
		{"broadcasts/" + code, "broadcast", "Broadcast " + code},
		{"templates", "templates", "Templates"},
		{"contacts", "contacts", "Contacts"},
		{"channels", "channels", "Channels and problems"},
	} {
		do(t, ctx, "open "+p.name, chromedp.Navigate(s.console+p.path), chromedp.WaitVisible(chromedp.CSS("h1")))
		if h := title(t, ctx); h != p.h1 {
			t.Errorf("/%s shows %q, want %q", p.path, h, p.h1)
		}
		audit(t, ctx, axe, p.name)
	}

	do(t, ctx, "replay the dead letter", chromedp.Navigate(s.console+"channels"),
		chromedp.Click(chromedp.CSS(`form.replay button`)), chromedp.WaitVisible(chromedp.CSS(`#dead-letters ~ p.done`)))
	if page := value(t, ctx, "read the problems page", chromedp.Text(chromedp.CSS("main"))); strings.Contains(page, dead.Event.ID) || !strings.Contains(page, "No dead letters.") {
		t.Errorf("after its replay the problems page says:\n%s", page)
	}
	audit(t, ctx, axe, "channels-replayed")

	do(t, ctx, "pause the broadcast", chromedp.Navigate(s.console+"broadcasts/"+later),
		chromedp.Click(chromedp.CSS(`form[action$="/pause"] button`)), chromedp.WaitVisible(chromedp.CSS(`p.done[data-done="paused"]`)))
	st := value(t, ctx, "read its state", chromedp.Text(chromedp.CSS(`[data-figure="state"]`)))
	if st != string(domain.BatchPaused) {
		t.Errorf("after pause the broadcast is %q", st)
	}
	audit(t, ctx, axe, "broadcast-paused")
	do(t, ctx, "cancel the broadcast", chromedp.Click(chromedp.CSS("#cancel-confirm")),
		// The paused page said done too: wait for the cancelled one.
		chromedp.Click(chromedp.CSS(`form[action$="/cancel"] button`)), chromedp.WaitVisible(chromedp.CSS(`p.done[data-done="cancelled"]`)))
	st = value(t, ctx, "read its state", chromedp.Text(chromedp.CSS(`[data-figure="state"]`)))
	cancelled := value(t, ctx, "read its cancelled count", chromedp.Text(chromedp.CSS(`[data-figure="cancelled"]`)))
	refused := value(t, ctx, "read its refused count", chromedp.Text(chromedp.CSS(`[data-figure="refused"]`)))
	if st != string(domain.BatchCancelled) || cancelled != "2" || refused != "1" {
		t.Errorf("after cancel the broadcast is %q with %s cancelled and %s refused; want cancelled, 2 and 1", st, cancelled, refused)
	}
	audit(t, ctx, axe, "broadcast-cancelled")

	do(t, ctx, "sync templates", chromedp.Navigate(s.console+"templates"),
		chromedp.Click(chromedp.CSS("form.sync button")), chromedp.WaitVisible(chromedp.CSS("p.done")))

	cookie := sessionCookie(t, ctx)
	csv := s.fetch(t, cookie, "broadcasts/"+code+"/recipients.csv")
	if !strings.HasPrefix(csv, "phone,as_given,status,reason") || !strings.Contains(csv, "5511987650801") || strings.Count(csv, "\n") != 4 {
		t.Errorf("the CSV export:\n%s", csv)
	}

	do(t, ctx, "sign out", chromedp.Click(chromedp.CSS("form.signout button")), chromedp.WaitVisible(chromedp.CSS("#token")))
	do(t, ctx, "come back", chromedp.Navigate(s.console+"messages"), chromedp.WaitVisible(chromedp.CSS("#token")))
	if h := title(t, ctx); h != "Sign in" {
		t.Errorf("after sign-out the console shows %q", h)
	}
	if body := s.fetch(t, cookie, "messages"); body != "303 ./signin" {
		t.Errorf("the signed-out cookie got %q, want a redirect to sign in", body)
	}
}

// sessionCookie reads the browser's session cookie (HttpOnly, so only
// the browser itself can hand it over).
func sessionCookie(t *testing.T, ctx context.Context) *http.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatalf("read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "templategw_console" {
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("session cookie is not HttpOnly and SameSite=Strict: %+v", c)
			}
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	t.Fatal("the browser has no session cookie")
	return nil
}

// fetch gets a console path with a cookie, without following redirects:
// the body, or "CODE Location" for a redirect.
func (s *stack) fetch(t *testing.T, c *http.Cookie, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.console+path, nil)
	req.AddCookie(c)
	resp, err := browser(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 3 {
		return fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// broadcast sends the welcome template to phones as one bulk send and
// returns its code; a phone that is no possible number is refused. A
// non-zero sendAt schedules it.
func (s *stack) broadcast(t *testing.T, phones []string, sendAt time.Time) string {
	t.Helper()
	ctx := context.Background()
	tok, err := s.Catalog.Authenticate(ctx, apptest.Token)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	b, err := s.batches.Create(ctx, tok, batch.Spec{Source: "wati", Name: "Spring sale", TemplateName: "welcome", SendAt: sendAt}, func() (batch.Recipient, bool, error) {
		if i == len(phones) {
			return batch.Recipient{}, false, nil
		}
		p := phones[i]
		i++
		r := batch.Recipient{Phone: p, Raw: p, Params: map[string]string{"1": "Ana", "2": "templategw"}}
		if len(p) < 10 {
			r.Phone, r.Problem = "", "not a possible number"
		}
		return r, true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Code
}
