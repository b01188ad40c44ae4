package sandbox

import (
	"fmt"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

var validSends = []string{
	`{"messaging_product":"whatsapp","to":"5511988887777","type":"template","template":{"name":"welcome","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"Maria"},{"type":"text","text":"Loja"}]}]}}`,
	`{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511988887777","type":"template","biz_opaque_callback_data":"m-1","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Ana"},{"type":"text","parameter_name":"order_id","text":"42"}]}]}}`,
	`{"messaging_product":"whatsapp","to":"5511988887777","type":"template","template":{"name":"promo_image","language":{"code":"pt_BR"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://x/a.png"}}]},{"type":"body","parameters":[{"type":"text","text":"Ana"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"s"}]},{"type":"button","sub_type":"quick_reply","index":"1","parameters":[{"type":"payload","payload":"no"}]}]}}`,
	`{"messaging_product":"whatsapp","to":"5511988887777","type":"template","template":{"name":"test_template","language":{"code":"pt_BR"},"components":[{"type":"header","parameters":[{"type":"document","document":{"link":"https://x/a.pdf","filename":"a.pdf"}}]},{"type":"body","parameters":[{"type":"text","parameter_name":"name","text":"a"},{"type":"text","parameter_name":"custom_code","text":"b"},{"type":"text","parameter_name":"email","text":"c"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"1"}]},{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"2"}]}]}}`,
}

const textSend = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511988887777","type":"text","text":{"body":"olá"},"biz_opaque_callback_data":"m-1"}`

func TestParseText(t *testing.T) {
	b, err := parseSend([]byte(textSend))
	if err != nil || b.Type != "text" || b.Text == nil || b.Text.Body != "olá" || b.Template != nil {
		t.Fatalf("parsed %+v, %v", b, err)
	}
	bad := map[string]string{
		"no text":          strings.Replace(textSend, `,"text":{"body":"olá"}`, "", 1),
		"empty body":       strings.Replace(textSend, `"body":"olá"`, `"body":""`, 1),
		"too long":         strings.Replace(textSend, `"olá"`, `"`+strings.Repeat("a", 4097)+`"`, 1),
		"unknown text key": strings.Replace(textSend, `"body":"olá"`, `"body":"olá","bold":true`, 1),
		"text on template": strings.Replace(validSends[0], `"type":"template",`, `"type":"template","text":{"body":"x"},`, 1),
	}
	for name, body := range bad {
		if _, err := parseSend([]byte(body)); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
}

func TestValidSendsPass(t *testing.T) {
	w := &waba{tokens: map[string]bool{}, byKey: map[string]*domain.Template{}}
	w.setTemplates(demo.WABAID, demo.Templates())
	for i, body := range validSends {
		b, err := parseSend([]byte(body))
		if err != nil {
			t.Errorf("send %d: %v", i, err)
			continue
		}
		tpl, e := w.lookup(b.Template.Name, b.Template.Language.Code)
		if e == nil {
			e = checkTemplate(tpl, b.Template.message())
		}
		if e != nil {
			t.Errorf("send %d: %d %s", i, e.code, e.details)
		}
	}
}

func TestParseSendRejects(t *testing.T) {
	bad := map[string]string{
		"trailing data":   validSends[0] + "{}",
		"no template":     `{"messaging_product":"whatsapp","to":"5511988887777","type":"template"}`,
		"no language":     strings.Replace(validSends[0], `"language":{"code":"pt_BR"},`, "", 1),
		"button no index": strings.Replace(validSends[2], `"index":"0",`, "", 1),
		"bad sub_type":    strings.Replace(validSends[2], `"sub_type":"url"`, `"sub_type":"link"`, 1),
		"image no link":   strings.Replace(validSends[2], `"image":{"link":"https://x/a.png"}`, `"image":{}`, 1),
		"component type":  strings.Replace(validSends[0], `"type":"body"`, `"type":"footer"`, 1),
		"to too long":     strings.Replace(validSends[0], "5511988887777", "5511988887777123", 1),
	}
	for name, body := range bad {
		if _, err := parseSend([]byte(body)); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
}

// FuzzParseSend feeds arbitrary bodies to the send parser and, when they
// parse, to the template check against the demo templates: neither may
// panic, and what parses must honour the parser's promises.
func FuzzParseSend(f *testing.F) {
	for _, s := range validSends {
		f.Add([]byte(s))
	}
	f.Add([]byte(textSend))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"template":null}`))
	f.Add([]byte(`[1,2]`))
	w := &waba{tokens: map[string]bool{}, byKey: map[string]*domain.Template{}}
	w.setTemplates(demo.WABAID, demo.Templates())
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := parseSend(body)
		if err != nil {
			salvage(body)
			return
		}
		if !isPhone(b.To) || b.MessagingProduct != "whatsapp" {
			t.Fatalf("parsed %+v, which breaks the parser's promises", b)
		}
		if b.Type == "text" {
			if b.Text == nil || b.Text.Body == "" || b.Template != nil {
				t.Fatalf("parsed text send %+v, which breaks the parser's promises", b)
			}
			return
		}
		if b.Template == nil || b.Type != "template" || b.Text != nil {
			t.Fatalf("parsed %+v, which breaks the parser's promises", b)
		}
		tpl, e := w.lookup(b.Template.Name, b.Template.Language.Code)
		if e == nil {
			e = checkTemplate(tpl, b.Template.message())
		}
		if e != nil && (e.code == 0 || e.status < 400) {
			t.Fatalf("check gave %+v", e)
		}
		_ = fmt.Sprint(e)
	})
}
