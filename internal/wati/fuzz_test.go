package wati_test

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/request"
	"github.com/templategw/templategw/internal/wati"
)

// FuzzWatiBody drives arbitrary bodies through every endpoint of the real
// handler on the emulators: whatever a client sends is answered 2xx or a
// 4xx whose info names the problem, in Wati's JSON, never a 500 or a
// panic.
func FuzzWatiBody(f *testing.F) {
	for i, ep := range endpoints {
		f.Add(uint8(i), []byte(ep.body))
	}
	for _, b := range []string{
		`{"template_name":"welcome","parameters":[{"name":"1","value":1e400},{"name":"2","value":-0}]}`,
		`{"template_name":"promo_image","parameters":[{"name":"1","value":"A"},{"name":"header","value":"not a url"}]}`,
		`{"template_name":"welcome","channelNumber":"` + secondNumber + `","receivers":[{"whatsappNumber":{"a":1}},{"whatsappNumber":"+5511987656601","customParams":"x"}]}`,
		`{"template_name":"welcome","receivers":[null,1]}`,
		`{"name":"\ud800","customParams":[{"name":"__x__","value":null},{"name":"a.b","value":"c"}]}`,
		`{"customParams":[{"name":"` + "\u0000" + `","value":"b"}]}`,
		`{"whatsappNumber":"5511987656601","chatStatus":"SOLVED","channelPhoneNumber":"+` + demo.DisplayNumber + `"}`,
		`{"messageText":"","channelPhoneNumber":null}`,
		`"x"`, `{`, `}`, `{}`, `{}}`, `null`, `[]`, "\xff\xfe{}", "",
	} {
		for i := range endpoints {
			f.Add(uint8(i), []byte(b))
		}
	}
	fx := newFixture(f)
	fx.openWindow(f, demo.ChannelID, "5511987656601", time.Now())
	h := fx.server(acceptOptions()).Handler()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ep := endpoints[int(which)%len(endpoints)]
		w := serve(t, h, ep.method, ep.path, apptest.Token, string(body))
		limit := request.MaxBody
		if ep.path == path("sendTemplateMessages") {
			limit = wati.MaxBulkBody
		}
		switch {
		case w.Code >= 200 && w.Code < 300:
		case w.Code == 413 && len(body) > limit:
		case w.Code >= 400 && w.Code < 500 && w.Code != 413:
		default:
			t.Fatalf("%s %s body %q answered %d %s", ep.method, ep.path, body, w.Code, w.Body.String())
		}
		if !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not UTF-8: %q", w.Body.String())
		}
		var a map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("body %q answered %d with %q, not a JSON object", body, w.Code, w.Body.String())
		}
		if _, ok := a["result"]; !ok {
			t.Fatalf("answer without result: %s", w.Body.String())
		}
		if w.Code >= 400 {
			if info, _ := a["info"].(string); info == "" || info == "internal error" {
				t.Fatalf("%d without a reason: %s", w.Code, w.Body.String())
			}
		}
	})
}
