package security_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/webhook"
)

// The victim is the demo tenant apptest seeds (token apptest.Token), given
// data of every kind a route can name. Each value below is unique to it,
// so finding one in another tenant's answer is a leak.
const (
	victim = demo.TenantID

	victimPhone   = "5511987651234"
	victimName    = "Victoria Leakwell"
	victimParam   = "vault-7731"
	victimProfile = "Victoria WhatsApp"
	victimInbound = "inbound-secret-4410"
	victimSession = "session-secret-9921"
	victimClient  = "vaultco-secret"
	victimConv    = "conv-victim-0001"
	// One Idempotency-Key per dialect: a tenant's keys are one namespace
	// across dialects.
	victimKeyAtom = "victim-key-atom"
	victimKeyCC   = "victim-key-cloudchat"
	victimKeyWati = "victim-key-wati"
	victimBatch   = "VICTIMLOTE01"

	// A channel and a template only the victim has: the demo ones exist
	// in every tenant seeded from the demo.
	victimChannel  = "vip"
	victimDisplay  = "5511999997777"
	victimSender   = "victim-sender-7777"
	victimPNID     = "100000000000077"
	victimTemplate = "victim_only"
	victimBody     = "VICTIMBODY-secret"
)

// victimData is what the victim's own requests created.
type victimData struct {
	messageIDs []string // Atom, CloudChat and Wati session sends
	wamid      string   // Meta's id of the Atom send
	conv       string   // the gateway's id of the conversation Meta's sent opened
	pageToken  string   // the victim's messages list, page 2
	// deadLetterPage is the victim's dead letters, page 2 (console tests).
	deadLetterPage string
}

// markers are strings only the victim's data holds.
func (v victimData) markers() []string {
	m := []string{victimName, victimParam, victimProfile, victimInbound, victimSession, victimClient, v.conv,
		victimBatch, victimDisplay, victimSender, victimPNID, victimTemplate, victimBody, v.wamid, apptest.Token}
	return append(m, v.messageIDs...)
}

// seedVictim gives the victim one of everything, through the functions
// themselves where they can make it.
func seedVictim(t *testing.T, g *gateway) victimData {
	t.Helper()
	ctx := context.Background()
	ch := demo.Channel()
	ch.ID, ch.DisplayNumber, ch.SenderCode, ch.PhoneNumberID, ch.Default = victimChannel, victimDisplay, victimSender, victimPNID, false
	if err := g.Store.PutChannel(ctx, victim, ch); err != nil {
		t.Fatal(err)
	}
	tpl := domain.Template{
		ID: victimTemplate, Name: victimTemplate, Language: "pt_BR", Category: "UTILITY", Status: domain.TemplateApproved,
		ParameterFormat: "POSITIONAL", Components: []domain.TemplateComponent{{Type: "BODY", Text: "Segredo {{1}} " + victimBody}},
	}
	if err := g.Store.PutTemplate(ctx, victim, tpl); err != nil {
		t.Fatal(err)
	}
	// The contact wrote in: its service window is open on the demo
	// channel, so a session message would pass for the victim.
	in := store.Inbound{ID: "wamid.victim-inbound-1", Channel: demo.ChannelID, Phone: victimPhone, ProfileName: victimProfile,
		Type: "text", Text: victimInbound, At: time.Now().UTC()}
	if err := g.Store.PutInbound(ctx, victim, in); err != nil {
		t.Fatal(err)
	}

	var v victimData
	own := bearer(apptest.Token)
	ok := func(c call) map[string]any {
		t.Helper()
		w, _ := g.serve(t, c)
		if w.Code/100 != 2 {
			t.Fatalf("victim's %s: %d %s", c, w.Code, w.Body.String())
		}
		var a map[string]any
		if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("victim's %s: %v", c, err)
			}
		}
		return a
	}
	watiPath := "/" + victim + "/api/v1/"
	ok(call{fn: fnWati, method: http.MethodPost, path: watiPath + "addContact/" + victimPhone,
		body: `{"name":"` + victimName + `","customParams":[{"name":"vaultKey","value":"` + victimParam + `"}]}`, header: own})

	a := ok(call{fn: fnTemplates, method: http.MethodPost, path: "/", body: atomSend(victimPhone, victimClient),
		header: append([]string{"Idempotency-Key", victimKeyAtom}, own...)})
	id := a["data"].(map[string]any)["message_id"].(string)
	v.messageIDs = append(v.messageIDs, id)
	// Dispatched through the sandbox, then Meta's "sent" opens the
	// victim's conversation: the message has a wamid and a conversation.
	d := dispatch.New(g.Store, g.Catalog, g.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	if err := d.Dispatch(ctx, queue.Job{Tenant: victim, Message: id}); err != nil {
		t.Fatal(err)
	}
	m, err := g.Store.Message(ctx, victim, id)
	if err != nil || m.ProviderMessageID == "" {
		t.Fatalf("victim's message after dispatch: %+v, %v", m, err)
	}
	v.wamid = m.ProviderMessageID
	body := metaStatus(demo.PhoneNumberID, map[string]any{"id": v.wamid, "status": "sent", "timestamp": unix(time.Now()),
		"recipient_id": victimPhone, "conversation": map[string]any{"id": victimConv, "expiration_timestamp": unix(time.Now().Add(24 * time.Hour)),
			"origin": map[string]any{"type": "utility"}}})
	ok(call{fn: fnWhatsApp, method: http.MethodPost, path: "/", body: body, header: []string{webhook.SignatureHeader, webhook.Sign(appSecret, []byte(body))}})
	if m, err := g.Store.Message(ctx, victim, id); err != nil || m.ConversationID == "" || m.ConversationID == victimConv {
		t.Fatalf("victim's message after Meta's sent: %+v, %v; want the gateway's own conversation", m, err)
	} else {
		v.conv = m.ConversationID
	}

	a = ok(call{fn: fnCloudChat, method: http.MethodPost, path: cloudchatPath(victim), body: cloudchatSend(victimPhone, demo.ChannelID),
		header: []string{"api_access_token", apptest.Token, "Idempotency-Key", victimKeyCC}})
	v.messageIDs = append(v.messageIDs, a["messages"].([]any)[0].(map[string]any)["id"].(string))

	a = ok(call{fn: fnWati, method: http.MethodPost, path: watiPath + "sendSessionMessage/" + victimPhone + "?messageText=" + victimSession, header: own})
	v.messageIDs = append(v.messageIDs, a["message"].(map[string]any)["id"].(string))

	ok(call{fn: fnWati, method: http.MethodPost, path: watiPath + "sendTemplateMessages", body: watiBulk(victimPhone),
		header: append([]string{"Idempotency-Key", victimKeyWati}, own...)})
	ok(call{fn: fnWati, method: http.MethodPost, path: watiPath + "updateChatStatus",
		body: `{"whatsappNumber":"` + victimPhone + `","chatStatus":"solved"}`, header: own})
	ok(call{fn: fnEmkt, method: http.MethodPost, path: "/", body: emktSend(demo.SenderCode, "alerta1", victimBatch, "11987651234"), header: own})

	a = ok(call{fn: fnMessages, method: http.MethodGet, path: "/?limit=1", header: own})
	v.pageToken, _ = a["nextPageToken"].(string)
	if v.pageToken == "" {
		t.Fatalf("the victim's messages list has one page: %v", a)
	}
	return v
}

// atomSend is an Atom send of the demo's welcome template.
func atomSend(phone, company string) string {
	return `{"templateId":"welcome","phoneNumber":"` + phone + `","params":{"1":"Maria","2":"` + company + `"}}`
}

// cloudchatPath is the CloudChat send route of an account.
func cloudchatPath(account string) string {
	return "/api/v1/accounts/" + account + "/conversations/create_proactive_whatsapp_conversation"
}

// cloudchatSend is a CloudChat send of the demo's welcome template.
func cloudchatSend(phone, inbox string) string {
	return `{"inbox_id":"` + inbox + `","phone_number":"+` + phone + `","template_name":"welcome","1":"Maria","2":"templategw"}`
}

// watiSend is a sendTemplateMessage body of the demo's welcome template.
const watiSend = `{"template_name":"welcome","parameters":[{"name":"1","value":"Maria"},{"name":"2","value":"templategw"}]}`

// watiBulk is a sendTemplateMessages body for one receiver.
func watiBulk(phone string) string {
	return `{"template_name":"welcome","receivers":[{"whatsappNumber":"` + phone +
		`","customParams":[{"name":"1","value":"Maria"},{"name":"2","value":"templategw"}]}]}`
}

// emktSend is a 50.01 of one contact; an empty code sends no
// identificador.
func emktSend(remetente, template, code string, phones ...string) string {
	var b strings.Builder
	b.WriteString(`<main><emkt trans="50.01"><remetente>` + remetente + `</remetente>`)
	if code != "" {
		b.WriteString(`<identificador>` + code + `</identificador>`)
	}
	b.WriteString(`<element_name>` + template + `</element_name>`)
	for _, p := range phones {
		b.WriteString(`<contact><phone>` + p + `</phone><component type="body"><parameter type="text">Maria</parameter></component></contact>`)
	}
	b.WriteString(`</emkt></main>`)
	return b.String()
}

// emktStatus is a 50.02 for a batch code.
func emktStatus(code string) string {
	return `<main><emkt trans="50.02"><codigo>` + code + `</codigo></emkt></main>`
}

// metaStatus is Meta's webhook with one status for a phone-number id.
func metaStatus(pnid string, st map[string]any) string {
	return metaWebhook(pnid, map[string]any{"statuses": []any{st}})
}

// metaWebhook is Meta's webhook envelope around one change value.
func metaWebhook(pnid string, value map[string]any) string {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]any{"display_phone_number": demo.DisplayNumber, "phone_number_id": pnid}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry":  []any{map[string]any{"id": demo.WABAID, "changes": []any{map[string]any{"field": "messages", "value": value}}}},
	})
	return string(b)
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
