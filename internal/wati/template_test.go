package wati_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
)

const welcomeBody = `{"template_name":"welcome","broadcast_name":"boas-vindas","parameters":[{"name":"1","value":"Maria"},{"name":"2","value":"Loja"}]}`

func sendTemplate(f *fixture, t *testing.T, phone, body string, header ...string) map[string]any {
	t.Helper()
	w := f.call(t, http.MethodPost, path("sendTemplateMessage?whatsappNumber="+phone), apptest.Token, body, header...)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", w.Code, w.Body.String())
	}
	return obj(t, w)
}

func TestSendTemplateMessage(t *testing.T) {
	f := newFixture(t)
	a := sendTemplate(f, t, "5511987651101", welcomeBody)
	if a["result"] != true || a["validWhatsAppNumber"] != true || str(t, a, "phoneNumber") != "5511987651101" || str(t, a, "templateName") != "welcome" {
		t.Errorf("answer %v", a)
	}
	ids := list(t, a, "model.ids")
	if len(ids) != 1 {
		t.Fatalf("model.ids %v, want one message id", ids)
	}
	if c := at(t, a, "contact").(map[string]any); c["phone"] != "5511987651101" || c["wAid"] != "5511987651101" || c["fullName"] != "5511987651101" || c["contactStatus"] != "VALID" {
		t.Errorf("contact %v", c)
	}
	m, err := f.Store.Message(context.Background(), f.Tenant, ids[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	if m.TemplateID != "welcome" || m.Channel != demo.ChannelID || m.PhoneNumber != "5511987651101" || m.ClientRef != "boas-vindas" ||
		m.Template.ParamCount("body") != 2 || m.Template.Components[0].Parameters[0].Text != "Maria" || m.Status != domain.StatusAccepted {
		t.Errorf("stored %+v", m)
	}

	// A known contact is shown under its name; a leading + and numbers
	// written as JSON numbers are taken.
	if w := f.call(t, http.MethodPost, path("addContact/5511987651101"), apptest.Token, `{"name":"Maria Souza"}`); w.Code != http.StatusOK {
		t.Fatalf("addContact %d %s", w.Code, w.Body.String())
	}
	a = sendTemplate(f, t, "%2B5511987651101", `{"template_name":"order_update","parameters":[{"name":"first_name","value":"Maria"},{"name":"order_id","value":42}]}`)
	if c := at(t, a, "contact").(map[string]any); c["fullName"] != "Maria Souza" || c["firstName"] != "Maria" {
		t.Errorf("known contact %v", c)
	}
	m, _ = f.Store.Message(context.Background(), f.Tenant, list(t, a, "model.ids")[0].(string))
	if got := domain.TemplateText(mustTemplate(t, f, "order_update"), m.Template); got != "Hi Maria, your order 42 has shipped." {
		t.Errorf("named params rendered %q", got)
	}
}

func mustTemplate(t *testing.T, f *fixture, id string) domain.Template {
	t.Helper()
	tpl, err := f.Catalog.Template(context.Background(), f.Tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestSendTemplateMessageChoosesTheNumber: channelNumber names the sending
// number by its digits (with or without +) or its id; without it the
// default number sends.
func TestSendTemplateMessageChoosesTheNumber(t *testing.T) {
	f := newFixture(t)
	for ref, want := range map[string]string{
		`"channelNumber":"` + secondNumber + `",`:       secondChannel,
		`"channelNumber":"+` + secondNumber + `",`:      secondChannel,
		`"channelNumber":` + secondNumber + `,`:         secondChannel,
		`"channelNumber":"` + demo.DisplayNumber + `",`: demo.ChannelID,
		``: demo.ChannelID,
	} {
		a := sendTemplate(f, t, "5511987651102", strings.Replace(welcomeBody, "{", "{"+ref, 1))
		m, err := f.Store.Message(context.Background(), f.Tenant, list(t, a, "model.ids")[0].(string))
		if err != nil || m.Channel != want {
			t.Errorf("%q sent from %q (%v), want %s", ref, m.Channel, err, want)
		}
	}
}

func TestSendTemplateMessageRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	disconnected := demo.Channel()
	disconnected.ID, disconnected.DisplayNumber, disconnected.PhoneNumberID, disconnected.Default, disconnected.Connected = "off", "5511999990002", "100000000000003", false, false
	if err := f.Store.PutChannel(ctx, f.Tenant, disconnected); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query, body string
		code              int
		info              []string
	}{
		{"no number", "", welcomeBody, 400, []string{"whatsappNumber: required"}},
		{"letters in the number", "?whatsappNumber=55119876abc", welcomeBody, 400, []string{"whatsappNumber", "country code"}},
		{"impossible number", "?whatsappNumber=55667788", welcomeBody, 400, []string{"whatsappNumber"}},
		{"empty body", "?whatsappNumber=5511987651103", "", 400, []string{"no data to send"}},
		{"not JSON", "?whatsappNumber=5511987651103", "template_name=welcome", 400, []string{"no data to send"}},
		{"parameters not a list", "?whatsappNumber=5511987651103", `{"template_name":"welcome","parameters":{"1":"a"}}`, 400, []string{"parameters"}},
		{"parameter value an object", "?whatsappNumber=5511987651103", `{"template_name":"welcome","parameters":[{"name":"1","value":{"a":1}},{"name":"","value":"x"}]}`, 400, []string{"parameters[0].value", "parameters[1].name"}},
		{"no template name", "?whatsappNumber=5511987651103", `{"parameters":[]}`, 400, []string{"template without id or message"}},
		{"unknown template", "?whatsappNumber=5511987651103", `{"template_name":"farewell"}`, 400, []string{"farewell"}},
		{"missing params", "?whatsappNumber=5511987651103", `{"template_name":"welcome","parameters":[{"name":"1","value":"Maria"}]}`, 400, []string{"missing template params: 2"}},
		{"unknown number", "?whatsappNumber=5511987651103", `{"template_name":"welcome","channelNumber":"5511000000000","parameters":[{"name":"1","value":"a"},{"name":"2","value":"b"}]}`, 400, []string{"channelNumber"}},
		{"disconnected number", "?whatsappNumber=5511987651103", `{"template_name":"welcome","channelNumber":"5511999990002","parameters":[{"name":"1","value":"a"},{"name":"2","value":"b"}]}`, 400, []string{"channel not connected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFail(t, f.call(t, http.MethodPost, path("sendTemplateMessage"+tt.query), apptest.Token, tt.body), tt.code, tt.info...)
		})
	}
	big := `{"template_name":"welcome","broadcast_name":"` + strings.Repeat("x", request.MaxBody) + `"}`
	wantFail(t, f.call(t, http.MethodPost, path("sendTemplateMessage?whatsappNumber=5511987651103"), apptest.Token, big), http.StatusRequestEntityTooLarge, "too large")
	if n, c := len(f.messages(t, f.Tenant)), f.contactDocs(t, f.Tenant); n != 0 || c != 0 {
		t.Errorf("refused sends wrote %d messages and %d contacts", n, c)
	}
}

func TestSendTemplateMessageConversationLimit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.Store.PutTenant(ctx, domain.Tenant{ID: f.Tenant, Name: "Demo", CountryCode: demo.CountryCode, ConversationLimit: 1}); err != nil {
		t.Fatal(err)
	}
	shard := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("counters").Doc("conversations-" + domain.MonthKey(time.Now())).Collection("shards").Doc("0")
	if _, err := shard.Set(ctx, map[string]any{"count": 1}); err != nil {
		t.Fatal(err)
	}
	wantFail(t, f.call(t, http.MethodPost, path("sendTemplateMessage?whatsappNumber=5511987651104"), apptest.Token, welcomeBody), http.StatusTooManyRequests, "conversation limit reached")
}

func TestSendTemplateMessageIdempotency(t *testing.T) {
	f := newFixture(t)
	first := f.call(t, http.MethodPost, path("sendTemplateMessage?whatsappNumber=5511987651105"), apptest.Token, welcomeBody, "Idempotency-Key", "k-1")
	again := f.call(t, http.MethodPost, path("sendTemplateMessage?whatsappNumber=5511987651105"), apptest.Token, welcomeBody, "Idempotency-Key", "k-1")
	if first.Code != 200 || again.Code != 200 || first.Body.String() != again.Body.String() {
		t.Fatalf("retry answered %d %s, first %d %s", again.Code, again.Body.String(), first.Code, first.Body.String())
	}
	wantFail(t, f.call(t, http.MethodPost, path("sendTemplateMessage?whatsappNumber=5511987651106"), apptest.Token, welcomeBody, "Idempotency-Key", "k-1"),
		http.StatusUnprocessableEntity, "Idempotency-Key")
	if n := len(f.messages(t, f.Tenant)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

// TestSendTemplateMessageReachesTheProvider runs the send through dispatch
// and the sandbox: the Wati parameters become Meta's body parameters.
func TestSendTemplateMessageReachesTheProvider(t *testing.T) {
	f := newFixture(t)
	serveDispatch(t, f)
	a := sendTemplate(f, t, "5511987651107", welcomeBody)
	id := list(t, a, "model.ids")[0].(string)
	m := f.WaitStatus(t, id, domain.StatusPending)
	var got []string
	for _, r := range f.Sandbox.Requests() {
		if r.CallbackData == id {
			for _, p := range r.Template.Components[0].Parameters {
				got = append(got, p.Text)
			}
		}
	}
	if !slices.Equal(got, []string{"Maria", "Loja"}) || m.ProviderMessageID == "" {
		t.Errorf("provider got %v; message %+v", got, m)
	}
}
