package openapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/store"
)

// The second tenant, whose valid token must not open the demo tenant's
// account or paths.
const (
	otherTenant = "other"
	otherToken  = "other-token"
)

// seed002Send is seed 002's example request with its placeholders filled
// in.
const seed002Send = `{
"inbox_id": "main",
"phone_number": "+5511987654321",
"template_name": "test_template",
"header_attachment": "https://cdn.example.com/boletos/boleto-123.pdf",
"button_param_0": "BUTTON PARAMETER",
"button_param_1": "ANOTHER BUTTON PARAMETER",
"name": "John Doe",
"email": "john@example.com",
"custom_code": "12345"
}`

// cloudchatSend is seed 002's route for the demo account, at the front door.
const cloudchatSend = "/cloudchat/api/v1/accounts/demo/conversations/create_proactive_whatsapp_conversation"

// seedOtherTenant seeds the second tenant as a copy of the demo.
func (g *gateway) seedOtherTenant(t *testing.T) {
	t.Helper()
	if err := demo.Seed(context.Background(), g.Store, otherTenant, otherToken); err != nil {
		t.Fatal(err)
	}
}

func TestCloudChatAPI(t *testing.T) {
	g := newGateway(t)
	g.seedOtherTenant(t)
	token := []string{"api_access_token", apptest.Token}
	post := func(name, body string, status int, refused bool, header []string) exchange {
		return exchange{name: name, method: http.MethodPost, path: cloudchatSend, header: header, body: body, status: status, refused: refused}
	}

	w := g.do(t, post("seed 002's example", seed002Send, http.StatusOK, false, token))
	if jsonAt(t, w, "messages.0.status") != "pending" {
		t.Errorf("answer %s, want the message pending", w.Body.String())
	}
	g.do(t, post("token in the dashed header, numbers as JSON numbers",
		`{"inbox_id":"main","phone_number":5511987654322,"template_name":"welcome","1":"Ana","2":2026}`,
		http.StatusOK, false, []string{"api-access-token", apptest.Token}))
	g.openConversation(t, "5511987654323", "conv-cc-1")
	w = g.do(t, post("into an open conversation", strings.Replace(seed002Send, "+5511987654321", "+5511987654323", 1), http.StatusOK, false, token))
	if jsonAt(t, w, "id") != "conv-cc-1" || jsonAt(t, w, "messages.0.status") != "sent" {
		t.Errorf("answer %s, want sent into conv-cc-1", w.Body.String())
	}

	g.do(t, post("no token", seed002Send, http.StatusUnauthorized, true, nil))
	g.do(t, post("token as a bearer, not CloudChat's header", seed002Send, http.StatusUnauthorized, true, bearer(apptest.Token)))
	g.do(t, post("wrong token", seed002Send, http.StatusUnauthorized, false, []string{"api_access_token", "nope"}))
	g.do(t, post("another account's token", seed002Send, http.StatusUnauthorized, false, []string{"api_access_token", otherToken}))
	g.do(t, post("empty body", "", http.StatusBadRequest, true, token))
	g.do(t, post("a JSON array", `[]`, http.StatusBadRequest, true, token))
	g.do(t, post("no phone_number", strings.Replace(seed002Send, `"phone_number": "+5511987654321",`, "", 1), http.StatusUnprocessableEntity, true, token))
	g.do(t, post("phone_number with spaces", strings.Replace(seed002Send, "+5511987654321", "+55 11 98765-4321", 1), http.StatusUnprocessableEntity, true, token))
	g.do(t, post("a null variable", strings.Replace(seed002Send, `"12345"`, "null", 1), http.StatusUnprocessableEntity, true, token))
	g.do(t, post("unknown inbox", strings.Replace(seed002Send, `"main"`, `"9"`, 1), http.StatusNotFound, false, token))
	g.do(t, post("unknown template", strings.Replace(seed002Send, `"test_template"`, `"x"`, 1), http.StatusUnprocessableEntity, false, token))
	g.do(t, post("missing variables", strings.Replace(seed002Send, `"custom_code": "12345"`, `"other": "1"`, 1), http.StatusUnprocessableEntity, false, token))
	g.do(t, post("first request under a key", seed002Send, http.StatusOK, false, append([]string{"Idempotency-Key", "k-1"}, token...)))
	g.do(t, post("the key with another request", strings.Replace(seed002Send, "John", "Jane", 1), http.StatusUnprocessableEntity, false,
		append([]string{"Idempotency-Key", "k-1"}, token...)))
}

// watiPath is a path of the demo tenant's Wati API.
func watiPath(rest string) string { return "/wati/" + demo.TenantID + "/api/v1/" + rest }

func TestWatiAPI(t *testing.T) {
	g := newGateway(t)
	g.seedOtherTenant(t)
	token := bearer(apptest.Token)
	x := func(name, method, path, body string, status int, refused bool, header []string) exchange {
		return exchange{name: name, method: method, path: path, header: header, body: body, status: status, refused: refused}
	}
	const (
		contact  = "5511987654321"
		seedSend = `{"template_name":"welcome","broadcast_name":"boas-vindas",
			"parameters":[{"name":"1","value":"Maria"},{"name":"2","value":"templategw"}],"channelNumber":"5511999990000"}`
	)

	// sendTemplateMessage (seed 004's first API, with channelNumber).
	send := watiPath("sendTemplateMessage?whatsappNumber=" + contact)
	w := g.do(t, x("seed 004 send", http.MethodPost, send, seedSend, http.StatusOK, false, token))
	jsonString(t, w, "model.ids.0")
	g.do(t, x("bare token, default number, number values", http.MethodPost, send,
		`{"template_name":"welcome","parameters":[{"name":"1","value":"Maria"},{"name":"2","value":7}]}`,
		http.StatusOK, false, []string{"Authorization", apptest.Token}))
	for _, c := range []exchange{
		x("no token", http.MethodPost, send, seedSend, http.StatusUnauthorized, true, nil),
		x("another tenant's token", http.MethodPost, send, seedSend, http.StatusUnauthorized, false, bearer(otherToken)),
		x("no whatsappNumber", http.MethodPost, watiPath("sendTemplateMessage"), seedSend, http.StatusBadRequest, true, token),
		x("empty body", http.MethodPost, send, "", http.StatusBadRequest, true, token),
		x("a parameter value an object", http.MethodPost, send, strings.Replace(seedSend, `"Maria"`, `{"a":1}`, 1), http.StatusBadRequest, true, token),
		x("unknown template", http.MethodPost, send, strings.Replace(seedSend, `"welcome"`, `"nope"`, 1), http.StatusBadRequest, false, token),
		x("missing params", http.MethodPost, send, strings.Replace(seedSend, `,{"name":"2","value":"templategw"}`, "", 1), http.StatusBadRequest, false, token),
		x("unknown channelNumber", http.MethodPost, send, strings.Replace(seedSend, "5511999990000", "5511999990099", 1), http.StatusBadRequest, false, token),
	} {
		w := g.do(t, c)
		if c.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: a 401 without WWW-Authenticate", c.name)
		}
	}

	// sendTemplateMessages (bulk), through the real batch service.
	bulk := watiPath("sendTemplateMessages")
	const bulkBody = `{"template_name":"welcome","broadcast_name":"promo","channelNumber":"5511999990000",
		"receivers":[{"whatsappNumber":"5511987654331","customParams":[{"name":"1","value":"Ana"},{"name":"2","value":"Loja"}]},
		{"whatsappNumber":"55119876abc","customParams":[]},
		{"whatsappNumber":"5511987654332","customParams":[{"name":"1","value":"Bia"}]}]}`
	w = g.do(t, x("broadcast", http.MethodPost, bulk, bulkBody, http.StatusOK, false, token))
	if n := jsonAt(t, w, "errors.invalidWhatsappNumbers").([]any); len(n) != 1 {
		t.Errorf("answer %s, want one invalid number", w.Body.String())
	}
	g.do(t, x("broadcast with no valid receiver", http.MethodPost, bulk,
		`{"template_name":"welcome","receivers":[{"whatsappNumber":"123","customParams":[]}]}`, http.StatusBadRequest, false, token))
	g.do(t, x("broadcast without receivers", http.MethodPost, bulk, `{"template_name":"welcome","receivers":[]}`, http.StatusBadRequest, true, token))
	g.do(t, x("broadcast of an unknown template", http.MethodPost, bulk, strings.Replace(bulkBody, `"welcome"`, `"nope"`, 1), http.StatusBadRequest, false, token))
	g.do(t, x("broadcast without token", http.MethodPost, bulk, bulkBody, http.StatusUnauthorized, true, nil))

	// sendSessionMessage: refused until the contact writes, then sent.
	session := watiPath("sendSessionMessage/" + contact + "?messageText=" + url.QueryEscape("Olá Maria"))
	g.do(t, x("session message, window closed", http.MethodPost, session, "", http.StatusBadRequest, false, token))
	in := store.Inbound{ID: "wamid.in-1", Channel: demo.ChannelID, Phone: contact, ProfileName: "Maria", Type: "text", Text: "oi", At: time.Now()}
	if err := g.Store.PutInbound(context.Background(), g.Tenant, in); err != nil {
		t.Fatal(err)
	}
	g.do(t, x("session message, window open", http.MethodPost, session, "", http.StatusOK, false, token))
	g.do(t, x("session message in the body", http.MethodPost, watiPath("sendSessionMessage/"+contact),
		`{"messageText":"Tudo bem?","channelPhoneNumber":"5511999990000"}`, http.StatusOK, false, token))
	g.do(t, x("session message without text", http.MethodPost, watiPath("sendSessionMessage/"+contact), "", http.StatusBadRequest, false, token))
	g.do(t, x("session message without token", http.MethodPost, session, "", http.StatusUnauthorized, true, nil))
	g.do(t, x("session message to a bad number", http.MethodPost, watiPath("sendSessionMessage/123?messageText=oi"), "", http.StatusBadRequest, true, token))

	// getMessages: templates, texts and the contact's own message.
	w = g.do(t, x("messages", http.MethodGet, watiPath("getMessages/"+contact), "", http.StatusOK, false, token))
	if n := len(jsonAt(t, w, "messages.items").([]any)); n < 5 {
		t.Errorf("getMessages shows %d messages, want at least 5: %s", n, w.Body.String())
	}
	g.do(t, x("messages, second page of one", http.MethodGet, watiPath("getMessages/"+contact+"?pageSize=1&pageNumber=2&channelPhoneNumber=5511999990000"),
		"", http.StatusOK, false, token))
	g.do(t, x("messages, page size 0", http.MethodGet, watiPath("getMessages/"+contact+"?pageSize=0"), "", http.StatusBadRequest, true, token))
	g.do(t, x("messages of another tenant", http.MethodGet, "/wati/"+otherTenant+"/api/v1/getMessages/"+contact, "", http.StatusUnauthorized, false, token))

	// Contacts.
	add := watiPath("addContact/5511987654340")
	g.do(t, x("add a contact", http.MethodPost, add, `{"name":"Maria Souza","customParams":[{"name":"city","value":"Recife"}]}`, http.StatusOK, false, token))
	w = g.do(t, x("add it again", http.MethodPost, add, `{"customParams":[{"name":"plan","value":"gold"}]}`, http.StatusOK, false, token))
	if jsonAt(t, w, "info") != "Contact updated" {
		t.Errorf("answer %s, want Contact updated", w.Body.String())
	}
	g.do(t, x("add a contact without body", http.MethodPost, watiPath("addContact/5511987654341"), "", http.StatusOK, false, token))
	g.do(t, x("add a contact with a bad param", http.MethodPost, add, `{"customParams":[{"name":"city","value":["x"]}]}`, http.StatusBadRequest, true, token))
	attrs := watiPath("updateContactAttributes/5511987654340")
	g.do(t, x("update attributes", http.MethodPost, attrs, `{"customParams":[{"name":"city","value":"Natal"}]}`, http.StatusOK, false, token))
	g.do(t, x("update no attributes", http.MethodPost, attrs, `{"customParams":[]}`, http.StatusBadRequest, true, token))
	g.do(t, x("update attributes without body", http.MethodPost, attrs, "", http.StatusBadRequest, true, token))
	g.do(t, x("contacts", http.MethodGet, watiPath("getContacts"), "", http.StatusOK, false, token))
	g.do(t, x("contacts, filtered", http.MethodGet, watiPath("getContacts?pageSize=1&name=maria&attribute="+
		url.QueryEscape(`[{"name":"city","operator":"contain","value":"natal"}]`)), "", http.StatusOK, false, token))
	g.do(t, x("contacts, bad filter", http.MethodGet, watiPath("getContacts?attribute="+url.QueryEscape(`[{"name":"city","operator":"like"}]`)),
		"", http.StatusBadRequest, false, token))
	g.do(t, x("contacts without token", http.MethodGet, watiPath("getContacts"), "", http.StatusUnauthorized, true, nil))

	// updateChatStatus (seed 004's channelPhoneNumber).
	chat := watiPath("updateChatStatus")
	g.do(t, x("chat status", http.MethodPost, chat, `{"whatsappNumber":"5511987654340","chatStatus":"solved","channelPhoneNumber":"5511999990000"}`,
		http.StatusOK, false, token))
	g.do(t, x("chat status in the query", http.MethodPost, chat+"?whatsappNumber=5511987654340", `{"chatStatus":"Open"}`, http.StatusOK, false, token))
	g.do(t, x("chat status of an unknown contact", http.MethodPost, chat, `{"whatsappNumber":"5511987654349","chatStatus":"open"}`,
		http.StatusNotFound, false, token))
	g.do(t, x("chat status unknown", http.MethodPost, chat, `{"whatsappNumber":"5511987654340","chatStatus":"done"}`, http.StatusBadRequest, false, token))
}
