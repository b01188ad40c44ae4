package security_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// revokedToken is a token of the demo tenant that was revoked.
const revokedToken = "revoked-token"

// route is one valid call of a route for the demo tenant, and how the
// route's dialect answers a request without a valid credential.
type route struct {
	call
	status int    // documented code
	answer string // a regular expression the whole answer matches
	// credential puts a token where the dialect reads it.
	credential func(token string) []string
}

// everyRoute is every route of every HTTP function but the whatsapp
// webhook's POST (its credential is Meta's signature:
// TestWebhookSignatures), with a body that would change data if it
// were served.
func everyRoute() []route {
	bearerOf := func(tok string) []string { return bearer(tok) }
	atomAuth := `\{"success":false,"message":"incorrect token"\}`
	msgAuth := `\{"error":\{"code":"unauthenticated","message":"incorrect token"\}\}`
	emktAuth := `<main><emkt( trans="[0-9.]+")? KEY="[0-9a-f]{28}"><erro>incorrect token</erro></emkt></main>`
	watiAuth := `\{"result":false,"info":"incorrect token"\}`
	rs := []route{
		{call{fn: fnTemplates, method: http.MethodPost, path: "/", body: atomSend("5511987650042", "x")}, http.StatusUnauthorized, atomAuth, bearerOf},
		{call{fn: fnTemplates, method: http.MethodGet, path: "/"}, http.StatusUnauthorized, atomAuth, bearerOf},
		// Seed 000 documents a bad token on this route as 400.
		{call{fn: fnTemplates, method: http.MethodGet, path: "/welcome"}, http.StatusBadRequest, atomAuth, bearerOf},
		{call{fn: fnMessages, method: http.MethodGet, path: "/"}, http.StatusUnauthorized, msgAuth, bearerOf},
		{call{fn: fnMessages, method: http.MethodGet, path: "/abc123"}, http.StatusUnauthorized, msgAuth, bearerOf},
		{call{fn: fnMessages, method: http.MethodGet, path: "/usage?month=2026-05"}, http.StatusUnauthorized, msgAuth, bearerOf},
		{call{fn: fnCloudChat, method: http.MethodPost, path: cloudchatPath(demo.TenantID), body: cloudchatSend("5511987650042", demo.ChannelID)},
			http.StatusUnauthorized, `\{"errors":\["Invalid Access Token"\]\}`, func(tok string) []string { return []string{"api_access_token", tok} }},
		{call{fn: fnEmkt, method: http.MethodPost, path: "/", body: emktSend(demo.SenderCode, "alerta1", "", "11987650042")}, http.StatusUnauthorized, emktAuth, bearerOf},
		{call{fn: fnEmkt, method: http.MethodPost, path: "/", body: emktStatus("LOTE1")}, http.StatusUnauthorized, emktAuth, bearerOf},
	}
	for _, w := range watiRoutes("/" + demo.TenantID + "/api/v1/") {
		answer := watiAuth
		switch w.name {
		case "sendSessionMessage":
			answer = `\{"ok":false,"result":false,"info":"incorrect token"\}`
		case "sendTemplateMessages":
			answer = `\{"result":false,"info":"incorrect token","errors":\{"error":"incorrect token","invalidWhatsappNumbers":\[\],"invalidCustomParameters":\[\]\}\}`
		}
		rs = append(rs, route{call{fn: fnWati, method: w.method, path: w.path, body: w.body}, http.StatusUnauthorized, answer, bearerOf})
	}
	return rs
}

// TestEveryRouteRefusesAMissingWrongOrRevokedCredential: without a
// credential, with a wrong one, a revoked one, or a valid one where the
// dialect does not read it, every route answers its dialect's documented
// refusal (401; 400 on Atom's GET /{id}; 403 on Meta's handshake),
// reads none of the body (the token is checked first), asks Firestore
// for no write, and the database is the same afterwards.
func TestEveryRouteRefusesAMissingWrongOrRevokedCredential(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	ctx := context.Background()
	if err := g.Store.PutToken(ctx, revokedToken, domain.Token{Tenant: demo.TenantID, Integration: "old", DefaultChannel: demo.ChannelID}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Store.RevokeToken(ctx, store.HashToken(revokedToken)); err != nil {
		t.Fatal(err)
	}
	before := g.database(t)

	for _, r := range everyRoute() {
		creds := []struct{ name, token string }{{"no credential", ""}, {"wrong token", "not-a-token"}, {"revoked token", revokedToken}}
		for _, c := range creds {
			header := []string(nil)
			if c.token != "" {
				header = r.credential(c.token)
			}
			refused(t, g, r, c.name, header)
		}
		switch r.fn {
		case fnWati:
			// Wati's dashboard shows the token bare; a wrong one is
			// refused bare too.
			refused(t, g, r, "wrong bare token", []string{"Authorization", "not-a-token"})
		case fnCloudChat:
			// CloudChat reads api_access_token only: a valid token as a
			// bearer is no credential.
			refused(t, g, r, "valid token as a bearer", bearer(apptest.Token))
		}
	}

	// Meta's subscription handshake: its credential is the verify token.
	for _, q := range []string{"", "&hub.verify_token=wrong", "&hub.verify_token=" + verifyToken + "x"} {
		w, rpcs := g.serve(t, call{fn: fnWhatsApp, method: http.MethodGet, path: "/?hub.mode=subscribe&hub.challenge=4242" + q})
		if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "4242") || len(rpcs) != 0 {
			t.Errorf("handshake %q: %d %q, %d RPCs; want 403 without the challenge and no RPC", q, w.Code, w.Body.String(), len(rpcs))
		}
	}
	// The control: the right verify token is answered with the challenge.
	if w, _ := g.serve(t, call{fn: fnWhatsApp, method: http.MethodGet, path: "/?hub.mode=subscribe&hub.challenge=4242&hub.verify_token=" + verifyToken}); w.Code != http.StatusOK || w.Body.String() != "4242" {
		t.Errorf("handshake with the verify token: %d %q", w.Code, w.Body.String())
	}

	if d := diff(before, g.database(t)); d != "" {
		t.Errorf("refused requests changed the database:\n  %s", d)
	}

	// The control: the same requests with the demo's valid token are
	// served, so each refusal above was the credential's doing.
	for _, r := range everyRoute() {
		c := r.call
		c.header = r.credential(apptest.Token)
		if w, _ := g.serve(t, c); w.Code == r.status || w.Code >= 500 {
			t.Errorf("%s with the valid token: %d %s", r.call, w.Code, w.Body.String())
		}
	}
}

// refused sends r with header and checks the refusal.
func refused(t *testing.T, g *gateway, r route, what string, header []string) {
	t.Helper()
	body := &counting{r: strings.NewReader(r.call.body)}
	req := httptest.NewRequest(r.method, r.path, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w, rpcs := g.serveRequest(t, r.fn, req)
	if w.Code != r.status || !regexp.MustCompile(`^`+r.answer+`\s*$`).MatchString(w.Body.String()) {
		t.Errorf("%s, %s: %d %s, want %d %s", r.call, what, w.Code, w.Body.String(), r.status, r.answer)
	}
	if r.fn == fnWati && w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("%s, %s: no WWW-Authenticate", r.call, what)
	}
	if n := body.n.Load(); n != 0 {
		t.Errorf("%s, %s: %d bytes of the body read before the credential was checked", r.call, what, n)
	}
	if n := writesIn(rpcs); n != 0 {
		t.Errorf("%s, %s: %d writes asked of Firestore:%s", r.call, what, n, describe(rpcs))
	}
}
