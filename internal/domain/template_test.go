package domain_test

import (
	"reflect"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

func TestDemoTemplateParams(t *testing.T) {
	want := map[string][]string{
		"welcome":       {"1", "2"},
		"order_update":  {"first_name", "order_id"},
		"promo_image":   {"1", "header", "button_0"},
		"test_template": {"name", "custom_code", "email", "header", "button_0", "button_1"},
		"alerta1":       {"1"},
	}
	seen := map[string]bool{}
	for _, tpl := range demo.Templates() {
		seen[tpl.ID] = true
		w, ok := want[tpl.ID]
		if !ok {
			t.Errorf("demo template %q has no expectation here; add one", tpl.ID)
			continue
		}
		if got := tpl.Params(); !reflect.DeepEqual(got, w) {
			t.Errorf("%s.Params() = %q, want %q", tpl.ID, got, w)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("demo template %q missing", id)
		}
	}
}

func TestDemoTemplatePlaceholders(t *testing.T) {
	for id, want := range map[string][]string{
		"welcome":       {"1", "2"},
		"order_update":  {"first_name", "order_id"},
		"promo_image":   {"1"},
		"test_template": {"name", "custom_code", "email"},
		"alerta1":       {"1"},
	} {
		if got := domain.Placeholders(demoTemplate(t, id).Body()); !reflect.DeepEqual(got, want) {
			t.Errorf("Placeholders(%s body) = %q, want %q", id, got, want)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"no placeholders", nil},
		{"{{2}} then {{1}}", []string{"2", "1"}},
		{"{{1}} {{1}} {{2}} {{1}}", []string{"1", "2"}},
		{"{{ first_name }} and {{contact.name}}", []string{"first_name", "contact.name"}},
		{"{{}} {1} {{a b}} {{-x}}", nil},
		{"{{{1}}}", []string{"1"}},
	} {
		if got := domain.Placeholders(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Placeholders(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTemplateNamed(t *testing.T) {
	for _, tc := range []struct {
		name string
		tpl  domain.Template
		want bool
	}{
		{"demo welcome", demoTemplate(t, "welcome"), false},
		{"demo order_update", demoTemplate(t, "order_update"), true},
		{"demo test_template", demoTemplate(t, "test_template"), true},
		{"inferred positional", bodyOnly("", "{{1}} {{2}}"), false},
		{"inferred named", bodyOnly("", "{{1}} {{name}}"), true},
		{"format wins", bodyOnly("positional", "{{name}}"), false},
		{"format case-insensitive", bodyOnly("named", "{{1}}"), true},
	} {
		if got := tc.tpl.Named(); got != tc.want {
			t.Errorf("%s: Named() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTemplateParamsShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		tpl  domain.Template
		want []string
	}{
		{"no body", domain.Template{}, nil},
		{"text header without placeholder", domain.Template{Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Oi"}, {Type: "BODY", Text: "{{1}}"}}}, []string{"1"}},
		{"text header with placeholder", domain.Template{Components: []domain.TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Pedido {{1}}"}, {Type: "BODY", Text: "{{1}}"}}}, []string{"1", "header"}},
		{"video header, lower-case types", domain.Template{Components: []domain.TemplateComponent{
			{Type: "header", Format: "video"}, {Type: "body", Text: "x"}}}, []string{"header"}},
		{"buttons: only URL with placeholder", domain.Template{Components: []domain.TemplateComponent{
			{Type: "BODY", Text: "x"},
			{Type: "BUTTONS", Buttons: []domain.TemplateButton{
				{Type: "QUICK_REPLY", Text: "Sim"},
				{Type: "URL", Text: "Site", URL: "https://example.com/fixed"},
				{Type: "PHONE_NUMBER", Text: "Ligar", PhoneNumber: "+5511999990000"},
				{Type: "url", Text: "Pedido", URL: "https://example.com/{{1}}"},
			}}}}, []string{"button_3"}},
	} {
		if got := tc.tpl.Params(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Params() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestButtonParam(t *testing.T) {
	if got := domain.ButtonParam(0); got != "button_0" {
		t.Errorf("ButtonParam(0) = %q", got)
	}
	if got := domain.ButtonParam(12); got != "button_12" {
		t.Errorf("ButtonParam(12) = %q", got)
	}
}

func bodyOnly(format, body string) domain.Template {
	return domain.Template{ID: "t", Name: "t", Language: "pt_BR", Status: domain.TemplateApproved,
		ParameterFormat: format, Components: []domain.TemplateComponent{{Type: "BODY", Text: body}}}
}
