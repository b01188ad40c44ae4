package security_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/webhook"
)

// attacker is a tenant of its own, seeded like the demo (the same
// templates and the demo's channel under a Meta number of its own), with
// a valid token: everything it may use is its own.
type attacker struct {
	tenant, token, pnid string
}

func seedAttacker(ctx context.Context, g *gateway, n int) (attacker, error) {
	a := attacker{tenant: "intruder-" + strconv.Itoa(n), token: "intruder-token-" + strconv.Itoa(n)}
	if err := demo.Seed(ctx, g.Store, a.tenant, a.token); err != nil {
		return a, err
	}
	chs, err := g.Store.Channels(ctx, a.tenant)
	if err != nil || len(chs) != 1 {
		return a, fmt.Errorf("attacker's channels: %v, %v", chs, err)
	}
	a.pnid = chs[0].PhoneNumberID
	return a, nil
}

// seedAttackers seeds n attackers, a few at a time.
func seedAttackers(t *testing.T, g *gateway, n int) []attacker {
	t.Helper()
	out := make([]attacker, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = seedAttacker(context.Background(), g, i)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// crossCase is one request of an attacker naming the victim's ids, and
// the answer the dialect documents for ids it does not know.
type crossCase struct {
	name string
	req  func(a attacker) call
	want int
	// check, when set, looks further at the answer or at the
	// attacker's own data.
	check func(t *testing.T, g *gateway, a attacker, body string)
}

// TestAnotherTenantsIdsReachNothing: on every route of every function,
// a tenant naming another tenant's message ids, template ids, phone
// numbers, batch codes, Idempotency-Keys, channel numbers, Meta ids or
// tenant path gets the dialect's answer for something it does not have,
// and the other tenant's data is neither read (no Firestore RPC names a
// path under tenants/{victim}), changed (its documents are the same
// before and after), nor shown (no value only the victim holds is in the
// answer).
func TestAnotherTenantsIdsReachNothing(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	v := seedVictim(t, g)
	cases := crossTenantCases(v)
	attackers := seedAttackers(t, g, len(cases))
	before := victimSnapshot(t, g, v)
	if !strings.Contains(strings.Join(keys(before), " "), "tenants/"+victim+"/messages/"+v.messageIDs[0]) {
		t.Fatalf("the snapshot misses the victim's message: %v", keys(before))
	}
	for i, c := range cases {
		a := attackers[i]
		t.Run(c.name, func(t *testing.T) {
			req := c.req(a)
			w, rpcs := g.serve(t, req)
			if w.Code != c.want {
				t.Errorf("%s: %d %s, want %d", req, w.Code, w.Body.String(), c.want)
			}
			if x := touching(rpcs, victim); len(x) > 0 {
				t.Errorf("%s read or wrote the victim's data:%s", req, describe(x))
			}
			if x := touchingTopLevel(rpcs); len(x) > 0 {
				t.Errorf("%s read the victim's token or numbers:%s", req, describe(x))
			}
			sent := req.path + " " + req.body + " " + strings.Join(req.header, " ")
			for _, m := range v.markers() {
				if m != "" && !strings.Contains(sent, m) && strings.Contains(w.Body.String(), m) {
					t.Errorf("%s: the answer shows the victim's %q: %s", req, m, w.Body.String())
				}
			}
			if c.check != nil {
				c.check(t, g, a, w.Body.String())
			}
			if d := diff(before, victimSnapshot(t, g, v)); d != "" {
				t.Errorf("%s changed the victim's documents:\n  %s", req, d)
			}
		})
	}
}

// touchingTopLevel returns the RPCs that name the victim's documents
// outside tenants/: its token's grant and its Meta numbers.
func touchingTopLevel(rpcs []rpc) []rpc {
	names := []string{"tokens/" + store.HashToken(apptest.Token), "phoneNumbers/" + demo.PhoneNumberID + `"`, "phoneNumbers/" + victimPNID}
	var out []rpc
	for _, x := range rpcs {
		for _, n := range names {
			if strings.Contains(x.req, n) {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// victimSnapshot is every document of the victim: its tenant's subtree,
// and outside it its token's grant and its Meta numbers.
func victimSnapshot(t *testing.T, g *gateway, v victimData) map[string]string {
	t.Helper()
	out := snapshot(t, g.Firestore, g.Firestore.Collection("tenants").Doc(victim), nil)
	for _, ref := range []*firestore.DocumentRef{
		g.Firestore.Collection("tokens").Doc(store.HashToken(apptest.Token)),
		g.Firestore.Collection("phoneNumbers").Doc(demo.PhoneNumberID),
		g.Firestore.Collection("phoneNumbers").Doc(victimPNID),
	} {
		top := snapshot(t, g.Firestore, ref, nil)
		if len(top) != 1 {
			t.Fatalf("the victim has no %s", ref.Path)
		}
		maps.Copy(out, top)
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func crossTenantCases(v victimData) []crossCase {
	post := func(fn, path, body string, header ...string) func(a attacker) call {
		return func(a attacker) call {
			return call{fn: fn, method: http.MethodPost, path: strings.ReplaceAll(path, "{me}", a.tenant), body: body,
				header: append(append([]string{}, header...), bearer(a.token)...)}
		}
	}
	get := func(fn, path string) func(a attacker) call {
		return func(a attacker) call {
			return call{fn: fn, method: http.MethodGet, path: strings.ReplaceAll(path, "{me}", a.tenant), header: bearer(a.token)}
		}
	}
	// CloudChat reads its own header, not Authorization.
	cloudchat := func(account, body string, header ...string) func(a attacker) call {
		return func(a attacker) call {
			if account == "{me}" {
				account = a.tenant
			}
			return call{fn: fnCloudChat, method: http.MethodPost, path: cloudchatPath(account), body: body,
				header: append([]string{"api_access_token", a.token}, header...)}
		}
	}
	signed := func(body func(a attacker) string) func(a attacker) call {
		return func(a attacker) call {
			b := body(a)
			return call{fn: fnWhatsApp, method: http.MethodPost, path: "/", body: b, header: []string{webhook.SignatureHeader, webhook.Sign(appSecret, []byte(b))}}
		}
	}
	victimID := v.messageIDs[0]
	victimWati := "/" + victim + "/api/v1/"
	mine := "/{me}/api/v1/"

	cases := []crossCase{
		// templates (Atom).
		{name: "templates: GET another tenant's template id", req: get(fnTemplates, "/"+victimTemplate), want: http.StatusNotFound},
		{name: "templates: GET the list, from another tenant's id as page token",
			req: get(fnTemplates, "/?pageToken="+base64.RawURLEncoding.EncodeToString([]byte(victimTemplate))), want: http.StatusOK},
		{name: "templates: GET the list", req: get(fnTemplates, "/"), want: http.StatusOK,
			check: wantJSONCount("data.templates", len(demo.Templates()))},
		{name: "templates: send another tenant's template id", want: http.StatusBadRequest,
			req: post(fnTemplates, "/", `{"templateId":"`+victimTemplate+`","phoneNumber":"`+victimPhone+`","params":{"1":"x"}}`)},
		{name: "templates: send through another tenant's channel number", want: http.StatusBadRequest,
			req: post(fnTemplates, "/", `{"templateId":"welcome","phoneNumber":"`+victimPhone+`","params":{"1":"a","2":"b"},"channelNumber":"`+victimDisplay+`"}`)},
		{name: "templates: send with another tenant's Idempotency-Key and body", want: http.StatusAccepted,
			req: post(fnTemplates, "/", atomSend(victimPhone, victimClient), "Idempotency-Key", victimKeyAtom)},

		// messages.
		{name: "messages: GET another tenant's message id", req: get(fnMessages, "/"+victimID), want: http.StatusNotFound},
		{name: "messages: list by another tenant's contact", req: get(fnMessages, "/?phone="+victimPhone), want: http.StatusOK,
			check: wantJSONCount("messages", 0)},
		{name: "messages: list from another tenant's page token", req: get(fnMessages, "/?pageToken="+v.pageToken), want: http.StatusOK,
			check: wantJSONCount("messages", 0)},

		// cloudchat.
		{name: "cloudchat: another tenant's account", req: cloudchat(victim, cloudchatSend(victimPhone, demo.ChannelID)), want: http.StatusUnauthorized,
			check: wantBody(`{"errors":["Invalid Access Token"]}`)},
		{name: "cloudchat: another tenant's inbox id", req: cloudchat("{me}", cloudchatSend(victimPhone, victimChannel)), want: http.StatusNotFound},
		{name: "cloudchat: another tenant's inbox number", req: cloudchat("{me}", cloudchatSend(victimPhone, victimDisplay)), want: http.StatusNotFound},
		{name: "cloudchat: another tenant's template name", want: http.StatusUnprocessableEntity,
			req: cloudchat("{me}", `{"inbox_id":"main","phone_number":"+`+victimPhone+`","template_name":"`+victimTemplate+`","1":"x"}`)},
		{name: "cloudchat: another tenant's Idempotency-Key and body", want: http.StatusOK,
			req: cloudchat("{me}", cloudchatSend(victimPhone, demo.ChannelID), "Idempotency-Key", victimKeyCC)},

		// batches.
		{name: "batches: GET another tenant's batch code", req: get(fnBatches, "/"+victimBatch), want: http.StatusNotFound},
		{name: "batches: pause another tenant's batch", req: post(fnBatches, "/"+victimBatch+"/pause", ""), want: http.StatusNotFound},
		{name: "batches: resume another tenant's batch", req: post(fnBatches, "/"+victimBatch+"/resume", ""), want: http.StatusNotFound},
		{name: "batches: cancel another tenant's batch", req: post(fnBatches, "/"+victimBatch+"/cancel", ""), want: http.StatusNotFound},
		{name: "batches: GET the list", req: get(fnBatches, "/"), want: http.StatusOK, check: wantJSONCount("batches", 0)},

		// emkt.
		{name: "emkt: 50.02 of another tenant's batch code", req: post(fnEmkt, "/", emktStatus(victimBatch)), want: http.StatusNotFound,
			check: wantContains("<erro>")},
		{name: "emkt: 50.01 from another tenant's remetente", want: http.StatusBadRequest,
			req: post(fnEmkt, "/", emktSend(victimSender, "alerta1", "", "11987651234"))},
		{name: "emkt: 50.01 of another tenant's template", want: http.StatusBadRequest,
			req: post(fnEmkt, "/", emktSend(demo.SenderCode, victimTemplate, "", "11987651234"))},
		{name: "emkt: 50.01 under another tenant's identificador", want: http.StatusOK,
			req:   post(fnEmkt, "/", emktSend(demo.SenderCode, "alerta1", victimBatch, "11987651234")),
			check: wantOwnBatchCode(victimBatch)},

		// wati, on the attacker's own path.
		{name: "wati: sendTemplateMessage of another tenant's template", want: http.StatusBadRequest,
			req: post(fnWati, mine+"sendTemplateMessage?whatsappNumber="+victimPhone, `{"template_name":"`+victimTemplate+`","parameters":[{"name":"1","value":"x"}]}`)},
		{name: "wati: sendTemplateMessage through another tenant's number", want: http.StatusBadRequest,
			req: post(fnWati, mine+"sendTemplateMessage?whatsappNumber="+victimPhone, strings.Replace(watiSend, `"parameters"`, `"channelNumber":"`+victimDisplay+`","parameters"`, 1))},
		{name: "wati: sendTemplateMessage to another tenant's contact", want: http.StatusOK,
			req: post(fnWati, mine+"sendTemplateMessage?whatsappNumber="+victimPhone, watiSend), check: wantJSON("contact.fullName", victimPhone)},
		{name: "wati: sendTemplateMessages of another tenant's template", want: http.StatusBadRequest,
			req: post(fnWati, mine+"sendTemplateMessages", strings.Replace(watiBulk(victimPhone), `"welcome"`, `"`+victimTemplate+`"`, 1))},
		{name: "wati: sendTemplateMessages under another tenant's Idempotency-Key", want: http.StatusOK,
			req: post(fnWati, mine+"sendTemplateMessages", watiBulk(victimPhone), "Idempotency-Key", victimKeyWati), check: wantOwnBatches(1)},
		{name: "wati: sendSessionMessage inside another tenant's window", want: http.StatusBadRequest,
			req: post(fnWati, mine+"sendSessionMessage/"+victimPhone+"?messageText=hi", ""), check: wantContains("window is closed")},
		{name: "wati: sendSessionMessage through another tenant's number", want: http.StatusBadRequest,
			req: post(fnWati, mine+"sendSessionMessage/"+victimPhone+"?messageText=hi&channelPhoneNumber="+victimDisplay, "")},
		{name: "wati: getMessages of another tenant's contact", want: http.StatusOK,
			req: get(fnWati, mine+"getMessages/"+victimPhone), check: wantJSONCount("messages.items", 0)},
		{name: "wati: getMessages on another tenant's number", want: http.StatusBadRequest,
			req: get(fnWati, mine+"getMessages/"+victimPhone+"?channelPhoneNumber="+victimDisplay)},
		{name: "wati: addContact of another tenant's contact", want: http.StatusOK,
			req: post(fnWati, mine+"addContact/"+victimPhone, ""), check: wantJSON("info", "Contact added")},
		{name: "wati: updateContactAttributes of another tenant's contact", want: http.StatusOK,
			req: post(fnWati, mine+"updateContactAttributes/"+victimPhone, `{"customParams":[{"name":"vaultKey","value":"mine"}]}`)},
		{name: "wati: getContacts by another tenant's contact's name", want: http.StatusOK,
			req: get(fnWati, mine+"getContacts?name="+url.QueryEscape("Victoria")), check: wantJSONCount("contact_list", 0)},
		{name: "wati: getContacts by another tenant's custom param", want: http.StatusOK,
			req:   get(fnWati, mine+"getContacts?attribute="+url.QueryEscape(`[{"name":"vaultKey","operator":"exist"}]`)),
			check: wantJSONCount("contact_list", 0)},
		{name: "wati: updateChatStatus of another tenant's contact", want: http.StatusNotFound,
			req: post(fnWati, mine+"updateChatStatus", `{"whatsappNumber":"`+victimPhone+`","chatStatus":"open"}`)},
		{name: "wati: updateChatStatus on another tenant's number", want: http.StatusBadRequest,
			req: post(fnWati, mine+"updateChatStatus", `{"whatsappNumber":"`+victimPhone+`","chatStatus":"open","channelPhoneNumber":"`+victimDisplay+`"}`)},

		// whatsapp: Meta's signed webhook for the attacker's own number,
		// naming the victim's ids.
		{name: "whatsapp: status of another tenant's wamid", want: http.StatusOK,
			req: signed(func(a attacker) string {
				return metaStatus(a.pnid, map[string]any{"id": v.wamid, "status": "read", "timestamp": unix(time.Now()), "recipient_id": victimPhone})
			})},
		{name: "whatsapp: status naming another tenant's message id", want: http.StatusOK,
			req: signed(func(a attacker) string {
				return metaStatus(a.pnid, map[string]any{"id": "wamid.attacker-1", "status": "failed", "timestamp": unix(time.Now()),
					"recipient_id": victimPhone, "biz_opaque_callback_data": victimID, "errors": []any{map[string]any{"code": 131026, "title": "x"}}})
			})},
		{name: "whatsapp: inbound from another tenant's contact", want: http.StatusOK,
			req: signed(func(a attacker) string {
				return metaWebhook(a.pnid, map[string]any{
					"contacts": []any{map[string]any{"wa_id": victimPhone, "profile": map[string]any{"name": "Mallory"}}},
					"messages": []any{map[string]any{"from": victimPhone, "id": "wamid.attacker-in-1", "timestamp": unix(time.Now()), "type": "text", "text": map[string]any{"body": "hi"}}},
				})
			})},
	}
	// wati: the victim's tenant path with the attacker's valid token, on
	// every route.
	for _, r := range watiRoutes(victimWati) {
		cases = append(cases, crossCase{name: "wati: another tenant's path: " + r.name, want: http.StatusUnauthorized,
			req: func(a attacker) call {
				return call{fn: fnWati, method: r.method, path: r.path, body: r.body, header: bearer(a.token)}
			},
			check: wantContains(`"info":"incorrect token"`)})
	}
	return cases
}

// watiRoute is one valid call of a Wati route under prefix
// (/{tenantId}/api/v1/).
type watiRoute struct{ name, method, path, body string }

func watiRoutes(prefix string) []watiRoute {
	return []watiRoute{
		{"sendTemplateMessage", http.MethodPost, prefix + "sendTemplateMessage?whatsappNumber=" + victimPhone, watiSend},
		{"sendTemplateMessages", http.MethodPost, prefix + "sendTemplateMessages", watiBulk(victimPhone)},
		{"sendSessionMessage", http.MethodPost, prefix + "sendSessionMessage/" + victimPhone + "?messageText=hi", ""},
		{"getMessages", http.MethodGet, prefix + "getMessages/" + victimPhone, ""},
		{"addContact", http.MethodPost, prefix + "addContact/" + victimPhone, `{"name":"Mallory"}`},
		{"updateContactAttributes", http.MethodPost, prefix + "updateContactAttributes/" + victimPhone, `{"customParams":[{"name":"vaultKey","value":"x"}]}`},
		{"getContacts", http.MethodGet, prefix + "getContacts", ""},
		{"updateChatStatus", http.MethodPost, prefix + "updateChatStatus", `{"whatsappNumber":"` + victimPhone + `","chatStatus":"open"}`},
	}
}

// at follows a dotted path (numbers index arrays) into a decoded JSON
// answer.
func at(t *testing.T, body, path string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, body)
	}
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				t.Fatalf("no %s in %s", path, body)
			}
			v = x[i]
		default:
			t.Fatalf("no %s in %s", path, body)
		}
	}
	return v
}

func wantJSON(path, want string) func(*testing.T, *gateway, attacker, string) {
	return func(t *testing.T, _ *gateway, _ attacker, body string) {
		t.Helper()
		if got, _ := at(t, body, path).(string); got != want {
			t.Errorf("%s = %q, want %q: %s", path, got, want, body)
		}
	}
}

func wantJSONCount(path string, n int) func(*testing.T, *gateway, attacker, string) {
	return func(t *testing.T, _ *gateway, _ attacker, body string) {
		t.Helper()
		if got, _ := at(t, body, path).([]any); len(got) != n {
			t.Errorf("%s has %d entries, want %d: %s", path, len(got), n, body)
		}
	}
}

func wantContains(s string) func(*testing.T, *gateway, attacker, string) {
	return func(t *testing.T, _ *gateway, _ attacker, body string) {
		t.Helper()
		if !strings.Contains(body, s) {
			t.Errorf("answer %s, want it to contain %s", body, s)
		}
	}
}

func wantBody(s string) func(*testing.T, *gateway, attacker, string) {
	return func(t *testing.T, _ *gateway, _ attacker, body string) {
		t.Helper()
		if strings.TrimSpace(body) != s {
			t.Errorf("answer %s, want %s", body, s)
		}
	}
}

// wantOwnBatchCode checks that the code now names a batch of the
// attacker's own: the request was a new batch, not a replay of the
// victim's.
func wantOwnBatchCode(code string) func(*testing.T, *gateway, attacker, string) {
	return func(t *testing.T, g *gateway, a attacker, body string) {
		t.Helper()
		if _, err := g.Store.BatchByCode(context.Background(), a.tenant, code); err != nil {
			t.Errorf("the attacker has no batch %s of its own (%v): the answer %s came from elsewhere", code, err, body)
		}
	}
}

// wantOwnBatches checks the attacker's own batch count.
func wantOwnBatches(n int) func(*testing.T, *gateway, attacker, string) {
	return func(t *testing.T, g *gateway, a attacker, body string) {
		t.Helper()
		if got := countDocs(t, g.Firestore.Collection("tenants").Doc(a.tenant).Collection("batches")); got != n {
			t.Errorf("the attacker has %d batches, want %d: the answer %s was not its own", got, n, body)
		}
	}
}
