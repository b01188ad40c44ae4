package wati_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
)

// endpoints is one valid call of every endpoint, on the demo's paths.
var endpoints = []struct{ method, path, body string }{
	{http.MethodPost, path("sendTemplateMessage?whatsappNumber=5511987656601"), welcomeBody},
	{http.MethodPost, path("sendTemplateMessages"), `{"template_name":"welcome","receivers":[{"whatsappNumber":"5511987656601","customParams":[{"name":"1","value":"a"},{"name":"2","value":"b"}]}]}`},
	{http.MethodPost, path("sendSessionMessage/5511987656601?messageText=oi"), ""},
	{http.MethodGet, path("getMessages/5511987656601"), ""},
	{http.MethodPost, path("addContact/5511987656601"), `{"name":"Ana"}`},
	{http.MethodPost, path("updateContactAttributes/5511987656601"), `{"customParams":[{"name":"a","value":"b"}]}`},
	{http.MethodGet, path("getContacts"), ""},
	{http.MethodPost, path("updateChatStatus"), `{"whatsappNumber":"5511987656601","chatStatus":"open"}`},
}

// TestEveryEndpointNeedsTheTenantsToken: no token, a wrong one and
// another tenant's valid one are all 401, with nothing written.
func TestEveryEndpointNeedsTheTenantsToken(t *testing.T) {
	f := newFixture(t)
	for _, ep := range endpoints {
		for _, token := range []string{"", "nope", otherToken} {
			w := f.call(t, ep.method, ep.path, token, ep.body)
			wantFail(t, w, http.StatusUnauthorized, "incorrect token")
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %q: no WWW-Authenticate", ep.method, ep.path, token)
			}
		}
	}
	if n, c := len(f.messages(t, f.Tenant))+len(f.messages(t, otherTenant)), f.contactDocs(t, f.Tenant)+f.contactDocs(t, otherTenant); n != 0 || c != 0 || f.batches.created() != 0 {
		t.Errorf("refused calls wrote %d messages, %d contacts, %d batches", n, c, f.batches.created())
	}
	// The token as Wati's dashboard shows it, "Bearer …", or bare.
	w := serve(t, f.h, http.MethodGet, path("getContacts"), "", "", "Authorization", apptest.Token)
	if w.Code != http.StatusOK {
		t.Errorf("bare token: %d %s", w.Code, w.Body.String())
	}
}

// TestTenantsSeeOnlyTheirOwn: one tenant's contacts, messages and chat
// never show on another's paths, even for the same phone number.
func TestTenantsSeeOnlyTheirOwn(t *testing.T) {
	f := newFixture(t)
	const phone = "5511987656611"
	addContact(f, t, phone, `{"name":"Ana","customParams":[{"name":"secret","value":"demo's"}]}`)
	f.openWindow(t, demo.ChannelID, phone, time.Now())
	sendTemplate(f, t, phone, welcomeBody)

	other := func(method, rest, body string) map[string]any {
		t.Helper()
		w := f.call(t, method, "/"+otherTenant+"/api/v1/"+rest, otherToken, body)
		if w.Code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, rest, w.Code, w.Body.String())
		}
		return obj(t, w)
	}
	if a := other(http.MethodGet, "getContacts", ""); len(list(t, a, "contact_list")) != 0 || num(t, a, "link.total") != 0 {
		t.Errorf("other tenant's contacts: %v", a)
	}
	if a := other(http.MethodGet, "getMessages/"+phone, ""); len(list(t, a, "messages.items")) != 0 {
		t.Errorf("other tenant's messages: %v", a)
	}
	// Its own contact under the same number is its own.
	a := other(http.MethodPost, "addContact/"+phone, `{"name":"Bia"}`)
	if a["info"] != "Contact added" || len(params(t, at(t, a, "contact").(map[string]any))) != 0 {
		t.Errorf("other tenant's addContact: %v", a)
	}
	// Nor may it send inside the demo's window.
	wantFail(t, f.call(t, http.MethodPost, "/"+otherTenant+"/api/v1/sendSessionMessage/"+phone+"?messageText=oi", otherToken, ""), http.StatusBadRequest, "window is closed")
	wantFail(t, f.call(t, http.MethodPost, "/"+otherTenant+"/api/v1/updateChatStatus", otherToken, `{"whatsappNumber":"5511987656612","chatStatus":"open"}`), http.StatusNotFound)

	_, phones := getContacts(f, t, "")
	if !slices.Equal(phones, []string{phone}) {
		t.Errorf("demo's contacts %v", phones)
	}
	if c := at(t, obj(t, f.call(t, http.MethodPost, path("addContact/"+phone), apptest.Token, "")), "contact").(map[string]any); c["fullName"] != "Ana" {
		t.Errorf("the other tenant's contact changed the demo's: %v", c)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	f := newFixture(t)
	wantFail(t, f.call(t, http.MethodPost, path("sendTemplateMessageX"), apptest.Token, "{}"), http.StatusNotFound, "not found")
	wantFail(t, f.call(t, http.MethodGet, "/", apptest.Token, ""), http.StatusNotFound, "not found")
	wantFail(t, f.call(t, http.MethodGet, path("sendTemplateMessage"), apptest.Token, ""), http.StatusMethodNotAllowed, "GET")
}
