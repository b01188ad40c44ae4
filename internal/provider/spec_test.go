package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/metaspec"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/sandbox"
)

// headerTemplates are shapes the demo lacks: text headers, positional and
// named, and a video header.
var headerTemplates = []domain.Template{
	{ID: "order_header", Name: "order_header", Language: "pt_BR", Category: "UTILITY", Status: domain.TemplateApproved,
		ParameterFormat: "POSITIONAL", Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Pedido {{1}}"}, {Type: "BODY", Text: "Olá {{1}}, seu pedido saiu."}}},
	{ID: "named_header", Name: "named_header", Language: "en_US", Category: "MARKETING", Status: domain.TemplateApproved,
		ParameterFormat: "NAMED", Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Hi {{first_name}}"}, {Type: "BODY", Text: "Your code is {{code}}."}}},
	{ID: "promo_video", Name: "promo_video", Language: "pt_BR", Category: "MARKETING", Status: domain.TemplateApproved,
		Components: []domain.TemplateComponent{{Type: "HEADER", Format: "VIDEO"}, {Type: "BODY", Text: "Novidade, {{1}}!"},
			{Type: "BUTTONS", Buttons: []domain.TemplateButton{{Type: "QUICK_REPLY", Text: "Quero"}, {Type: "QUICK_REPLY", Text: "Parar"}}}}},
}

// TestEveryRequestBodyIsMetas: every body the client sends to
// POST /{Version}/{Phone-Number-ID}/messages — each template shape the
// domain renders (positional and named bodies, text, image, video and
// document headers, URL buttons and quick replies) and a text message — is
// valid against Meta's published description, and goes to the default
// Graph API version.
func TestEveryRequestBodyIsMetas(t *testing.T) {
	f := newFixture(t, func(c *sandbox.Config, _ *provider.Config) {
		c.Templates[demo.WABAID] = append(demo.Templates(), headerTemplates...)
	})
	hooks := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(hooks.Close)
	f.sb.SetWebhook(hooks.URL, "") // the text needs the contact's reply
	t.Cleanup(f.sb.Close)
	spec, err := metaspec.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const to = "5511988884444"
	for _, tpl := range append(demo.Templates(), headerTemplates...) {
		params := map[string]string{domain.ButtonParam(0): "a/1", domain.ButtonParam(1): "b/2"}
		for _, k := range tpl.Params() {
			params[k] = "valor ç " + k
		}
		if _, ok := params[domain.ParamHeader]; ok && tpl.Component("HEADER").Format != "TEXT" {
			params[domain.ParamHeader] = "https://cdn.example.com/arquivo.pdf"
		}
		m, err := domain.Render(tpl, params)
		if err != nil {
			t.Fatalf("render %s: %v", tpl.Name, err)
		}
		if _, err := f.client.Send(ctx, request(to, m)); err != nil {
			t.Errorf("send %s: %v", tpl.Name, err)
		}
	}
	if _, err := f.sb.Reply(ctx, demo.PhoneNumberID, to, "Ana", "oi"); err != nil {
		t.Fatal(err)
	}
	text := provider.SendRequest{PhoneNumberID: demo.PhoneNumberID, AccessToken: demo.AccessToken, To: to, Text: "Olá, Ana! Veja https://example.com", CallbackData: "t"}
	if _, err := f.client.Send(ctx, text); err != nil {
		t.Errorf("send text: %v", err)
	}

	reqs := f.sb.Requests()
	if want := len(demo.Templates()) + len(headerTemplates) + 1; len(reqs) != want {
		t.Fatalf("sandbox saw %d requests, want %d", len(reqs), want)
	}
	shapes := map[string]bool{}
	for _, r := range reqs {
		if r.Version != provider.DefaultVersion || provider.DefaultVersion != "v24.0" {
			t.Errorf("request to version %q, want the default v24.0", r.Version)
		}
		if err := spec.Validate(metaspec.SendRequest, []byte(r.Body)); err != nil {
			t.Errorf("request %s: %v", r.Body, err)
		}
		for _, c := range r.Template.Components {
			for _, p := range c.Parameters {
				shapes[c.Type+"/"+c.SubType+"/"+p.Type+map[bool]string{true: "/named"}[p.ParameterName != ""]] = true
			}
		}
		if r.Type == "text" {
			shapes["text"] = true
		}
	}
	for _, s := range []string{"body//text", "body//text/named", "header//text", "header//text/named", "header//image",
		"header//video", "header//document", "button/url/text", "button/quick_reply/payload", "text"} {
		if !shapes[s] {
			t.Errorf("no request had the shape %s (had %v)", s, shapes)
		}
	}
}
