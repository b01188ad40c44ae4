package cloudchat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// handler builds the cloudchat function the way a deployment would.
func handler(e *apptest.Env) http.Handler {
	svc := accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{})
	return cloudchat.New(e.Catalog, svc).Handler()
}

// sendPath is seed 002's route for an account.
func sendPath(account string) string {
	return "/api/v1/accounts/" + account + "/conversations/create_proactive_whatsapp_conversation"
}

// post sends body to account's route with token in api_access_token;
// header pairs follow.
func post(t testing.TB, h http.Handler, account, token, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, sendPath(account), strings.NewReader(body))
	r.Header.Set("content-type", "application/json")
	if token != "" {
		r.Header.Set("api_access_token", token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// send posts body to the demo account with the demo token.
func send(t testing.TB, h http.Handler, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return post(t, h, demo.TenantID, apptest.Token, body, header...)
}

const (
	phone      = "5511987654321"
	attachment = "https://cdn.example.com/boletos/boleto-123.pdf"
)

// seedExample is seed 002's example request body, as the seed writes it.
const seedExample = `{
"inbox_id": "INBOX_ID",
"phone_number": "PHONE_NUMBER",
"template_name": "test_template",
"header_attachment": "ATTACHMENT_URL",
"button_param_0": "BUTTON PARAMETER",
"button_param_1": "ANOTHER BUTTON PARAMETER",
"name": "John Doe",
"email": "[email protected]",
"custom_code": "12345"
}`

// seedBody is the seed's example with its placeholders filled in.
func seedBody(inbox, phoneNumber string) string {
	return strings.NewReplacer("INBOX_ID", inbox, "PHONE_NUMBER", phoneNumber, "ATTACHMENT_URL", attachment).Replace(seedExample)
}

const seedContent = "Olá John Doe, seu código é 12345. Enviamos os detalhes para [email protected]."

// body is a send of test_template; overrides replace or add keys (nil
// removes one). encoding/json sorts the keys, so positional order tests
// write their bodies by hand.
func body(overrides map[string]any) string {
	b := map[string]any{
		"inbox_id": demo.ChannelID, "phone_number": "+" + phone, "template_name": "test_template",
		"header_attachment": attachment, "button_param_0": "A-1", "button_param_1": "help",
		"name": "John Doe", "email": "[email protected]", "custom_code": "12345",
	}
	for k, v := range overrides {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	out, _ := json.Marshal(b)
	return string(out)
}

// conversation is the answer of a send, decoded.
type conversation struct {
	ID        string          `json:"id"`
	AccountID json.RawMessage `json:"account_id"`
	InboxID   json.RawMessage `json:"inbox_id"`
	Status    string          `json:"status"`
	Contact   contact         `json:"contact"`
	Messages  []struct {
		ID          string `json:"id"`
		Content     string `json:"content"`
		MessageType string `json:"message_type"`
		Status      string `json:"status"`
		CreatedAt   int64  `json:"created_at"`
	} `json:"messages"`
	CreatedAt int64 `json:"created_at"`
	Timestamp int64 `json:"timestamp"`
	Meta      struct {
		Sender  contact `json:"sender"`
		Channel string  `json:"channel"`
	} `json:"meta"`
}

type contact struct {
	Name        string `json:"name"`
	PhoneNumber string `json:"phone_number"`
}

// wantConversation checks a 200 conversation answer in Chatwoot's shape
// and returns it; status is the message's, "pending" or "sent".
func wantConversation(t testing.TB, w *httptest.ResponseRecorder, status string) conversation {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", w.Body.String(), err)
	}
	want := []string{"account_id", "contact", "created_at", "id", "inbox_id", "messages", "meta", "status", "timestamp"}
	if got := keys(raw); !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
	var c conversation
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
		t.Fatalf("body %s: %v", w.Body.String(), err)
	}
	now := time.Now().Unix()
	if c.Status != "open" || c.ID == "" || len(c.Messages) != 1 || c.Meta.Channel != "Channel::Whatsapp" ||
		c.Meta.Sender != c.Contact || c.Timestamp != c.CreatedAt || c.CreatedAt < now-60 || c.CreatedAt > now+1 {
		t.Fatalf("conversation = %s", w.Body.String())
	}
	m := c.Messages[0]
	if m.ID == "" || m.MessageType != "template" || m.Status != status || m.CreatedAt != c.CreatedAt {
		t.Fatalf("message = %+v, want a %s template message", m, status)
	}
	if status == "pending" && c.ID != m.ID {
		t.Errorf("pending conversation id %q, want the message id %q", c.ID, m.ID)
	}
	return c
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// wantError checks a Chatwoot error answer, {"error": message}, whose
// message contains every part.
func wantError(t testing.TB, w *httptest.ResponseRecorder, code int, parts ...string) string {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status = %d, want %d; body %s", w.Code, code, w.Body.String())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil || len(raw) != 1 {
		t.Fatalf("body %q is not {\"error\": …} (%v)", w.Body.String(), err)
	}
	var msg string
	if err := json.Unmarshal(raw["error"], &msg); err != nil || msg == "" {
		t.Fatalf("body %s: error is not a message (%v)", w.Body.String(), err)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not name %q", msg, p)
		}
	}
	return msg
}

// wantUnauthorized checks Chatwoot's answer to a bad token.
func wantUnauthorized(t testing.TB, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401; body %s", w.Code, w.Body.String())
	}
	if got := strings.TrimSpace(w.Body.String()); got != `{"errors":["Invalid Access Token"]}` {
		t.Errorf("body = %s", got)
	}
}

// docs counts a tenant's documents in a collection.
func docs(t testing.TB, e *apptest.Env, tenant, collection string) int {
	t.Helper()
	all, err := e.Firestore.Collection("tenants").Doc(tenant).Collection(collection).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// written counts a tenant's message and contact documents.
func written(t testing.TB, e *apptest.Env, tenant string) int {
	t.Helper()
	return docs(t, e, tenant, "messages") + docs(t, e, tenant, "contacts")
}

func stored(t testing.TB, e *apptest.Env, id string) domain.Message {
	t.Helper()
	m, err := e.Store.Message(context.Background(), e.Tenant, id)
	if err != nil {
		t.Fatalf("message %s answered 200 but is not stored: %v", id, err)
	}
	return m
}

func TestSeedExampleAsWritten(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	w := send(t, h, seedBody(demo.ChannelID, "+"+phone))
	c := wantConversation(t, w, "pending")
	if string(c.AccountID) != `"demo"` || string(c.InboxID) != `"main"` {
		t.Errorf("account_id %s, inbox_id %s", c.AccountID, c.InboxID)
	}
	if c.Messages[0].Content != seedContent {
		t.Errorf("content = %q, want %q", c.Messages[0].Content, seedContent)
	}
	if c.Contact != (contact{Name: "John Doe", PhoneNumber: "+*********4321"}) {
		t.Errorf("contact = %+v", c.Contact)
	}
	if strings.Contains(w.Body.String(), phone) || strings.Contains(w.Body.String(), "987654") {
		t.Errorf("the answer shows the full phone number: %s", w.Body.String())
	}

	m := stored(t, e, c.Messages[0].ID)
	if m.Status != domain.StatusAccepted || m.Channel != demo.ChannelID || m.PhoneNumber != phone || m.TemplateID != "test_template" {
		t.Errorf("stored message = %+v", m)
	}
	want := domain.TemplateMessage{Name: "test_template", Language: domain.Language{Code: "pt_BR"}, Components: []domain.Component{
		{Type: "header", Parameters: []domain.Parameter{{Type: "document", Document: &domain.Media{Link: attachment, Filename: "boleto-123.pdf"}}}},
		{Type: "body", Parameters: []domain.Parameter{
			{Type: "text", ParameterName: "name", Text: "John Doe"},
			{Type: "text", ParameterName: "custom_code", Text: "12345"},
			{Type: "text", ParameterName: "email", Text: "[email protected]"},
		}},
		{Type: "button", SubType: "url", Index: "0", Parameters: []domain.Parameter{{Type: "text", Text: "BUTTON PARAMETER"}}},
		{Type: "button", SubType: "url", Index: "1", Parameters: []domain.Parameter{{Type: "text", Text: "ANOTHER BUTTON PARAMETER"}}},
	}}
	if !reflect.DeepEqual(m.Template, want) {
		g, _ := json.MarshalIndent(m.Template, "", " ")
		t.Errorf("stored rendering\n%s", g)
	}
	snap, err := e.Firestore.Doc("tenants/" + e.Tenant + "/contacts/" + phone).Get(context.Background())
	if err != nil || snap.Data()["name"] != "John Doe" {
		t.Errorf("contact = %v (%v), want name John Doe", snap.Data(), err)
	}

	// The message id is the gateway's: the messages API finds it.
	r := httptest.NewRequest(http.MethodGet, "/"+c.Messages[0].ID, nil)
	r.Header.Set("Authorization", "Bearer "+apptest.Token)
	got := httptest.NewRecorder()
	messages.New(e.Catalog, e.Store).Handler().ServeHTTP(got, r)
	var v messages.View
	if got.Code != http.StatusOK || json.Unmarshal(got.Body.Bytes(), &v) != nil || v.ID != c.Messages[0].ID {
		t.Errorf("GET /messages/%s = %d %s", c.Messages[0].ID, got.Code, got.Body.String())
	}
}

func TestPhoneWithOrWithoutPlus(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, p := range []any{"+" + phone, phone, " +" + phone + " ", 5511987654321} {
		c := wantConversation(t, send(t, h, body(map[string]any{"phone_number": p})), "pending")
		if m := stored(t, e, c.Messages[0].ID); m.PhoneNumber != phone {
			t.Errorf("phone %v stored as %q, want %q", p, m.PhoneNumber, phone)
		}
	}
	if n := docs(t, e, e.Tenant, "contacts"); n != 1 {
		t.Errorf("%d contacts for one number written four ways", n)
	}
	for _, p := range []any{"+55 11 98765-4321", "(11) 98765-4321", "+55", "0055" + phone, "+" + phone + "a", "++" + phone, 1.5, true} {
		wantError(t, send(t, h, body(map[string]any{"phone_number": p})), http.StatusUnprocessableEntity, "phone_number: ")
	}
	wantError(t, send(t, h, body(map[string]any{"phone_number": ""})), http.StatusUnprocessableEntity, "phone_number: required")
	wantError(t, send(t, h, body(map[string]any{"phone_number": nil})), http.StatusUnprocessableEntity, "phone_number: required")
	if n := docs(t, e, e.Tenant, "messages"); n != 4 {
		t.Errorf("%d messages, want the 4 good sends only", n)
	}
}

func TestInboxSelectsTheChannel(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	second := demo.Channel()
	second.ID, second.DisplayNumber, second.PhoneNumberID, second.SenderCode, second.Default = "second", "5511888880000", "100000000000002", "sender-2", false
	if err := e.Store.PutChannel(ctx, e.Tenant, second); err != nil {
		t.Fatal(err)
	}
	h := handler(e)
	for _, c := range []struct {
		inbox   any
		channel string
		echo    string
	}{
		{"main", "main", `"main"`},
		{"second", "second", `"second"`},
		{"5511888880000", "second", `"5511888880000"`},
		{"+5511888880000", "second", `"+5511888880000"`},
		{5511888880000, "second", `5511888880000`},
		{5511999990000, "main", `5511999990000`},
		{"sender-2", "second", `"sender-2"`},
		{demo.SenderCode, "main", `"` + demo.SenderCode + `"`},
	} {
		conv := wantConversation(t, send(t, h, body(map[string]any{"inbox_id": c.inbox})), "pending")
		if m := stored(t, e, conv.Messages[0].ID); m.Channel != c.channel {
			t.Errorf("inbox_id %v sent through %q, want %q", c.inbox, m.Channel, c.channel)
		}
		if string(conv.InboxID) != c.echo {
			t.Errorf("inbox_id %v echoed as %s, want %s", c.inbox, conv.InboxID, c.echo)
		}
	}
	before := docs(t, e, e.Tenant, "messages")
	for _, inbox := range []any{"99", 99, "5511000000000", "MAIN", "+main"} {
		wantError(t, send(t, h, body(map[string]any{"inbox_id": inbox})), http.StatusNotFound, "inbox_id", "no inbox")
	}
	if n := docs(t, e, e.Tenant, "messages"); n != before {
		t.Errorf("unknown inboxes wrote %d messages", n-before)
	}
}

func TestInboxNotConnected(t *testing.T) {
	e := apptest.New(t)
	ch := demo.Channel()
	ch.Connected = false
	if err := e.Store.PutChannel(context.Background(), e.Tenant, ch); err != nil {
		t.Fatal(err)
	}
	wantError(t, send(t, handler(e), body(nil)), http.StatusUnprocessableEntity, "inbox_id", "not connected")
	if n := written(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents written for a disconnected inbox", n)
	}
}

func TestAccessToken(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := demo.Seed(ctx, e.Store, "other", "other-token"); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.PutToken(ctx, "revoked-token", domain.Token{Tenant: e.Tenant, Integration: "old", Revoked: true}); err != nil {
		t.Fatal(err)
	}
	h := handler(e)
	for name, c := range map[string]struct{ account, token, body string }{
		"missing":                        {demo.TenantID, "", body(nil)},
		"wrong":                          {demo.TenantID, "not-the-token", body(nil)},
		"revoked":                        {demo.TenantID, "revoked-token", body(nil)},
		"prefix":                         {demo.TenantID, apptest.Token[:4], body(nil)},
		"another tenant's token":         {demo.TenantID, "other-token", body(nil)},
		"another account":                {"other", apptest.Token, body(nil)},
		"an account that does not exist": {"12345", apptest.Token, body(nil)},
		"bad body and no token":          {demo.TenantID, "", "{"},
	} {
		t.Run(name, func(t *testing.T) {
			wantUnauthorized(t, post(t, h, c.account, c.token, c.body))
		})
	}
	// Bearer is not CloudChat's scheme.
	r := httptest.NewRequest(http.MethodPost, sendPath(demo.TenantID), strings.NewReader(body(nil)))
	r.Header.Set("Authorization", "Bearer "+apptest.Token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	wantUnauthorized(t, w)
	if n := written(t, e, e.Tenant) + written(t, e, "other"); n != 0 {
		t.Fatalf("%d documents written by refused tokens", n)
	}

	// Each token works on its own account, under either spelling of the header.
	wantConversation(t, post(t, h, "other", "other-token", body(nil)), "pending")
	r = httptest.NewRequest(http.MethodPost, sendPath(demo.TenantID), strings.NewReader(body(nil)))
	r.Header.Set("api-access-token", apptest.Token)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	wantConversation(t, w, "pending")
	if a, b := docs(t, e, e.Tenant, "messages"), docs(t, e, "other", "messages"); a != 1 || b != 1 {
		t.Errorf("messages: demo %d, other %d; want one each", a, b)
	}
}

func TestNumericAccountIsANumber(t *testing.T) {
	e := apptest.New(t)
	if err := demo.Seed(context.Background(), e.Store, "42", "numeric-token"); err != nil {
		t.Fatal(err)
	}
	c := wantConversation(t, post(t, handler(e), "42", "numeric-token", body(nil)), "pending")
	if string(c.AccountID) != "42" {
		t.Errorf("account_id = %s, want the number 42", c.AccountID)
	}
}

func TestNoData(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for name, b := range map[string]string{
		"empty":            "",
		"whitespace":       " \n ",
		"array":            "[]",
		"string":           `"x"`,
		"number":           "42",
		"null":             "null",
		"truncated":        `{"inbox_id": "main",`,
		"form":             "inbox_id=main&phone_number=5511987654321",
		"two objects":      body(nil) + body(nil),
		"trailing garbage": body(nil) + "x",
		"trailing brace":   body(nil) + "}",
		"trailing comma":   `{"inbox_id":"main",}`,
		"missing colon":    `{"inbox_id" "main"}`,
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, send(t, h, b), http.StatusBadRequest, "no data to send")
		})
	}
	if n := written(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents written by refused requests", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := apptest.New(t)
	b := body(nil)
	big := b[:len(b)-1] + `,"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	wantError(t, send(t, handler(e), big), http.StatusRequestEntityTooLarge, "too large")
	if n := written(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents written from an oversized body", n)
	}
}

func TestFieldErrorsNameTheKeys(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	msg := wantError(t, send(t, h, `{}`), http.StatusUnprocessableEntity, "inbox_id: required", "phone_number: required", "template_name: required")
	if !strings.HasPrefix(msg, "invalid fields: ") {
		t.Errorf("message = %q", msg)
	}
	for _, c := range []struct {
		name string
		over map[string]any
		want string
	}{
		{"inbox bool", map[string]any{"inbox_id": true}, "inbox_id: must be a string or a number"},
		{"inbox object", map[string]any{"inbox_id": map[string]any{"id": 1}}, "inbox_id: must be a string or a number"},
		{"inbox empty", map[string]any{"inbox_id": ""}, "inbox_id: required"},
		{"template number", map[string]any{"template_name": 5}, "template_name: must be a string"},
		{"template blank", map[string]any{"template_name": " "}, "template_name: required"},
		{"phone object", map[string]any{"phone_number": map[string]any{}}, "phone_number: must be a string or a number"},
		{"header number", map[string]any{"header_attachment": 5}, "header_attachment: must be a string"},
		{"variable object", map[string]any{"name": map[string]any{"first": "John"}}, "name: must be a string or a number"},
		{"variable array", map[string]any{"custom_code": []any{1}}, "custom_code: must be a string or a number"},
		{"dotted variable array", map[string]any{"contact.email": []any{}}, "contact.email: must be a string or a number"},
		{"button object", map[string]any{"button_param_0": map[string]any{}}, "button_param_0: must be a string or a number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, send(t, h, body(c.over)), http.StatusUnprocessableEntity, c.want)
		})
	}
	wantError(t, send(t, h, `{"inbox_id":"main","phone_number":"+5511987654321","template_name":"test_template","name":null}`),
		http.StatusUnprocessableEntity, "name: must be a string or a number")
	// Every bad key at once.
	wantError(t, send(t, h, `{"inbox_id":[],"phone_number":"12","template_name":"test_template","email":{},"custom_code":null}`),
		http.StatusUnprocessableEntity, "inbox_id: ", "phone_number: ", "email: ", "custom_code: ")
	if n := written(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents written by refused requests", n)
	}
}

func TestMissingVariablesAreNamed(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, c := range []struct {
		name string
		over map[string]any
		want string
	}{
		{"body variable", map[string]any{"name": nil}, "missing template variables: name"},
		{"blank variable", map[string]any{"email": "  "}, "missing template variables: email"},
		{"two", map[string]any{"name": nil, "custom_code": nil}, "missing template variables: name, custom_code"},
		{"header", map[string]any{"header_attachment": nil}, "missing template variables: header_attachment"},
		{"button", map[string]any{"button_param_1": nil}, "missing template variables: button_param_1"},
		{"button by another name", map[string]any{"button_param_01": "x", "button_param_1": nil}, "missing template variables: button_param_1"},
		{"everything", map[string]any{"name": nil, "email": nil, "custom_code": nil, "header_attachment": nil, "button_param_0": nil, "button_param_1": nil},
			"missing template variables: name, custom_code, email, header_attachment, button_param_0, button_param_1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := wantError(t, send(t, h, body(c.over)), http.StatusUnprocessableEntity)
			if msg != c.want {
				t.Errorf("error = %q, want %q", msg, c.want)
			}
		})
	}
	wantError(t, send(t, h, body(map[string]any{"header_attachment": "boleto.pdf"})), http.StatusUnprocessableEntity, "header_attachment: must be an http(s) URL")
	if n := written(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents written by refused requests", n)
	}
}

func TestUnknownTemplate(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	paused := demo.Templates()[0]
	paused.ID, paused.Name, paused.Status = "paused_one", "paused_one", "PAUSED"
	noBody := domain.Template{ID: "header_only", Name: "header_only", Language: "pt_BR", Status: domain.TemplateApproved,
		Components: []domain.TemplateComponent{{Type: "HEADER", Format: "TEXT", Text: "Olá"}}}
	for _, tpl := range []domain.Template{paused, noBody} {
		if err := e.Store.PutTemplate(ctx, e.Tenant, tpl); err != nil {
			t.Fatal(err)
		}
	}
	h := handler(e)
	for _, name := range []string{"no_such_template", "TEST_TEMPLATE", "test_template ", "a/b", "__x__", "\u0000", strings.Repeat("é", 400)} {
		wantError(t, send(t, h, body(map[string]any{"template_name": name})), http.StatusUnprocessableEntity, "template_name: no template ")
	}
	wantError(t, send(t, h, body(map[string]any{"template_name": strings.Repeat("t", 600)})), http.StatusUnprocessableEntity, "template_name: at most 512 characters")
	wantError(t, send(t, h, body(map[string]any{"template_name": "paused_one", "1": "a", "2": "b"})), http.StatusUnprocessableEntity, "PAUSED")
	wantError(t, send(t, h, body(map[string]any{"template_name": "header_only"})), http.StatusUnprocessableEntity, `template_name: template "header_only" has no message`)
	if n := written(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents written by refused requests", n)
	}
}

func TestDottedVariables(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	for _, tpl := range []domain.Template{
		{ // As Meta allows it: underscores.
			ID: "contact_card", Name: "contact_card", Language: "pt_BR", Status: domain.TemplateApproved, ParameterFormat: "NAMED",
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Oi {{contact_name}}, confirme {{contact_email}}; código {{custom_code}}."}},
		},
		{ // Kept in the gateway as CloudChat writes it.
			ID: "dotted", Name: "dotted", Language: "pt_BR", Status: domain.TemplateApproved,
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "Oi {{ contact.name }}!"}},
		},
	} {
		if err := e.Store.PutTemplate(ctx, e.Tenant, tpl); err != nil {
			t.Fatal(err)
		}
	}
	h := handler(e)
	for _, c := range []struct {
		name     string
		template string
		vars     string
		content  string
		contact  string
	}{
		{"dots read as underscores", "contact_card", `"contact.name":"Ana","contact.email":"ana@example.com","custom_code":7`, "Oi Ana, confirme ana@example.com; código 7.", "Ana"},
		{"exact names", "contact_card", `"contact_name":"Ana","contact_email":"a@b.c","custom_code":"x"`, "Oi Ana, confirme a@b.c; código x.", "Ana"},
		{"contact attributes by their own name", "contact_card", `"name":"Ana","email":"a@b.c","custom_code":"x"`, "Oi Ana, confirme a@b.c; código x.", "Ana"},
		{"exact beats dotted beats bare", "contact_card", `"name":"C","contact.name":"A","contact_name":"B","email":"e","custom_code":"x"`, "Oi B, confirme e; código x.", "B"},
		{"dotted beats bare", "contact_card", `"name":"C","contact.name":"A","email":"e","custom_code":"x"`, "Oi A, confirme e; código x.", "A"},
		{"dotted placeholder, exact", "dotted", `"contact.name":"Ana"`, "Oi Ana!", "Ana"},
		{"dotted placeholder, underscores", "dotted", `"contact_name":"Ana"`, "Oi Ana!", "Ana"},
		{"dotted placeholder, bare", "dotted", `"name":"Ana"`, "Oi Ana!", "Ana"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := `{"inbox_id":"main","phone_number":"+5511987654321","template_name":"` + c.template + `",` + c.vars + `}`
			conv := wantConversation(t, send(t, h, b), "pending")
			if conv.Messages[0].Content != c.content || conv.Contact.Name != c.contact {
				t.Errorf("content %q, contact %q; want %q, %q", conv.Messages[0].Content, conv.Contact.Name, c.content, c.contact)
			}
		})
	}
	wantError(t, send(t, h, `{"inbox_id":"main","phone_number":"+5511987654321","template_name":"contact_card","contact.name":"Ana","custom_code":1}`),
		http.StatusUnprocessableEntity, "missing template variables: contact_email")
}

func TestPositionalTemplate(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	const head = `{"inbox_id":"main","phone_number":"+5511987654321","template_name":"welcome",`
	for _, c := range []struct{ vars, content string }{
		{`"1":"Ana","2":"Loja Azul"`, "Olá Ana, bem-vindo à Loja Azul!"},
		{`"2":"Loja Azul","1":"Ana","extra":"ignored"`, "Olá Ana, bem-vindo à Loja Azul!"},
		{`"name":"Ana","company":"Loja Azul"`, "Olá Ana, bem-vindo à Loja Azul!"},
		{`"company":"Loja Azul","name":"Ana"`, "Olá Loja Azul, bem-vindo à Ana!"},
		{`"1":7,"2":true`, "Olá 7, bem-vindo à true!"},
	} {
		conv := wantConversation(t, send(t, h, head+c.vars+`}`), "pending")
		if conv.Messages[0].Content != c.content {
			t.Errorf("%s: content %q, want %q", c.vars, conv.Messages[0].Content, c.content)
		}
		m := stored(t, e, conv.Messages[0].ID)
		if n := m.Template.ParamCount("body"); n != 2 {
			t.Errorf("%s: %d body params stored", c.vars, n)
		}
	}
	wantError(t, send(t, h, head+`"name":"Ana"}`), http.StatusUnprocessableEntity, "missing template variables: 2", "takes 2 variables", "name")
	wantError(t, send(t, h, head+`"name":"Ana","company":"X","custom_code":"1"}`), http.StatusUnprocessableEntity, "too many template variables", "has 3")
	wantError(t, send(t, h, head+`"1":"Ana","name":"x"}`), http.StatusUnprocessableEntity, "missing template variables: 2")
	if msg := wantError(t, send(t, h, head[:len(head)-1]+`}`), http.StatusUnprocessableEntity); msg != "missing template variables: 1, 2" {
		t.Errorf("error = %q", msg)
	}
}

func TestConversationLimitIsPaymentRequired(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Store.PutTenant(ctx, domain.Tenant{ID: e.Tenant, Name: "Demo", CountryCode: demo.CountryCode, ConversationLimit: 1}); err != nil {
		t.Fatal(err)
	}
	shard := e.Firestore.Collection("tenants").Doc(e.Tenant).Collection("counters").Doc("conversations-" + domain.MonthKey(time.Now())).Collection("shards").Doc("0")
	if _, err := shard.Set(ctx, map[string]any{"count": 1}); err != nil {
		t.Fatal(err)
	}
	wantError(t, send(t, handler(e), body(nil)), http.StatusPaymentRequired, "conversation limit reached")
	if n := written(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents written past the limit", n)
	}
}

func TestRoutes(t *testing.T) {
	e := apptest.New(t)
	h := handler(e)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, sendPath(demo.TenantID), http.StatusMethodNotAllowed},
		{http.MethodPost, "/api/v1/accounts/demo/conversations", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusNotFound},
		{http.MethodPost, "/api/v1/accounts//conversations/create_proactive_whatsapp_conversation", http.StatusNotFound},
	} {
		r := httptest.NewRequest(c.method, c.path, strings.NewReader(body(nil)))
		r.Header.Set("api_access_token", apptest.Token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusUnauthorized {
			wantUnauthorized(t, w)
			continue
		}
		wantError(t, w, c.code)
	}
	if n := written(t, e, e.Tenant); n != 0 {
		t.Errorf("%d documents written by other routes", n)
	}
}

// bytesEqual reports a difference with context.
func bytesEqual(t testing.TB, what string, a, b []byte) {
	t.Helper()
	if !bytes.Equal(a, b) {
		t.Errorf("%s differ:\n%s\n%s", what, a, b)
	}
}
