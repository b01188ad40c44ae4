package domain_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{
		"50755667788", "+50755667788", "55667788", "507 55667788", "5075566778a", "",
		"0050755667788", "5511987654321000", "5511987654321", "11987554321", "+5511987654321",
		"12025550123", "999999999999999", "1", "00000000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := domain.ParsePhone(s)
		if err != nil {
			if got != "" {
				t.Errorf("ParsePhone(%q) = %q with error %v", s, got, err)
			}
			var de *domain.Error
			if k := domain.KindOf(err); k != domain.KindInvalid {
				t.Errorf("ParsePhone(%q): kind %v, want KindInvalid", s, k)
			} else if de = domainError(t, err); !reflect.DeepEqual(de.Fields, []string{"phoneNumber"}) || !strings.Contains(de.Message, "phoneNumber") {
				t.Errorf("ParsePhone(%q): error %q fields %q do not name phoneNumber", s, de.Message, de.Fields)
			}
		} else {
			checkPhone(t, "ParsePhone", s, got)
			if got != s {
				t.Errorf("ParsePhone(%q) = %q, want it unchanged", s, got)
			}
			if e, err := domain.ParseE164("+" + got); err != nil || e != got {
				t.Errorf("ParseE164(+%s) = %q, %v", got, e, err)
			}
		}

		if n, err := domain.ParseNational(s, "55"); err == nil {
			checkPhone(t, "ParseNational", s, n)
		} else if k := domain.KindOf(err); k != domain.KindInvalid {
			t.Errorf("ParseNational(%q): kind %v", s, k)
		}
		if e, err := domain.ParseE164(s); err == nil {
			checkPhone(t, "ParseE164", s, e)
		}

		m := domain.MaskPhone(s)
		if len(s) > 4 && (len(m) != len(s) || !strings.HasSuffix(m, s[len(s)-4:]) || strings.Trim(m[:len(m)-4], "*") != "") {
			t.Errorf("MaskPhone(%q) = %q", s, m)
		}
	})
}

// checkPhone asserts that out, accepted for in by fn, is in ParsePhone's
// form and that ParsePhone is idempotent on it.
func checkPhone(t *testing.T, fn, in, out string) {
	t.Helper()
	if len(out) < 8 || len(out) > 15 {
		t.Errorf("%s(%q) = %q: %d digits", fn, in, out, len(out))
	}
	if strings.Trim(out, "0123456789") != "" || strings.HasPrefix(out, "0") {
		t.Errorf("%s(%q) = %q: not digits with a country code first", fn, in, out)
	}
	if again, err := domain.ParsePhone(out); err != nil || again != out {
		t.Errorf("ParsePhone(%s(%q) = %q) = %q, %v; want it unchanged", fn, in, out, again, err)
	}
}

// FuzzRender builds params from fuzz strings for each demo template: the
// template's own keys in order take v1..v6, button_1 (a quick reply in
// promo_image) takes qr, and one arbitrary key extra takes v1. A template
// with the fuzzed body is rendered with every key filled too.
func FuzzRender(f *testing.F) {
	f.Add("Ana", "Loja", "https://cdn.example.com/p.jpg", "sku-1", "faq", "https://files.example.com/a.pdf", "", "x", "Olá {{1}}, {{2}}")
	f.Add("Ana", "A-1", "ana@example.com", "https://files.example.com/docs/p.pdf", "123", "faq", "NO", "1", "Hi {{first_name}} {{order_id}}")
	f.Add("", " ", "\t", "ftp://x/y", "", "", " ", "header", "{{2}} {{1}} {{10}}")
	f.Add("x", "y", "z", "not a url", "w", "v", "", "button_0", "")
	f.Add("Ana", "Loja", "ana@example.com", "http://h/", "1", "2", "qr", "button_1", "{{ a }} {{b.c}} {{a}}")
	f.Fuzz(func(t *testing.T, v1, v2, v3, v4, v5, v6, qr, extra, body string) {
		vals := []string{v1, v2, v3, v4, v5, v6}
		for _, tpl := range demo.Templates() {
			params := map[string]string{extra: v1}
			keys := tpl.Params()
			for i, k := range keys {
				params[k] = vals[i%len(vals)]
			}
			if qr != "" {
				params["button_1"] = qr
			}
			checkRender(t, tpl, params)
		}

		tpl := domain.Template{ID: "f", Name: "f", Language: "pt_BR", Status: domain.TemplateApproved,
			Components: []domain.TemplateComponent{{Type: "BODY", Text: body}}}
		params := map[string]string{}
		for i, k := range tpl.Params() {
			params[k] = "v" + vals[i%len(vals)] + "v"
		}
		checkRender(t, tpl, params)
	})
}

func checkRender(t *testing.T, tpl domain.Template, params map[string]string) {
	t.Helper()
	msg, err := domain.Render(tpl, params)
	if err != nil {
		de := domainError(t, err)
		switch de.Kind {
		case domain.KindParamsMissing:
			var want []string
			for _, k := range tpl.Params() {
				if strings.TrimSpace(params[k]) == "" {
					want = append(want, k)
				}
			}
			if !reflect.DeepEqual(de.Fields, want) {
				t.Errorf("%s: missing %q, want %q (params %q)", tpl.ID, de.Fields, want, params)
			}
		case domain.KindInvalid:
			if !reflect.DeepEqual(de.Fields, []string{"params.header"}) {
				t.Errorf("%s: invalid %q (%s)", tpl.ID, de.Fields, de.Message)
			}
		case domain.KindTemplate:
			if strings.TrimSpace(tpl.Body()) != "" {
				t.Errorf("%s: KindTemplate for a template with a body", tpl.ID)
			}
		default:
			t.Errorf("%s: unexpected error kind %v: %v", tpl.ID, de.Kind, err)
		}
		return
	}
	if msg.Name != tpl.Name || msg.Language.Code != tpl.Language {
		t.Errorf("%s: name/language %q %q", tpl.ID, msg.Name, msg.Language.Code)
	}
	for _, c := range msg.Components {
		if len(c.Parameters) == 0 {
			t.Errorf("%s: %s component without parameters", tpl.ID, c.Type)
		}
		for _, p := range c.Parameters {
			switch p.Type {
			case "text":
				if strings.TrimSpace(p.Text) == "" {
					t.Errorf("%s: blank text parameter in %s component (params %q)", tpl.ID, c.Type, params)
				}
			case "payload":
				if p.Payload == "" {
					t.Errorf("%s: empty payload in %s component", tpl.ID, c.Type)
				}
			case "image", "video", "document":
				var m *domain.Media
				switch p.Type {
				case "image":
					m = p.Image
				case "video":
					m = p.Video
				default:
					m = p.Document
				}
				if m == nil || m.Link != params[domain.ParamHeader] {
					t.Errorf("%s: %s parameter %+v, want link %q", tpl.ID, p.Type, m, params[domain.ParamHeader])
				}
			default:
				t.Errorf("%s: parameter type %q", tpl.ID, p.Type)
			}
		}
	}
	body := domain.Placeholders(tpl.Body())
	if got := msg.ParamCount("body"); got != len(body) {
		t.Errorf("%s: ParamCount(body) = %d, want %d (body %q)", tpl.ID, got, len(body), tpl.Body())
	}
	wantHeader := 0
	for _, k := range tpl.Params() {
		if k == domain.ParamHeader {
			wantHeader = 1
		}
	}
	if got := msg.ParamCount("header"); got != wantHeader {
		t.Errorf("%s: ParamCount(header) = %d, want %d", tpl.ID, got, wantHeader)
	}
	if tpl.Named() {
		for _, c := range msg.Components {
			if c.Type != "body" {
				continue
			}
			for i, p := range c.Parameters {
				if p.ParameterName != body[i] || p.Text != params[body[i]] {
					t.Errorf("%s: body parameter %d = %+v, want %s=%q", tpl.ID, i, p, body[i], params[body[i]])
				}
			}
		}
	}
}
