package emkt_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

func TestRefusals(t *testing.T) {
	g := newGateway(t, 0, batch.Options{MaxRecipients: 3})
	ctx := context.Background()
	off := demo.Channel()
	off.ID, off.PhoneNumberID, off.SenderCode, off.Connected, off.Default = "off", "100000000000002", "OFF1", false, false
	if err := g.e.Store.PutChannel(ctx, g.e.Tenant, off); err != nil {
		t.Fatal(err)
	}
	paused := demo.Templates()[3]
	paused.ID, paused.Name, paused.Status = "paused", "paused", "PAUSED"
	if err := g.e.Store.PutTemplate(ctx, g.e.Tenant, paused); err != nil {
		t.Fatal(err)
	}
	ana := contact{"11987651201", []string{"Ana"}}
	one := sendXML("", "alerta1", ana)
	swap := func(old, new string) string { return strings.Replace(one, old, new, 1) }

	for _, c := range []struct {
		name, token, method, path, body string
		code                            int
		want                            string
	}{
		{name: "no token", body: one, code: 401, want: "incorrect token"},
		{name: "bad token", token: "nope", body: one, code: 401, want: "incorrect token"},
		{name: "GET", method: http.MethodGet, code: 405, want: "method not allowed"},
		{name: "other path", path: "/templates", body: one, code: 404, want: "no such route"},
		{name: "empty body", body: "", code: 400, want: "the body is empty"},
		{name: "not XML", body: `{"remetente":"x"}`, code: 400, want: "malformed"},
		{name: "unclosed", body: strings.TrimSuffix(one, "</main>\n"), code: 400, want: "malformed"},
		{name: "other root", body: "<emkt trans=\"50.01\"></emkt>", code: 400, want: "root element must be <main>"},
		{name: "no emkt", body: "<main><x/></main>", code: 400, want: "<main> has no <emkt>"},
		{name: "unknown trans", body: swap(`trans="50.01"`, `trans="40.03"`), code: 400, want: `trans: unknown transaction "40.03"`},
		{name: "no trans", body: swap(` trans="50.01"`, ""), code: 400, want: `trans: unknown transaction ""`},
		{name: "no remetente nor element_name", body: strings.NewReplacer("<remetente>"+demo.SenderCode+"</remetente>", "", "<element_name>alerta1</element_name>", "<element_name> </element_name>").Replace(one),
			code: 400, want: "invalid fields: remetente: required; element_name: required"},
		{name: "long identificador", body: sendXML("ABCDEFGHIJ1234", "alerta1", ana), code: 400, want: "identificador: up to 13 letters and digits"},
		{name: "identificador not alphanumeric", body: sendXML("a-b", "alerta1", ana), code: 400, want: "identificador: up to 13 letters and digits"},
		{name: "unknown template", body: sendXML("", "nope", ana), code: 400, want: "element_name: no template named nope"},
		{name: "paused template", body: sendXML("", "paused", ana), code: 400, want: "element_name: template paused is PAUSED"},
		{name: "unknown remetente", body: swap(demo.SenderCode, "nobody"), code: 400, want: "remetente: no channel nobody for this tenant"},
		{name: "channel not connected", body: swap(demo.SenderCode, "OFF1"), code: 409, want: "channel not connected"},
		{name: "other namespace", body: swap(demo.Namespace, "other_ns"), code: 400, want: "namespace: namespace other_ns is not the namespace of template alerta1"},
		{name: "header after a contact", body: swap("</contact>", "</contact><remetente>x</remetente>"), code: 400, want: "remetente: must come before the first <contact>"},
		{name: "header twice", body: swap("<element_name>", "<element_name>a</element_name><element_name>"), code: 400, want: "element_name: given more than once"},
		{name: "no contacts", body: sendXML("", "alerta1"), code: 400, want: "contact: the batch has no recipients"},
		{name: "two emkt", body: swap("</main>", "<emkt trans=\"50.01\"></emkt></main>"), code: 400, want: "one <emkt> per request"},
		{name: "content after main", body: one + "<main/>", code: 400, want: "content after </main>"},
		{name: "too many contacts", body: sendXML("", "alerta1", ana, ana, ana, ana), code: 413, want: "at most 3 recipients"},
		{name: "huge parameter", body: sendXML("", "alerta1", contact{"11987651201", []string{strings.Repeat("a", 40<<10)}}), code: 413, want: "over 16 KiB"},
		{name: "huge text over tokens", body: swap("<parameter type=\"text\">Ana", "<parameter type=\"text\">"+strings.Repeat("a<![CDATA[b]]>", 10000)), code: 413, want: "<parameter> has over 16 KiB of text"},
		{name: "deep", body: swap("<phone>", strings.Repeat("<x>", 20)+strings.Repeat("</x>", 20)+"<phone>"), code: 400, want: "nested deeper than 16"},
		{name: "unknown entity", body: swap("Ana", "&foo;"), code: 400, want: "malformed XML at line"},
		{name: "unsupported charset", body: `<?xml version="1.0" encoding="EBCDIC"?>` + one, code: 400, want: `unsupported encoding "EBCDIC"`},
		{name: "status without codigo", body: "<main><emkt trans=\"50.02\"></emkt></main>", code: 400, want: "codigo: required"},
		{name: "status of an unknown batch", body: statusXML("nope"), code: 404, want: `codigo: no batch "nope"`},
		{name: "status of an impossible code", body: statusXML("a/b"), code: 404, want: "codigo: no batch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			method, path, token := c.method, c.path, c.token
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/"
			}
			if token == "" && c.name != "no token" {
				token = apptest.Token
			}
			wantError(t, call(t, g.h, method, path, token, strings.NewReader(c.body)), c.code, c.want)
		})
	}
	if b, ch := count(t, g, "batches"), count(t, g, "chunks"); b != 0 || ch != 0 {
		t.Errorf("refused requests stored %d batches and %d chunks", b, ch)
	}
}

// TestConversationLimitReached: a 50.01 past the plan's limit is
// accepted; the recipients within the budget are sent and the rest are
// refused one by one, as 50.02 shows.
func TestConversationLimitReached(t *testing.T) {
	g := newGateway(t, 1, batch.Options{})
	ctx := context.Background()
	if err := g.e.Store.PutTenant(ctx, domain.Tenant{ID: g.e.Tenant, Name: "Demo", CountryCode: demo.CountryCode, ConversationLimit: 2}); err != nil {
		t.Fatal(err)
	}
	shard := g.e.Firestore.Collection("tenants").Doc(g.e.Tenant).Collection("counters").Doc("conversations-" + domain.MonthKey(time.Now())).Collection("shards").Doc("0")
	if _, err := shard.Set(ctx, map[string]any{"count": 1}); err != nil {
		t.Fatal(err)
	}
	code := wantCode(t, g.post(t, strings.NewReader(sendXML("LIM1", "alerta1",
		contact{"11987651301", []string{"Ana"}}, contact{"11987651302", []string{"Bia"}}, contact{"11987651303", []string{"Cy"}}))))
	var items []struct{ Telefone, Status, Motivo string }
	wait.Until(t, 30*time.Second, "every recipient settled", func() bool {
		a := decode(t, g.post(t, strings.NewReader(statusXML(code))))
		items = items[:0]
		for _, it := range a.Emkt.Items {
			if it.Status == "accepted" || it.Status == "dispatching" {
				return false
			}
			items = append(items, struct{ Telefone, Status, Motivo string }{it.Telefone, it.Status, it.Motivo})
		}
		return len(items) == 3
	})
	refused := 0
	for _, it := range items {
		if it.Status == "refused: conversation limit reached" {
			refused++
		}
	}
	if refused != 2 || len(g.e.Sandbox.Requests()) != 1 {
		t.Errorf("50.02 %+v and %d provider calls; want one sent and two refused", items, len(g.e.Sandbox.Requests()))
	}
}
