package atom_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// templateJSON is a template as GET / and GET /{id} show it.
type templateJSON struct {
	ID       string                    `json:"id"`
	Name     string                    `json:"name"`
	Language string                    `json:"language"`
	Category string                    `json:"category"`
	Status   string                    `json:"status"`
	Body     string                    `json:"body"`
	Header   *domain.TemplateComponent `json:"header"`
	Buttons  []domain.TemplateButton   `json:"buttons"`
	Params   []string                  `json:"params"`
}

func TestListTemplatesPages(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	var ids []string
	byID := map[string]templateJSON{}
	tok := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("paging does not end")
		}
		path := "/?limit=2"
		if tok != "" {
			path += "&pageToken=" + url.QueryEscape(tok)
		}
		w := call(t, h, http.MethodGet, path, apptest.Token, "")
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, w.Code, w.Body.String())
		}
		a := decode(t, w)
		if !a.Success || a.Message != "OK" {
			t.Fatalf("GET %s envelope = %s", path, w.Body.String())
		}
		var list []templateJSON
		if err := json.Unmarshal(a.Data["templates"], &list); err != nil {
			t.Fatalf("data.templates = %s: %v", a.Data["templates"], err)
		}
		if len(list) == 0 || len(list) > 2 {
			t.Fatalf("page %d has %d templates, want 1 or 2", page, len(list))
		}
		for _, tpl := range list {
			ids = append(ids, tpl.ID)
			byID[tpl.ID] = tpl
		}
		raw, more := a.Data["nextPageToken"]
		if !more {
			if len(a.Data) != 1 {
				t.Errorf("last page data = %s, want only templates", w.Body.String())
			}
			break
		}
		if err := json.Unmarshal(raw, &tok); err != nil || tok == "" {
			t.Fatalf("nextPageToken = %s", raw)
		}
	}
	var want []string
	for _, tpl := range demo.Templates() {
		want = append(want, tpl.ID)
	}
	sort.Strings(want)
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("paged through %v, want every demo template once, in id order: %v", ids, want)
	}
	for _, tpl := range demo.Templates() {
		got := byID[tpl.ID]
		if got.Name != tpl.Name || got.Language != tpl.Language || got.Category != tpl.Category || got.Status != tpl.Status || got.Body != tpl.Body() {
			t.Errorf("template %s shown as %+v", tpl.ID, got)
		}
		if !reflect.DeepEqual(got.Params, tpl.Params()) && !(len(got.Params) == 0 && len(tpl.Params()) == 0) {
			t.Errorf("template %s params = %q, want %q", tpl.ID, got.Params, tpl.Params())
		}
	}
	promo := byID["promo_image"]
	if !reflect.DeepEqual(promo.Params, []string{"1", "header", "button_0"}) {
		t.Errorf("promo_image params = %q, want [1 header button_0]", promo.Params)
	}
	if promo.Header == nil || promo.Header.Format != "IMAGE" || len(promo.Buttons) != 2 || promo.Buttons[0].URL != "https://shop.example.com/{{1}}" {
		t.Errorf("promo_image header %+v buttons %+v", promo.Header, promo.Buttons)
	}
	if w := byID["welcome"]; !reflect.DeepEqual(w.Params, []string{"1", "2"}) || w.Header != nil || w.Buttons != nil {
		t.Errorf("welcome = %+v", w)
	}
	if o := byID["order_update"]; !reflect.DeepEqual(o.Params, []string{"first_name", "order_id"}) {
		t.Errorf("order_update params = %q", o.Params)
	}
}

func TestListTemplatesDefaultsAndParamsNeverNull(t *testing.T) {
	e := apptest.New(t)
	if err := e.Store.PutTemplate(context.Background(), e.Tenant, domain.Template{ID: "plain", Name: "plain", Language: "en_US",
		Category: "UTILITY", Status: domain.TemplateApproved, Components: []domain.TemplateComponent{{Type: "BODY", Text: "Hello"}}}); err != nil {
		t.Fatal(err)
	}
	w := call(t, handler(e), http.MethodGet, "/", apptest.Token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d %s", w.Code, w.Body.String())
	}
	a := decode(t, w)
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(a.Data["templates"], &list); err != nil || len(list) != 6 {
		t.Fatalf("GET / lists %d templates (%v), want all 6 on the default page", len(list), err)
	}
	if _, more := a.Data["nextPageToken"]; more {
		t.Errorf("nextPageToken on a complete list: %s", w.Body.String())
	}
	for _, tpl := range list {
		for _, k := range []string{"id", "name", "language", "category", "status", "body", "params"} {
			if _, ok := tpl[k]; !ok {
				t.Errorf("template %s lacks %q", tpl["id"], k)
			}
		}
		if string(tpl["params"]) == "null" {
			t.Errorf("template %s params is null, want []", tpl["id"])
		}
	}
}

func TestListTemplatesBadQuery(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "limit=-1", "limit=1.5"} {
		w := call(t, h, http.MethodGet, "/?"+q, apptest.Token, "")
		wantError(t, w, http.StatusBadRequest, "limit", "limit")
	}
	for _, tok := range []string{"!!!", "%%%", base64.RawURLEncoding.EncodeToString([]byte("a/b")), "====", "a"} {
		w := call(t, h, http.MethodGet, "/?pageToken="+url.QueryEscape(tok), apptest.Token, "")
		wantError(t, w, http.StatusBadRequest, "pageToken", "pageToken")
	}
	// limit=100 is allowed.
	if w := call(t, h, http.MethodGet, "/?limit=100", apptest.Token, ""); w.Code != http.StatusOK {
		t.Errorf("limit=100: %d %s", w.Code, w.Body.String())
	}
}

// A page token names a document id; one Firestore cannot take is a bad
// token (400), not an internal error.
func TestListTemplatesTokenFirestoreCannotName(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, after := range []string{"__x__", strings.Repeat("t", 1600)} {
		tok := base64.RawURLEncoding.EncodeToString([]byte(after))
		w := call(t, h, http.MethodGet, "/?pageToken="+tok, apptest.Token, "")
		if w.Code != http.StatusBadRequest && w.Code != http.StatusOK {
			t.Errorf("pageToken for %.20q = %d %s, want 400 (or an empty page)", after, w.Code, w.Body.String())
		}
	}
}

func TestListTemplatesIncorrectToken(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, tok := range []string{"", "nope"} {
		wantError(t, call(t, h, http.MethodGet, "/", tok, ""), http.StatusUnauthorized, "incorrect token")
	}
}

func TestGetTemplate(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	w := call(t, h, http.MethodGet, "/promo_image", apptest.Token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /promo_image = %d %s", w.Code, w.Body.String())
	}
	a := decode(t, w)
	if !a.Success || a.Message != "OK" || len(a.Data) != 1 {
		t.Fatalf("envelope = %s", w.Body.String())
	}
	var tpl templateJSON
	if err := json.Unmarshal(a.Data["template"], &tpl); err != nil {
		t.Fatalf("data.template = %s: %v", a.Data["template"], err)
	}
	want := templateJSON{ID: "promo_image", Name: "promo_image", Language: "pt_BR", Category: "MARKETING", Status: "APPROVED",
		Body: "{{1}}, conheça a nova coleção!", Header: &domain.TemplateComponent{Type: "HEADER", Format: "IMAGE"},
		Buttons: []domain.TemplateButton{
			{Type: "URL", Text: "Comprar", URL: "https://shop.example.com/{{1}}"},
			{Type: "QUICK_REPLY", Text: "Não tenho interesse"},
		},
		Params: []string{"1", "header", "button_0"}}
	if !reflect.DeepEqual(tpl, want) {
		t.Errorf("template =\n%+v\nwant\n%+v", tpl, want)
	}
}

func TestGetTemplateNotFound(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, id := range []string{"no_such_template", "WELCOME", "__x__", "..", "a%2Fb", strings.Repeat("t", 1600)} {
		w := call(t, h, http.MethodGet, "/"+id, apptest.Token, "")
		name := id
		if len(name) > 20 {
			name = "long"
		}
		t.Run(name, func(t *testing.T) {
			a := wantError(t, w, http.StatusNotFound, "template not found")
			if a.Message != "template not found" {
				t.Errorf("message = %q", a.Message)
			}
		})
	}
}

// Seed 000 documents a bad token on GET /{id} as 400.
func TestGetTemplateIncorrectTokenIs400(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, tok := range []string{"", "nope"} {
		a := wantError(t, call(t, h, http.MethodGet, "/welcome", tok, ""), http.StatusBadRequest, "incorrect token")
		if a.Message != "incorrect token" {
			t.Errorf("message = %q", a.Message)
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := demo.Seed(ctx, e.Store, "other", "other-token"); err != nil {
		t.Fatal(err)
	}
	only := domain.Template{ID: "only_demo_tenant_7f3a", Name: "only_demo_tenant_7f3a", Language: "pt_BR", Category: "UTILITY",
		Status: domain.TemplateApproved, Components: []domain.TemplateComponent{{Type: "BODY", Text: "Segredo {{1}}"}}}
	if err := e.Store.PutTemplate(ctx, e.Tenant, only); err != nil {
		t.Fatal(err)
	}
	h := handler(e)
	if w := call(t, h, http.MethodGet, "/"+only.ID, apptest.Token, ""); w.Code != http.StatusOK {
		t.Fatalf("owner GET = %d %s", w.Code, w.Body.String())
	}
	wantError(t, call(t, h, http.MethodGet, "/"+only.ID, "other-token", ""), http.StatusNotFound, "template not found")

	w := call(t, h, http.MethodGet, "/?limit=100", "other-token", "")
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), only.ID) {
		t.Errorf("other tenant's list = %d %s; must not show %s", w.Code, w.Body.String(), only.ID)
	}
	w = call(t, h, http.MethodGet, "/?limit=100", apptest.Token, "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), only.ID) {
		t.Errorf("owner's list = %d %s; must show %s", w.Code, w.Body.String(), only.ID)
	}

	wantError(t, send(t, h, "other-token", body(map[string]any{"templateId": only.ID, "params": map[string]any{"1": "x"}})),
		http.StatusBadRequest, "template without id or message", "templateId")
	if n := messageDocs(t, e, "other") + messageDocs(t, e, e.Tenant); n != 0 {
		t.Errorf("%d messages stored", n)
	}
	// Each tenant's send lands under its own tenant.
	id := wantPending(t, send(t, h, "other-token", body(nil)), http.StatusAccepted)
	if _, err := e.Store.Message(ctx, e.Tenant, id); err == nil {
		t.Error("other tenant's message is readable under the demo tenant")
	}
	if _, err := e.Store.Message(ctx, "other", id); err != nil {
		t.Errorf("other tenant's message not under its tenant: %v", err)
	}
}
