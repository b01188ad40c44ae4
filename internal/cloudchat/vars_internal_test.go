package cloudchat

import (
	"reflect"
	"testing"

	"github.com/templategw/templategw/internal/domain"
)

func vars(kv ...string) []variable {
	var out []variable
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, variable{kv[i], kv[i+1]})
	}
	return out
}

func TestLookupOrder(t *testing.T) {
	for _, c := range []struct {
		placeholder string
		vars        []variable
		want        string
		ok          bool
	}{
		{"name", vars("name", "A"), "A", true},
		{"contact_name", vars("contact.name", "A"), "A", true},
		{"contact.name", vars("contact_name", "A"), "A", true},
		{"contact_name", vars("name", "A"), "A", true},
		{"contact.name", vars("name", "A"), "A", true},
		{"contact_name", vars("name", "C", "contact.name", "A", "contact_name", "B"), "B", true},
		{"contact_name", vars("name", "C", "contact.name", "A"), "A", true},
		{"a_b_c", vars("a.b_c", "1", "a_b.c", "2"), "1", true},
		{"contact_", vars("", "x"), "", false},
		{"email", vars("contact.email", "x"), "x", true},
		{"email", vars("contact_email", "x", "email", "y"), "y", true},
		{"contact_email", vars("email", "y", "contact.email", "x"), "x", true},
		{"contact_name", vars("email", "y"), "", false},
		{"Name", vars("name", "x"), "", false},
		{"order_id", vars("order.id", "9"), "9", true},
	} {
		got, ok := newVariables(c.vars).lookup(c.placeholder)
		if got != c.want || ok != c.ok {
			t.Errorf("lookup(%q) in %v = %q, %t; want %q, %t", c.placeholder, c.vars, got, ok, c.want, c.ok)
		}
	}
}

func TestTemplateParamsNamedTextHeader(t *testing.T) {
	tpl := domain.Template{Name: "t", ParameterFormat: "NAMED", Components: []domain.TemplateComponent{
		{Type: "HEADER", Format: "TEXT", Text: "Pedido {{order_id}}"},
		{Type: "BODY", Text: "Oi {{first_name}}"},
	}}
	got, err := templateParams(tpl, sendRequest{vars: vars("order.id", "A-1", "first_name", "Ana"), buttons: map[int]string{}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"header": "A-1", "first_name": "Ana"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("params = %v, want %v", got, want)
	}
	// header_attachment wins over the variable.
	got, _ = templateParams(tpl, sendRequest{vars: vars("order_id", "A-1", "first_name", "Ana"), header: "B-2", hasHeader: true, buttons: map[int]string{1: "x"}})
	want = map[string]string{"header": "B-2", "first_name": "Ana", "button_1": "x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("params = %v, want %v", got, want)
	}
}

func TestButtonIndex(t *testing.T) {
	for key, want := range map[string]int{"button_param_0": 0, "button_param_1": 1, "button_param_12": 12} {
		if i, ok := buttonIndex(key); !ok || i != want {
			t.Errorf("buttonIndex(%q) = %d, %t", key, i, ok)
		}
	}
	for _, key := range []string{"button_param_", "button_param_01", "button_param_-1", "button_param_+1", "button_param_x", "button_param_1000", "button_0", "Button_param_0"} {
		if _, ok := buttonIndex(key); ok {
			t.Errorf("buttonIndex(%q) is a button", key)
		}
	}
}

func TestContentFillsOnlyPlaceholders(t *testing.T) {
	tpl := domain.Template{Components: []domain.TemplateComponent{{Type: "BODY", Text: "{{1}} and {{ 2 }}, not {{x y}} nor {2}"}}}
	if got := content(tpl, map[string]string{"1": "a", "2": "b"}); got != "a and b, not {{x y}} nor {2}" {
		t.Errorf("content = %q", got)
	}
}

func TestBodyKey(t *testing.T) {
	for in, want := range map[string]string{
		"header": "header_attachment", "params.header": "header_attachment", "button_0": "button_param_0",
		"button_12": "button_param_12", "button_color": "button_color", "templateId": "template_name", "name": "name",
	} {
		if got := bodyKey(in); got != want {
			t.Errorf("bodyKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAccountValue(t *testing.T) {
	for in, want := range map[string]any{"42": "42", "0": "0"} {
		if got, ok := accountValue(in).(interface{ String() string }); !ok || got.String() != want {
			t.Errorf("accountValue(%q) = %#v, want a number", in, accountValue(in))
		}
	}
	for _, in := range []string{"demo", "007", "-1", "1e3", "99999999999999999999", ""} {
		if _, ok := accountValue(in).(string); !ok {
			t.Errorf("accountValue(%q) = %#v, want a string", in, accountValue(in))
		}
	}
}
