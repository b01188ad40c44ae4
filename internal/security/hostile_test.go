package security_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/webhook"
)

// TestHostileIdsAreRefusedAtOnce: ids and names Firestore cannot take (not
// UTF-8, or longer than its 1,500-byte limit on ids and query values),
// wherever a route takes one, are the dialect's 4xx for something it
// does not have, answered at once and with nothing written. Firestore's
// client retries its refusal of a non-UTF-8 value until the request's
// deadline, so such a value must never reach it: one slow answer per
// request would tie up an instance for the function's whole timeout.
func TestHostileIdsAreRefusedAtOnce(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	tok := bearer(apptest.Token)
	long := strings.Repeat("n", 2000)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	wp := "/" + demo.TenantID + "/api/v1/"
	signed := func(body string) []string {
		return []string{webhook.SignatureHeader, webhook.Sign(appSecret, []byte(body))}
	}
	longStatus := metaStatus(demo.PhoneNumberID, map[string]any{"id": "wamid." + long, "status": "read", "timestamp": unix(time.Now()),
		"recipient_id": "5511987650042", "biz_opaque_callback_data": long})
	cases := []struct {
		c    call
		want int
	}{
		{call{fn: fnTemplates, method: http.MethodGet, path: "/%FF", header: tok}, http.StatusNotFound},
		{call{fn: fnTemplates, method: http.MethodGet, path: "/" + long, header: tok}, http.StatusNotFound},
		{call{fn: fnTemplates, method: http.MethodGet, path: "/?pageToken=" + b64("ab\xffcd"), header: tok}, http.StatusBadRequest},
		{call{fn: fnTemplates, method: http.MethodGet, path: "/?pageToken=" + b64(long), header: tok}, http.StatusBadRequest},
		{call{fn: fnTemplates, method: http.MethodPost, path: "/", body: `{"templateId":"` + long + `","phoneNumber":"5511987650042"}`, header: tok}, http.StatusBadRequest},
		{call{fn: fnMessages, method: http.MethodGet, path: "/%FF", header: tok}, http.StatusNotFound},
		{call{fn: fnMessages, method: http.MethodGet, path: "/" + long, header: tok}, http.StatusNotFound},
		{call{fn: fnMessages, method: http.MethodGet, path: "/?pageToken=" + b64("1700000000000000000.ab\xffcd"), header: tok}, http.StatusBadRequest},
		{call{fn: fnMessages, method: http.MethodGet, path: "/?pageToken=" + b64("1700000000000000000."+long), header: tok}, http.StatusBadRequest},
		{call{fn: fnCloudChat, method: http.MethodPost, path: cloudchatPath(demo.TenantID), header: []string{"api_access_token", apptest.Token},
			body: `{"inbox_id":"main","phone_number":"+5511987650042","template_name":"` + long + `"}`}, http.StatusUnprocessableEntity},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "sendTemplateMessage?whatsappNumber=5511987650042", header: tok,
			body: `{"template_name":"` + long + `"}`}, http.StatusBadRequest},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "sendTemplateMessages", header: tok,
			body: strings.Replace(watiBulk("5511987650042"), `"welcome"`, `"`+long+`"`, 1)}, http.StatusBadRequest},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "updateChatStatus", header: tok,
			body: `{"whatsappNumber":"5511987650042","chatStatus":"open","channelPhoneNumber":"` + long + `"}`}, http.StatusBadRequest},
		{call{fn: fnEmkt, method: http.MethodPost, path: "/", header: tok, body: emktSend(demo.SenderCode, long, "", "11987650042")}, http.StatusBadRequest},
		{call{fn: fnEmkt, method: http.MethodPost, path: "/", header: tok, body: emktSend(long, "alerta1", "", "11987650042")}, http.StatusBadRequest},
		{call{fn: fnEmkt, method: http.MethodPost, path: "/", header: tok, body: emktStatus(long)}, http.StatusBadRequest},
		// Meta's webhook acknowledges what it cannot use.
		{call{fn: fnWhatsApp, method: http.MethodPost, path: "/", header: signed(longStatus), body: longStatus}, http.StatusOK},
	}
	before := g.database(t)
	const deadline = 10 * time.Second
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		r := httptest.NewRequest(c.c.method, c.c.path, strings.NewReader(c.c.body)).WithContext(ctx)
		for i := 0; i+1 < len(c.c.header); i += 2 {
			r.Header.Set(c.c.header[i], c.c.header[i+1])
		}
		start := time.Now()
		w, rpcs := g.serveRequest(t, c.c.fn, r)
		took := time.Since(start)
		cancel()
		if w.Code != c.want || took > deadline/2 {
			t.Errorf("%.100s: %d in %s, want %d at once: %.200s", c.c, w.Code, took.Round(time.Millisecond), c.want, w.Body.String())
		}
		if n := writesIn(rpcs); n != 0 {
			t.Errorf("%.100s: %d writes", c.c, n)
		}
	}
	if d := diff(before, g.database(t)); d != "" {
		t.Errorf("refused ids changed the database:\n  %s", d)
	}
}
