package domain_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/domain"
)

func text(s string) domain.Parameter { return domain.Parameter{Type: "text", Text: s} }

func named(name, s string) domain.Parameter {
	return domain.Parameter{Type: "text", ParameterName: name, Text: s}
}

func mustRender(t *testing.T, tpl domain.Template, params map[string]string) domain.TemplateMessage {
	t.Helper()
	msg, err := domain.Render(tpl, params)
	if err != nil {
		t.Fatalf("Render(%s, %v): %v", tpl.ID, params, err)
	}
	return msg
}

func assertMessage(t *testing.T, got, want domain.TemplateMessage) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("rendered\n%s\nwant\n%s", g, w)
	}
}

func TestRenderPositional(t *testing.T) {
	got := mustRender(t, demoTemplate(t, "welcome"), map[string]string{"1": "Ana", "2": "Loja Azul", "extra": "ignored"})
	assertMessage(t, got, domain.TemplateMessage{
		Name: "welcome", Language: domain.Language{Code: "pt_BR"},
		Components: []domain.Component{{Type: "body", Parameters: []domain.Parameter{text("Ana"), text("Loja Azul")}}},
	})
	if n := got.ParamCount("body"); n != 2 {
		t.Errorf("ParamCount(body) = %d, want 2", n)
	}
}

func TestRenderPositionalOrdersByNumber(t *testing.T) {
	tpl := bodyOnly("POSITIONAL", "Pedido {{2}} para {{1}}")
	got := mustRender(t, tpl, map[string]string{"1": "Ana", "2": "A-77"})
	want := []domain.Parameter{text("Ana"), text("A-77")}
	if len(got.Components) != 1 || !reflect.DeepEqual(got.Components[0].Parameters, want) {
		t.Errorf("components = %+v, want one body with %+v", got.Components, want)
	}

	// Numerically, not lexically: {{10}} comes after {{2}}; the format is
	// inferred when the template does not say.
	tpl = bodyOnly("", "{{10}} {{2}} {{1}} {{3}} {{4}} {{5}} {{6}} {{7}} {{8}} {{9}}")
	params := map[string]string{}
	var wantTexts []domain.Parameter
	for i := 1; i <= 10; i++ {
		k := strconv.Itoa(i)
		params[k] = "v" + k
		wantTexts = append(wantTexts, text("v"+k))
	}
	got = mustRender(t, tpl, params)
	if len(got.Components) != 1 || !reflect.DeepEqual(got.Components[0].Parameters, wantTexts) {
		t.Errorf("components = %+v, want one body with %+v", got.Components, wantTexts)
	}
}

func TestRenderNamed(t *testing.T) {
	got := mustRender(t, demoTemplate(t, "order_update"), map[string]string{"first_name": "Ana", "order_id": "A-1"})
	assertMessage(t, got, domain.TemplateMessage{
		Name: "order_update", Language: domain.Language{Code: "en_US"},
		Components: []domain.Component{{Type: "body", Parameters: []domain.Parameter{
			named("first_name", "Ana"), named("order_id", "A-1")}}},
	})
	// The wire shape Meta takes.
	b, err := json.Marshal(got.Components[0].Parameters[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"text","parameter_name":"first_name","text":"Ana"}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
}

func TestRenderImageHeaderAndURLButton(t *testing.T) {
	tpl := demoTemplate(t, "promo_image")
	params := map[string]string{"1": "Ana", "header": "https://cdn.example.com/promo.jpg", "button_0": "sku-9"}
	got := mustRender(t, tpl, params)
	assertMessage(t, got, domain.TemplateMessage{
		Name: "promo_image", Language: domain.Language{Code: "pt_BR"},
		Components: []domain.Component{
			{Type: "header", Parameters: []domain.Parameter{{Type: "image", Image: &domain.Media{Link: "https://cdn.example.com/promo.jpg"}}}},
			{Type: "body", Parameters: []domain.Parameter{text("Ana")}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []domain.Parameter{text("sku-9")}},
		},
	})
	for typ, n := range map[string]int{"header": 1, "body": 1, "button": 1, "footer": 0} {
		if c := got.ParamCount(typ); c != n {
			t.Errorf("ParamCount(%s) = %d, want %d", typ, c, n)
		}
	}
	b, _ := json.Marshal(got.Components[2])
	if want := `{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"sku-9"}]}`; string(b) != want {
		t.Errorf("button json = %s, want %s", b, want)
	}

	// The quick reply at index 1 is sent only when button_1 is given.
	params["button_1"] = "NO_INTEREST"
	got = mustRender(t, tpl, params)
	if len(got.Components) != 4 {
		t.Fatalf("got %d components, want 4: %+v", len(got.Components), got.Components)
	}
	want := domain.Component{Type: "button", SubType: "quick_reply", Index: "1",
		Parameters: []domain.Parameter{{Type: "payload", Payload: "NO_INTEREST"}}}
	if !reflect.DeepEqual(got.Components[3], want) {
		t.Errorf("quick reply = %+v, want %+v", got.Components[3], want)
	}
	if c := got.ParamCount("button"); c != 2 {
		t.Errorf("ParamCount(button) = %d, want 2", c)
	}
}

func TestRenderDocumentHeader(t *testing.T) {
	tpl := demoTemplate(t, "test_template")
	link := "https://files.example.com/docs/pedido-123.pdf?sig=abc#p2"
	got := mustRender(t, tpl, map[string]string{
		"name": "Ana", "custom_code": "XZ-1", "email": "ana@example.com",
		"header": link, "button_0": "123", "button_1": "faq",
	})
	assertMessage(t, got, domain.TemplateMessage{
		Name: "test_template", Language: domain.Language{Code: "pt_BR"},
		Components: []domain.Component{
			{Type: "header", Parameters: []domain.Parameter{{Type: "document", Document: &domain.Media{Link: link, Filename: "pedido-123.pdf"}}}},
			{Type: "body", Parameters: []domain.Parameter{named("name", "Ana"), named("custom_code", "XZ-1"), named("email", "ana@example.com")}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []domain.Parameter{text("123")}},
			{Type: "button", SubType: "url", Index: "1", Parameters: []domain.Parameter{text("faq")}},
		},
	})
	if c := got.ParamCount("body"); c != 3 {
		t.Errorf("ParamCount(body) = %d, want 3", c)
	}
}

func TestRenderVideoAndTextHeaders(t *testing.T) {
	video := domain.Template{ID: "v", Name: "v", Language: "es", Status: domain.TemplateApproved, Components: []domain.TemplateComponent{
		{Type: "HEADER", Format: "VIDEO"}, {Type: "BODY", Text: "Mira"}}}
	got := mustRender(t, video, map[string]string{"header": "http://media.example.com/a.mp4"})
	assertMessage(t, got, domain.TemplateMessage{Name: "v", Language: domain.Language{Code: "es"}, Components: []domain.Component{
		{Type: "header", Parameters: []domain.Parameter{{Type: "video", Video: &domain.Media{Link: "http://media.example.com/a.mp4"}}}},
	}})

	textHeader := domain.Template{ID: "h", Name: "h", Language: "pt_BR", Status: domain.TemplateApproved, Components: []domain.TemplateComponent{
		{Type: "HEADER", Format: "TEXT", Text: "Pedido {{1}}"}, {Type: "BODY", Text: "Olá {{1}}"}}}
	got = mustRender(t, textHeader, map[string]string{"header": "A-1", "1": "Ana"})
	assertMessage(t, got, domain.TemplateMessage{Name: "h", Language: domain.Language{Code: "pt_BR"}, Components: []domain.Component{
		{Type: "header", Parameters: []domain.Parameter{text("A-1")}},
		{Type: "body", Parameters: []domain.Parameter{text("Ana")}},
	}})

	// A text header without placeholders carries no parameter, even when a
	// header value is given.
	fixed := domain.Template{ID: "f", Name: "f", Language: "pt_BR", Status: domain.TemplateApproved, Components: []domain.TemplateComponent{
		{Type: "HEADER", Format: "TEXT", Text: "Aviso"}, {Type: "BODY", Text: "Olá {{1}}"}}}
	got = mustRender(t, fixed, map[string]string{"header": "ignored", "1": "Ana"})
	if len(got.Components) != 1 || got.Components[0].Type != "body" {
		t.Errorf("components = %+v, want only the body", got.Components)
	}
}

// In a NAMED template the header's placeholder is named too, and Meta
// matches a named header parameter by parameter_name exactly as it does
// the body's: header and body of one template use the same kind of
// variables.
func TestRenderNamedTextHeaderCarriesParameterName(t *testing.T) {
	tpl := domain.Template{ID: "n", Name: "n", Language: "en_US", Status: domain.TemplateApproved, ParameterFormat: "NAMED",
		Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Order {{order_id}}"},
			{Type: "BODY", Text: "Hi {{first_name}}"},
		}}
	got := mustRender(t, tpl, map[string]string{"header": "A-1", "first_name": "Ana"})
	if len(got.Components) != 2 {
		t.Fatalf("components = %+v, want header and body", got.Components)
	}
	if want := named("order_id", "A-1"); !reflect.DeepEqual(got.Components[0].Parameters, []domain.Parameter{want}) {
		t.Errorf("header parameters = %+v, want [%+v]", got.Components[0].Parameters, want)
	}
}

func TestRenderNoButtonComponentForFixedURL(t *testing.T) {
	tpl := domain.Template{ID: "b", Name: "b", Language: "pt_BR", Status: domain.TemplateApproved, Components: []domain.TemplateComponent{
		{Type: "BODY", Text: "Oi"},
		{Type: "BUTTONS", Buttons: []domain.TemplateButton{
			{Type: "URL", Text: "Site", URL: "https://example.com/"},
			{Type: "PHONE_NUMBER", Text: "Ligar", PhoneNumber: "+5511999990000"},
			{Type: "QUICK_REPLY", Text: "Sim"},
		}}}}
	got := mustRender(t, tpl, map[string]string{"button_0": "x", "button_1": "y"})
	if len(got.Components) != 0 {
		t.Errorf("components = %+v, want none", got.Components)
	}
}

func TestRenderMissingParams(t *testing.T) {
	for _, tc := range []struct {
		id     string
		params map[string]string
		want   []string
	}{
		{"welcome", nil, []string{"1", "2"}},
		{"welcome", map[string]string{"2": "Loja"}, []string{"1"}},
		{"welcome", map[string]string{"1": "  ", "2": "\t"}, []string{"1", "2"}},
		{"order_update", map[string]string{"first_name": "Ana", "1": "x"}, []string{"order_id"}},
		{"promo_image", map[string]string{}, []string{"1", "header", "button_0"}},
		{"promo_image", map[string]string{"1": "Ana", "header": " ", "button_1": "NO"}, []string{"header", "button_0"}},
		{"test_template", map[string]string{"email": "e@example.com"}, []string{"name", "custom_code", "header", "button_0", "button_1"}},
		{"alerta1", map[string]string{"2": "x"}, []string{"1"}},
	} {
		_, err := domain.Render(demoTemplate(t, tc.id), tc.params)
		de := domainError(t, err)
		if de.Kind != domain.KindParamsMissing {
			t.Errorf("%s %v: kind %v, want KindParamsMissing", tc.id, tc.params, de.Kind)
		}
		if !reflect.DeepEqual(de.Fields, tc.want) {
			t.Errorf("%s %v: fields %q, want %q", tc.id, tc.params, de.Fields, tc.want)
		}
		if want := "missing template params: " + strings.Join(tc.want, ", "); de.Message != want {
			t.Errorf("%s: message %q, want %q", tc.id, de.Message, want)
		}
	}
}

func TestRenderBadHeaderURL(t *testing.T) {
	for _, h := range []string{
		"not a url",
		"ftp://cdn.example.com/promo.jpg",
		"/promo.jpg",
		"https:///promo.jpg",
		"cdn.example.com/promo.jpg",
		"https://exa mple.com/promo.jpg",
		"javascript:alert(1)",
	} {
		_, err := domain.Render(demoTemplate(t, "promo_image"), map[string]string{"1": "Ana", "header": h, "button_0": "x"})
		de := domainError(t, err)
		if de.Kind != domain.KindInvalid {
			t.Errorf("header %q: kind %v, want KindInvalid", h, de.Kind)
		}
		if !strings.Contains(de.Message, "params.header") || !reflect.DeepEqual(de.Fields, []string{"params.header"}) {
			t.Errorf("header %q: message %q fields %q, want both to name params.header", h, de.Message, de.Fields)
		}
	}
}

func TestRenderTemplateWithoutBody(t *testing.T) {
	for _, tpl := range []domain.Template{
		{ID: "none", Name: "none", Status: domain.TemplateApproved},
		{ID: "hdr", Name: "hdr", Status: domain.TemplateApproved, Components: []domain.TemplateComponent{{Type: "HEADER", Format: "TEXT", Text: "Oi"}}},
		bodyOnly("", "   \n"),
	} {
		_, err := domain.Render(tpl, map[string]string{"1": "x"})
		de := domainError(t, err)
		if de.Kind != domain.KindTemplate {
			t.Errorf("%s: kind %v, want KindTemplate", tpl.ID, de.Kind)
		}
		if de.Message != "template without id or message" {
			t.Errorf("%s: message %q", tpl.ID, de.Message)
		}
	}
}

func TestRenderTemplateStatus(t *testing.T) {
	for _, status := range []string{"PENDING", "REJECTED", "PAUSED", "disabled"} {
		tpl := demoTemplate(t, "welcome")
		tpl.Status = status
		_, err := domain.Render(tpl, map[string]string{"1": "Ana", "2": "Loja"})
		de := domainError(t, err)
		if de.Kind != domain.KindInvalid {
			t.Errorf("status %s: kind %v, want KindInvalid", status, de.Kind)
		}
		if !strings.Contains(de.Message, strings.ToUpper(status)) || !reflect.DeepEqual(de.Fields, []string{"templateId"}) {
			t.Errorf("status %s: message %q fields %q", status, de.Message, de.Fields)
		}
	}
	// Status is compared without regard to case.
	tpl := demoTemplate(t, "welcome")
	tpl.Status = "approved"
	if _, err := domain.Render(tpl, map[string]string{"1": "Ana", "2": "Loja"}); err != nil {
		t.Errorf("status approved: %v", err)
	}
}

func TestParamCount(t *testing.T) {
	m := domain.TemplateMessage{Components: []domain.Component{
		{Type: "header", Parameters: []domain.Parameter{text("a")}},
		{Type: "body", Parameters: []domain.Parameter{text("b"), text("c")}},
		{Type: "button", Parameters: []domain.Parameter{text("d")}},
		{Type: "button", Parameters: []domain.Parameter{{Type: "payload", Payload: "e"}}},
	}}
	for typ, n := range map[string]int{"header": 1, "body": 2, "button": 2, "footer": 0, "BODY": 0} {
		if got := m.ParamCount(typ); got != n {
			t.Errorf("ParamCount(%q) = %d, want %d", typ, got, n)
		}
	}
	if got := (domain.TemplateMessage{}).ParamCount("body"); got != 0 {
		t.Errorf("empty ParamCount = %d", got)
	}
}
