package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
)

//go:embed web
var web embed.FS

// views are the pages' templates, each parsed with the layout.
type views struct {
	pages map[string]*template.Template
}

// funcs are what the templates format with.
var funcs = template.FuncMap{
	"when": when, "day": day, "percent": percent, "count": count, "join": strings.Join,
	"list":  func(s ...string) []string { return s },
	"add":   func(a, b int) int { return a + b },
	"title": func(s string) string { return strings.ToUpper(s[:1]) + s[1:] },
}

// when shows a time in UTC, the zone the overview's days and months are
// counted in.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// day is a date as the search form's date fields take it.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// percent is n of of, or a dash when there is nothing to divide.
func percent(n, of int) string {
	if of == 0 {
		return "—"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + " %"
}

// count groups a number's digits by thousands.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func parseViews() (*views, error) {
	// Every page is parsed with the layout and the partials several
	// pages share.
	var shared []string
	for _, n := range []string{"web/layout.html", "web/partials.html"} {
		b, err := fs.ReadFile(web, n)
		if err != nil {
			return nil, fmt.Errorf("console: read %s: %w", n, err)
		}
		shared = append(shared, string(b))
	}
	names, err := fs.Glob(web, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: list pages: %w", err)
	}
	v := &views{pages: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "web/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		body, err := fs.ReadFile(web, n)
		if err != nil {
			return nil, fmt.Errorf("console: read %s: %w", n, err)
		}
		t := template.New("layout").Funcs(funcs)
		for _, src := range append(shared, string(body)) {
			if _, err = t.Parse(src); err != nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		v.pages[name] = t
	}
	return v, nil
}

// page is what the layout needs of every page.
type page struct {
	Title string
	// Nav is the menu entry the page belongs to.
	Nav string
	// Root is the relative path from the page to the console's root,
	// which every link starts with.
	Root string
	// CSRF is the token every form that changes something carries.
	CSRF string
	// Tenant and Integration say who is signed in; empty on the sign-in
	// and error pages of a request without a session.
	Tenant      string
	Integration string
	// Live, when set, is the URL (relative to Root) of the page's live
	// figures, which the script polls.
	Live string
}

// menu is the navigation, in order.
var menu = []struct{ Nav, Label string }{
	{"overview", "Overview"}, {"messages", "Messages"}, {"broadcasts", "Broadcasts"},
	{"templates", "Templates"}, {"contacts", "Contacts"}, {"channels", "Channels and problems"},
}

// Menu lists the navigation for the layout.
func (p page) Menu() []struct{ Nav, Label string } { return menu }

// Href is the link of a menu entry.
func (p page) Href(nav string) string {
	if nav == "overview" {
		return p.Root
	}
	return p.Root + nav
}

func (c *Console) page(r *http.Request, title, nav string) page {
	p := page{Title: title, Nav: nav, Root: rootOf(r.URL.Path)}
	if s := sessionOf(r.Context()); s.Tenant != "" {
		p.Tenant, p.Integration, p.CSRF = s.Tenant, s.Session.Integration, s.Session.CSRF
	}
	return p
}

// rootOf is the relative path from a request path to the console's root:
// "./" for /, /messages; "../" for /messages/{id}.
func rootOf(path string) string {
	n := strings.Count(strings.TrimPrefix(path, "/"), "/")
	if n == 0 {
		return "./"
	}
	return strings.Repeat("../", n)
}

// render writes a page; the template runs into a buffer first, so a
// failing template answers 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	t, ok := c.view.pages[name]
	if !ok {
		c.internal(w, r, fmt.Errorf("console: no page %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		c.internal(w, r, fmt.Errorf("console: render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

// problemView is the page of a refusal or failure.
type problemView struct {
	page
	Code    int
	Message string
}

// fail answers a refusal with a page saying what to do.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, code int, message string) {
	v := problemView{page: c.page(r, http.StatusText(code), ""), Code: code, Message: message}
	t := c.view.pages["problem"]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		http.Error(w, message, code)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

// internal answers 500 and logs the cause, which may name data the page
// must not show.
func (c *Console) internal(w http.ResponseWriter, r *http.Request, err error) {
	logging.FromContext(r.Context()).Error("console: request failed", "error", err.Error())
	c.fail(w, r, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.")
}

// statics are the embedded assets and their content types.
var statics = map[string]string{
	"console.css": "text/css; charset=utf-8",
	"console.js":  "text/javascript; charset=utf-8",
}

func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "file")
	typ, ok := statics[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, err := fs.ReadFile(web, "web/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}

// statusOrder lists the message states in the order of a message's life.
var statusOrder = []domain.Status{
	domain.StatusAccepted, domain.StatusDispatching, domain.StatusHeld, domain.StatusPending,
	domain.StatusSent, domain.StatusDelivered, domain.StatusRead,
	domain.StatusFailed, domain.StatusUnknown, domain.StatusCancelled,
}

// redirect answers with a Location relative to the request's URL.
// http.Redirect would make it absolute from the path the console sees,
// which lacks the prefix it is mounted under.
func redirect(w http.ResponseWriter, location string, code int) {
	w.Header().Set("Location", location)
	w.WriteHeader(code)
}

// confirmed reports whether a destructive form's confirmation box was
// ticked. The box is required in the page, so a browser asks before it
// posts; the check here holds a form posted without the page to it.
func confirmed(r *http.Request) bool { return r.PostFormValue("confirm") == "yes" }

// notConfirmed is the refusal of a form whose confirmation was not ticked.
const notConfirmed = "Not done: tick the box that confirms it, then send the form again."
