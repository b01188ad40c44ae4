package wati_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

func addContact(f *fixture, t *testing.T, phone, body string) map[string]any {
	t.Helper()
	w := f.call(t, http.MethodPost, path("addContact/"+phone), apptest.Token, body)
	if w.Code != http.StatusOK {
		t.Fatalf("addContact: %d %s", w.Code, w.Body.String())
	}
	return obj(t, w)
}

// params reads a contact view's customParams as a map.
func params(t *testing.T, c map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range c["customParams"].([]any) {
		p := p.(map[string]any)
		out[p["name"].(string)] = p["value"].(string)
	}
	return out
}

func TestAddContactCreatesThenUpdates(t *testing.T) {
	f := newFixture(t)
	a := addContact(f, t, "5511987655501", `{"name":"Maria Souza","customParams":[{"name":"city","value":"Recife"},{"name":"plan","value":"gold"}]}`)
	c := at(t, a, "contact").(map[string]any)
	if a["result"] != true || a["info"] != "Contact added" || c["fullName"] != "Maria Souza" || c["firstName"] != "Maria" || c["wAid"] != "5511987655501" ||
		c["created"] == "" || c["lastUpdated"] == "" || fmt.Sprint(params(t, c)) != "map[city:Recife plan:gold]" {
		t.Errorf("added %v", a)
	}
	a = addContact(f, t, "+5511987655501", `{"customParams":[{"name":"city","value":"Natal"},{"name":"vip","value":true}]}`)
	c = at(t, a, "contact").(map[string]any)
	if a["info"] != "Contact updated" || c["fullName"] != "Maria Souza" || fmt.Sprint(params(t, c)) != "map[city:Natal plan:gold vip:true]" {
		t.Errorf("updated %v", a)
	}
	if a := addContact(f, t, "5511987655502", ""); a["info"] != "Contact added" {
		t.Errorf("a contact with no body: %v", a)
	}
	got, err := f.Store.Contact(context.Background(), f.Tenant, "5511987655501")
	if err != nil || got.Name != "Maria Souza" || got.CustomParams["city"] != "Natal" {
		t.Errorf("stored %+v (%v)", got, err)
	}
}

func TestContactRefusals(t *testing.T) {
	f := newFixture(t)
	many := make([]string, domain.MaxParams+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"name":"p%d","value":"x"}`, i)
	}
	tests := []struct {
		name, path, body, info string
	}{
		{"add: bad number", "addContact/abc", `{"name":"x"}`, "whatsappNumber"},
		{"add: not JSON", "addContact/5511987655511", `name=x`, "no data to send"},
		{"add: name a number", "addContact/5511987655511", `{"name":5}`, "name: must be a string"},
		{"add: value an object", "addContact/5511987655511", `{"customParams":[{"name":"a","value":{}}]}`, "customParams[0].value"},
		{"add: reserved name", "addContact/5511987655511", `{"customParams":[{"name":"__id__","value":"x"}]}`, "reserved"},
		{"add: name too long", "addContact/5511987655511", `{"name":"` + strings.Repeat("n", domain.MaxNameLength+1) + `"}`, "at most 256"},
		{"add: too many params", "addContact/5511987655511", `{"customParams":[` + strings.Join(many, ",") + `]}`, "customParams: at most 100 entries, got 101"},
		{"attributes: none", "updateContactAttributes/5511987655511", `{"customParams":[]}`, "customParams: required"},
		{"attributes: no body", "updateContactAttributes/5511987655511", ``, "no data to send"},
		{"attributes: bad number", "updateContactAttributes/0011987655511", `{"customParams":[{"name":"a","value":"b"}]}`, "whatsappNumber"},
		{"attributes: nameless param", "updateContactAttributes/5511987655511", `{"customParams":[{"value":"b"}]}`, "customParams[0].name: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFail(t, f.call(t, http.MethodPost, path(tt.path), apptest.Token, tt.body), http.StatusBadRequest, tt.info)
		})
	}
	if n := f.contactDocs(t, f.Tenant); n != 0 {
		t.Errorf("refused requests stored %d contacts", n)
	}
}

func TestUpdateContactAttributes(t *testing.T) {
	f := newFixture(t)
	addContact(f, t, "5511987655521", `{"name":"Ana","customParams":[{"name":"city","value":"Recife"}]}`)
	for phone, want := range map[string]string{
		"5511987655521": "map[city:Olinda stage:lead]",
		"5511987655522": "map[city:Olinda stage:lead]", // created, so the attributes are kept
	} {
		w := f.call(t, http.MethodPost, path("updateContactAttributes/"+phone), apptest.Token, `{"customParams":[{"name":"city","value":"Olinda"},{"name":"stage","value":"lead"}]}`)
		if a := obj(t, w); w.Code != 200 || a["result"] != true || a["info"] != "2 contact attributes updated" {
			t.Errorf("%s: %d %v", phone, w.Code, a)
		}
		c, err := f.Store.Contact(context.Background(), f.Tenant, phone)
		if err != nil || fmt.Sprint(c.CustomParams) != want {
			t.Errorf("%s: %+v (%v)", phone, c.CustomParams, err)
		}
	}
	if c, _ := f.Store.Contact(context.Background(), f.Tenant, "5511987655521"); c.Name != "Ana" {
		t.Errorf("attributes changed the name to %q", c.Name)
	}
}

func getContacts(f *fixture, t *testing.T, query string) (map[string]any, []string) {
	t.Helper()
	w := f.call(t, http.MethodGet, path("getContacts"+query), apptest.Token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("getContacts%s: %d %s", query, w.Code, w.Body.String())
	}
	a := obj(t, w)
	var phones []string
	for _, c := range list(t, a, "contact_list") {
		phones = append(phones, c.(map[string]any)["phone"].(string))
	}
	return a, phones
}

func TestGetContactsPagesAndFilters(t *testing.T) {
	f := newFixture(t)
	addContact(f, t, "5511987655533", `{"name":"Maria Souza","customParams":[{"name":"city","value":"Recife"},{"name":"parent_email","value":"ana@example.com"}]}`)
	addContact(f, t, "5511987655531", `{"name":"João Lima","customParams":[{"name":"city","value":"Natal"}]}`)
	addContact(f, t, "5511987655532", `{"customParams":[{"name":"City","value":"recife"},{"name":"vip","value":"yes"}]}`)
	// A contact first stored by an inbound message, under its WhatsApp name.
	in := store.Inbound{ID: "wamid.mariana", Channel: demo.ChannelID, Phone: "5511987655534", ProfileName: "Mariana", Type: "text", Text: "oi", At: time.Now()}
	if err := f.Store.PutInbound(context.Background(), f.Tenant, in); err != nil {
		t.Fatal(err)
	}

	a, phones := getContacts(f, t, "")
	if !slices.Equal(phones, []string{"5511987655531", "5511987655532", "5511987655533", "5511987655534"}) || a["result"] != "success" || num(t, a, "link.total") != 4 {
		t.Errorf("all: %v %v", phones, a["link"])
	}
	a, phones = getContacts(f, t, "?pageSize=3&pageNumber=2")
	if !slices.Equal(phones, []string{"5511987655534"}) || at(t, a, "link.prevPage") == nil || at(t, a, "link.nextPage") != nil || num(t, a, "link.total") != 4 {
		t.Errorf("page 2: %v %v", phones, a["link"])
	}
	today := time.Now().UTC()
	attr := func(s string) string { return "?attribute=" + url.QueryEscape(s) }
	for q, want := range map[string][]string{
		"?name=maria":            {"5511987655533", "5511987655534"},
		"?name=MARIA%20S":        {"5511987655533"},
		"?name=987655532":        {"5511987655532"},
		"?name=5511987655531":    {"5511987655531"},
		"?name=%2B5511987655531": {"5511987655531"},
		"?name=5511987655599":    nil,
		"?name=%2B5511987655599": nil,
		"?name=%2B55119876555":   nil,
		"?name=%2B1":             nil,
		attr(`[{"name":"city","operator":"contain","value":"REC"}]`):                                       {"5511987655532", "5511987655533"},
		attr(`[{"name":"city","operator":"==","value":"natal"}]`):                                          {"5511987655531"},
		attr(`[{"name":"city","operator":"!=","value":"natal"}]`):                                          {"5511987655532", "5511987655533", "5511987655534"},
		attr(`[{"name":"vip","operator":"exist"}]`):                                                        {"5511987655532"},
		attr(`[{"name":"vip","operator":"notExist"},{"name":"city","operator":"notContain","value":"n"}]`): {"5511987655533", "5511987655534"},
		attr(`[{name: "parent_email", operator: "contain", value: "ana@"}]`):                               {"5511987655533"},
		attr(`{"name":"phone","operator":"contain","value":"5511987655532"}`):                              {"5511987655532"},
		attr(`[{"name":"wAid","operator":"contain","value":"55534"}]`):                                     {"5511987655534"},
		"?attribute=city&attributeValue=Natal":                                                             {"5511987655531"},
		"?attribute=vip":                                                                                   {"5511987655532"},
		"?createdDate=" + today.Format("2006-01-02"):                                                       {"5511987655531", "5511987655532", "5511987655533", "5511987655534"},
		"?createdDate=" + today.Format("01/02/2006") + "&name=jo":                                          {"5511987655531"},
		"?createdDate=" + today.AddDate(0, 0, -1).Format("01-02-2006"):                                     nil,
	} {
		if _, got := getContacts(f, t, q); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	a, phones = getContacts(f, t, "?name=mari&pageSize=1&pageNumber=2")
	if !slices.Equal(phones, []string{"5511987655534"}) || num(t, a, "link.total") != 2 {
		t.Errorf("filtered page 2: %v %v", phones, a["link"])
	}
	if a, _ := getContacts(f, t, "?name=%2B5511987655531&pageNumber=2"); len(list(t, a, "contact_list")) != 0 || num(t, a, "link.total") != 1 {
		t.Errorf("a pinned contact's page 2: %v", a)
	}
	for q, info := range map[string]string{
		"?attribute=" + url.QueryEscape(`[{"name":"city","operator":"like-ish","value":"x"}]`): "operator",
		"?attribute=" + url.QueryEscape(`[{"name":"city","operator":"contain"}]`):              "needs a value",
		"?attribute=" + url.QueryEscape(`[{"operator":"exist"}]`):                              "name",
		"?attribute=" + url.QueryEscape(`[{"name":"city"`):                                     "JSON list",
		"?createdDate=yesterday": "createdDate",
		"?pageSize=1000":         "pageSize",
	} {
		wantFail(t, f.call(t, http.MethodGet, path("getContacts"+q), apptest.Token, ""), http.StatusBadRequest, info)
	}
}

func TestUpdateChatStatusPerNumber(t *testing.T) {
	f := newFixture(t)
	const phone = "5511987655541"
	addContact(f, t, phone, `{"name":"Ana"}`)
	for _, tc := range []struct {
		query, body, channel string
		want                 domain.ChatStatus
	}{
		{"", `{"whatsappNumber":"` + phone + `","chatStatus":"Solved"}`, demo.ChannelID, domain.ChatSolved},
		{"", `{"whatsappNumber":` + phone + `,"chatStatus":"pending","channelPhoneNumber":"` + secondNumber + `"}`, secondChannel, domain.ChatPending},
		{"?whatsappNumber=" + phone + "&channelPhoneNumber=" + secondNumber, `{"chatStatus":"closed"}`, secondChannel, domain.ChatClosed},
	} {
		w := f.call(t, http.MethodPost, path("updateChatStatus"+tc.query), apptest.Token, tc.body)
		if a := obj(t, w); w.Code != 200 || a["result"] != true || !strings.Contains(a["info"].(string), string(tc.want)) {
			t.Errorf("%s %s: %d %v", tc.query, tc.body, w.Code, a)
		}
		c, err := f.Store.Contact(context.Background(), f.Tenant, phone)
		if err != nil || c.ChatStatus[tc.channel] != tc.want || c.Name != "Ana" {
			t.Errorf("stored %+v (%v), want %s on %s", c.ChatStatus, err, tc.want, tc.channel)
		}
	}
	wantFail(t, f.call(t, http.MethodPost, path("updateChatStatus"), apptest.Token, `{"whatsappNumber":"5511987655542","chatStatus":"open"}`), http.StatusNotFound, "no contact 5511987655542")
	wantFail(t, f.call(t, http.MethodPost, path("updateChatStatus"), apptest.Token, `{"whatsappNumber":"`+phone+`","chatStatus":"done"}`), http.StatusBadRequest, "chatStatus: must be open, pending, solved or closed")
	wantFail(t, f.call(t, http.MethodPost, path("updateChatStatus"), apptest.Token, `{"chatStatus":"open","channelPhoneNumber":"1"}`), http.StatusBadRequest, "whatsappNumber: required")
	wantFail(t, f.call(t, http.MethodPost, path("updateChatStatus"), apptest.Token, `{"whatsappNumber":"`+phone+`","chatStatus":"open","channelPhoneNumber":"5511000000000"}`), http.StatusBadRequest, "channelPhoneNumber")
	if n := f.contactDocs(t, f.Tenant); n != 1 {
		t.Errorf("%d contacts, want 1: a chat status creates none", n)
	}
}
