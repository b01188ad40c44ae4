package security_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// scopedRoute is one route of every HTTP function that authenticates,
// with the scopes that may use it and its dialect's 403.
type scopedRoute struct {
	call
	scopes    []domain.Scope
	forbidden string // a regular expression the whole 403 matches
	// readsBody: emkt's transaction, and so its scope, is in the body.
	readsBody bool
	// send routes must answer a send-only key with a 2xx.
	send bool
}

func (r scopedRoute) with(token string) call {
	c := r.call
	c.header = bearer(token)
	if r.fn == fnCloudChat {
		c.header = []string{"api_access_token", token}
	}
	return c
}

// scopedRoutes is every authenticated route. Sends go to phones of
// their own, so no send meets another's conversation or key.
func scopedRoutes() []scopedRoute {
	send, read := []domain.Scope{domain.ScopeSend}, []domain.Scope{domain.ScopeReadMessages}
	templates := []domain.Scope{domain.ScopeSend, domain.ScopeReadMessages}
	contacts := []domain.Scope{domain.ScopeContacts}
	atom := func(s string) string {
		return `\{"success":false,"message":"forbidden: this key lacks the ` + s + ` scope"\}`
	}
	msg := `\{"error":\{"code":"permission_denied","message":"forbidden: this key lacks the read:messages scope"\}\}`
	emkt := func(s string) string {
		return `<main><emkt trans="[0-9.]+" KEY="[0-9a-f]{28}"><erro>forbidden: this key lacks the ` + s + ` scope</erro></emkt></main>`
	}
	rs := []scopedRoute{
		{call: call{fn: fnTemplates, method: http.MethodPost, path: "/", body: atomSend("5511987652001", "x")}, scopes: send, forbidden: atom("send"), send: true},
		{call: call{fn: fnTemplates, method: http.MethodGet, path: "/"}, scopes: templates, forbidden: atom("send or read:messages")},
		{call: call{fn: fnTemplates, method: http.MethodGet, path: "/welcome"}, scopes: templates, forbidden: atom("send or read:messages")},
		{call: call{fn: fnMessages, method: http.MethodGet, path: "/"}, scopes: read, forbidden: msg},
		{call: call{fn: fnMessages, method: http.MethodGet, path: "/abc123"}, scopes: read, forbidden: msg},
		{call: call{fn: fnCloudChat, method: http.MethodPost, path: cloudchatPath(demo.TenantID), body: cloudchatSend("5511987652002", demo.ChannelID)},
			scopes: send, forbidden: `\{"error":"forbidden: this key lacks the send scope"\}`, send: true},
		{call: call{fn: fnEmkt, method: http.MethodPost, path: "/", body: emktSend(demo.SenderCode, "alerta1", "", "11987652003")},
			scopes: send, forbidden: emkt("send"), readsBody: true, send: true},
		{call: call{fn: fnEmkt, method: http.MethodPost, path: "/", body: emktStatus("LOTE1")}, scopes: read, forbidden: emkt("read:messages"), readsBody: true},
	}
	for _, w := range watiRoutes("/" + demo.TenantID + "/api/v1/") {
		scopes, what := contacts, "contacts"
		switch w.name {
		case "sendTemplateMessage", "sendTemplateMessages", "sendSessionMessage":
			scopes, what = send, "send"
		case "getMessages":
			scopes, what = read, "read:messages"
		}
		info := "forbidden: this key lacks the " + what + " scope"
		answer := `\{"result":false,"info":"` + info + `"\}`
		switch w.name {
		case "sendSessionMessage":
			answer = `\{"ok":false,"result":false,"info":"` + info + `"\}`
		case "sendTemplateMessages":
			answer = `\{"result":false,"info":"` + info + `","errors":\{"error":"` + info + `","invalidWhatsappNumbers":\[\],"invalidCustomParameters":\[\]\}\}`
		}
		rs = append(rs, scopedRoute{call: call{fn: fnWati, method: w.method, path: w.path, body: w.body}, scopes: scopes, forbidden: answer, send: slices.Equal(scopes, send)})
	}
	return rs
}

// putKey stores a key of the demo tenant with these scopes.
func putKey(t *testing.T, g *gateway, grant domain.Token) string {
	t.Helper()
	key, id := domain.NewKey()
	grant.Tenant, grant.Integration, grant.KeyID = demo.TenantID, "scoped", id
	if err := g.Store.PutToken(context.Background(), key, grant); err != nil {
		t.Fatal(err)
	}
	return key
}

// openWindow lets the demo channel send free-form text to phone, as an
// inbound message from it would.
func openWindow(t *testing.T, g *gateway, phone string) {
	t.Helper()
	ref := g.Firestore.Collection("tenants").Doc(demo.TenantID).Collection("contacts").Doc(phone)
	_, err := ref.Set(context.Background(), map[string]any{"phone": phone, "windows": map[string]any{demo.ChannelID: time.Now().Add(time.Hour)}}, firestore.MergeAll)
	if err != nil {
		t.Fatal(err)
	}
}

// A key is served on the routes of its scopes and refused everywhere
// else with its dialect's 403, having read none of the tenant's data, no
// body (but emkt's, which names the transaction) and written nothing. A
// send-only key sends on every send route of every dialect.
func TestKeysAreServedOnlyWithinTheirScopes(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	openWindow(t, g, victimPhone)
	keys := map[string]string{}
	for _, s := range domain.AllScopes() {
		keys[string(s)] = putKey(t, g, domain.Token{Scopes: []domain.Scope{s}, DefaultChannel: demo.ChannelID})
	}
	routes := scopedRoutes()
	sends := 0
	for _, scope := range domain.AllScopes() {
		key := keys[string(scope)]
		for _, r := range routes {
			if slices.Contains(r.scopes, scope) {
				w, _ := g.serve(t, r.with(key))
				switch {
				case r.send && scope == domain.ScopeSend:
					sends++
					if w.Code < 200 || w.Code > 299 {
						t.Errorf("%s with a send-only key: %d %s, want a 2xx", r.call, w.Code, w.Body.String())
					}
				case w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden || w.Code >= 500:
					t.Errorf("%s with a %s key: %d %s", r.call, scope, w.Code, w.Body.String())
				}
				continue
			}
			forbidden(t, g, r, r.with(key), string(scope))
		}
	}
	if sends != 6 {
		t.Errorf("%d send routes tried, want every one: Atom, CloudChat, emkt 50.01, Wati's three", sends)
	}
}

// forbidden sends c and checks the 403.
func forbidden(t *testing.T, g *gateway, r scopedRoute, c call, what string) {
	t.Helper()
	body := &counting{r: strings.NewReader(c.body)}
	req := httptest.NewRequest(c.method, c.path, body)
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Set(c.header[i], c.header[i+1])
	}
	w, rpcs := g.serveRequest(t, c.fn, req)
	if w.Code != http.StatusForbidden || !regexp.MustCompile(`^`+r.forbidden+`\s*$`).MatchString(w.Body.String()) {
		t.Errorf("%s with a %s key: %d %s, want 403 %s", c, what, w.Code, w.Body.String(), r.forbidden)
	}
	if n := body.n.Load(); n != 0 && !r.readsBody {
		t.Errorf("%s with a %s key: %d bytes of the body read before the scope was checked", c, what, n)
	}
	if x := touching(rpcs, demo.TenantID); len(x) != 0 || writesIn(rpcs) != 0 {
		t.Errorf("%s with a %s key: the refusal asked Firestore:%s", c, what, describe(rpcs))
	}
}

// A key limited to some channels sends from them only: a send naming
// another channel, or naming none when the tenant's default is another,
// is 403 in every dialect; the same send from its own channel goes.
func TestKeysSendOnlyFromTheirChannels(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	ctx := context.Background()
	second := domain.Channel{ID: "second", DisplayNumber: "5511900002222", PhoneNumberID: "900000000000222", WABAID: demo.WABAID,
		Provider: "meta", SecretRef: "env:" + demo.AccessTokenEnv, SenderCode: "SEGUNDO", CountryCode: "55", Connected: true, MessagesPerSecond: 80}
	if err := g.Store.PutChannel(ctx, demo.TenantID, second); err != nil {
		t.Fatal(err)
	}
	mainOnly := putKey(t, g, domain.Token{Scopes: []domain.Scope{domain.ScopeSend}, Channels: []string{demo.ChannelID}})
	secondOnly := putKey(t, g, domain.Token{Scopes: []domain.Scope{domain.ScopeSend}, Channels: []string{second.ID}})

	watiPath := "/" + demo.TenantID + "/api/v1/sendTemplateMessage?whatsappNumber="
	atomTo := func(phone, channel string) string {
		return strings.Replace(atomSend(phone, "x"), `{"templateId"`, `{"channelNumber":"`+channel+`","templateId"`, 1)
	}
	watiTo := func(channel string) string {
		return strings.Replace(watiSend, `{"template_name"`, `{"channelNumber":"`+channel+`","template_name"`, 1)
	}
	type send struct {
		name  string
		route scopedRoute
	}
	sends := func(phone, channel, sender string) []send {
		return []send{
			{"atom", scopedRoute{call: call{fn: fnTemplates, method: http.MethodPost, path: "/", body: atomTo(phone, channel)},
				forbidden: `\{"success":false,"message":"forbidden: this key may not send from channel ` + channel + `"\}`}},
			{"cloudchat", scopedRoute{call: call{fn: fnCloudChat, method: http.MethodPost, path: cloudchatPath(demo.TenantID), body: cloudchatSend(phone, channel)},
				forbidden: `\{"error":"forbidden: this key may not send from channel ` + channel + `"\}`}},
			{"emkt", scopedRoute{call: call{fn: fnEmkt, method: http.MethodPost, path: "/", body: emktSend(sender, "alerta1", "", phone[2:])},
				forbidden: `<main><emkt trans="50.01" KEY="[0-9a-f]{28}"><erro>forbidden: this key may not send from channel ` + channel + `</erro></emkt></main>`, readsBody: true}},
			{"wati", scopedRoute{call: call{fn: fnWati, method: http.MethodPost, path: watiPath + phone, body: watiTo(channel)},
				forbidden: `\{"result":false,"info":"forbidden: this key may not send from channel ` + channel + `"\}`}},
		}
	}
	for _, s := range sends("5511987652101", second.ID, second.SenderCode) {
		w, _ := g.serve(t, s.route.with(mainOnly))
		if w.Code != http.StatusForbidden || !regexp.MustCompile(`^`+s.route.forbidden+`\s*$`).MatchString(w.Body.String()) {
			t.Errorf("%s naming another channel: %d %s", s.name, w.Code, w.Body.String())
		}
	}
	for _, s := range sends("5511987652102", second.ID, second.SenderCode) {
		if w, _ := g.serve(t, s.route.with(secondOnly)); w.Code < 200 || w.Code > 299 {
			t.Errorf("%s naming the key's own channel: %d %s", s.name, w.Code, w.Body.String())
		}
	}
	// Naming none: the tenant's default, main, is not the key's.
	w, _ := g.serve(t, call{fn: fnTemplates, method: http.MethodPost, path: "/", body: atomSend("5511987652103", "x"), header: bearer(secondOnly)})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "may not send from channel "+demo.ChannelID) {
		t.Errorf("a send defaulting to another channel: %d %s", w.Code, w.Body.String())
	}
	docs, err := g.Firestore.Collection("tenants").Doc(demo.TenantID).Collection("messages").Documents(ctx).GetAll()
	if err != nil || len(docs) == 0 {
		t.Fatalf("no message accepted: %v", err)
	}
	for _, d := range docs {
		if ch, _ := d.Data()["channel"].(string); ch != second.ID {
			t.Errorf("message %s accepted on channel %q", d.Ref.ID, ch)
		}
	}
}
