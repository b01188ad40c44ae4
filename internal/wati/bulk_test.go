package wati_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

func sendTemplates(f *fixture, t *testing.T, body string, header ...string) (int, map[string]any) {
	t.Helper()
	w := f.call(t, http.MethodPost, path("sendTemplateMessages"), apptest.Token, body, header...)
	return w.Code, obj(t, w)
}

func strs(t *testing.T, m map[string]any, dotted string) []string {
	t.Helper()
	var out []string
	for _, v := range list(t, m, dotted) {
		out = append(out, v.(string))
	}
	return out
}

// TestSendTemplateMessagesReportsInvalidReceivers: valid receivers go to
// the batch service with their params; bad numbers and bad params are
// reported by number and not sent; a number listed twice goes once.
func TestSendTemplateMessagesReportsInvalidReceivers(t *testing.T) {
	f := newFixture(t)
	body := `{"template_name":"welcome","broadcast_name":"promo","receivers":[
		{"whatsappNumber":"5511987652201","customParams":[{"name":"1","value":"Ana"},{"name":"2","value":"Loja"}]},
		{"whatsappNumber":"+5511987652202","customParams":[{"name":"1","value":"Bia"},{"name":"2","value":7}]},
		{"whatsappNumber":"55119876abc","customParams":[{"name":"1","value":"x"},{"name":"2","value":"y"}]},
		{"whatsappNumber":5511987652203,"customParams":[{"name":"1","value":"Caio"}]},
		{"whatsappNumber":"5511987652204","customParams":[{"name":"1","value":{"no":1}},{"name":"2","value":"y"}]},
		{"whatsappNumber":"5511987652201","customParams":[{"name":"1","value":"again"},{"name":"2","value":"again"}]},
		{"customParams":[]}
	]}`
	code, a := sendTemplates(f, t, body)
	if code != http.StatusOK || a["result"] != true || at(t, a, "errors.error") != nil {
		t.Fatalf("%d %v, want 200 result true", code, a)
	}
	if got := strs(t, a, "errors.invalidWhatsappNumbers"); !slices.Equal(got, []string{"55119876abc", ""}) {
		t.Errorf("invalidWhatsappNumbers %q", got)
	}
	got := strs(t, a, "errors.invalidCustomParameters")
	if len(got) != 2 || !strings.HasPrefix(got[0], "5511987652203: missing template params: 2") || !strings.HasPrefix(got[1], "5511987652204: ") || !strings.Contains(got[1], "customParams[0].value") {
		t.Errorf("invalidCustomParameters %q", got)
	}
	if f.batches.created() != 1 {
		t.Fatalf("%d batches, want 1", f.batches.created())
	}
	spec, recs := f.batches.specs[0], f.batches.recs[0]
	if spec.Source != "wati" || spec.Name != "promo" || spec.TemplateName != "welcome" || spec.Channel != "" || spec.Code != "" || f.batches.toks[0].Tenant != demo.TenantID {
		t.Errorf("spec %+v", spec)
	}
	if len(recs) != 2 || recs[0].Phone != "5511987652201" || recs[0].Params["1"] != "Ana" || recs[1].Phone != "5511987652202" ||
		recs[1].Raw != "+5511987652202" || recs[1].Params["2"] != "7" || recs[0].Problem != "" {
		t.Errorf("recipients %+v", recs)
	}
}

// TestSendTemplateMessagesChannelAndKey: channelNumber goes to the batch
// as the sending number, and the Idempotency-Key with the request's hash,
// so the batch service answers a retry and refuses the key with other
// receivers (TestBulkKeyReusedForOtherReceivers runs it for real).
func TestSendTemplateMessagesChannelAndKey(t *testing.T) {
	f := newFixture(t)
	body := `{"template_name":"alerta1","broadcast_name":"b","channelNumber":"` + secondNumber + `","receivers":[{"whatsappNumber":"5511987652211","customParams":[{"name":"1","value":"Ana"}]}]}`
	code, first := sendTemplates(f, t, body, "Idempotency-Key", "bulk-1")
	if code != 200 || first["result"] != true {
		t.Fatalf("answer %d %v", code, first)
	}
	if f.batches.created() != 1 || f.batches.specs[0].Channel != secondNumber || f.batches.specs[0].IdempotencyKey != "bulk-1" ||
		f.batches.specs[0].RequestHash == nil || f.batches.specs[0].RequestHash() == "" {
		t.Errorf("%d batches, spec %+v", f.batches.created(), f.batches.specs)
	}
}

func TestSendTemplateMessagesRefusals(t *testing.T) {
	f := newFixture(t)
	one := `"receivers":[{"whatsappNumber":"5511987652221","customParams":[{"name":"1","value":"a"},{"name":"2","value":"b"}]}]`
	tests := []struct {
		name, body string
		code       int
		info       string
	}{
		{"not JSON", `receivers`, 400, "no data to send"},
		{"no receivers", `{"template_name":"welcome","receivers":[]}`, 400, "receivers"},
		{"receivers not a list", `{"template_name":"welcome","receivers":{"a":1}}`, 400, "receivers"},
		{"receiver not an object", `{"template_name":"welcome","receivers":["5511987652221"]}`, 400, "receivers[0]"},
		{"no template name", `{` + one + `}`, 400, "template_name is required"},
		{"unknown template", `{"template_name":"farewell",` + one + `}`, 400, "no template named farewell"},
		{"channelNumber an object", `{"template_name":"welcome","channelNumber":{},` + one + `}`, 400, "channelNumber"},
		{"every receiver invalid", `{"template_name":"welcome","receivers":[{"whatsappNumber":"123"},{"whatsappNumber":"5511987652222"}]}`, 400, "no valid receivers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := wantFail(t, f.call(t, http.MethodPost, path("sendTemplateMessages"), apptest.Token, tt.body), tt.code, tt.info)
			if e := at(t, a, "errors.error"); e != a["info"] {
				t.Errorf("errors.error %v, want the info %v", e, a["info"])
			}
		})
	}
	a := obj(t, f.call(t, http.MethodPost, path("sendTemplateMessages"), apptest.Token, tests[len(tests)-1].body))
	if got := strs(t, a, "errors.invalidWhatsappNumbers"); !slices.Equal(got, []string{"123"}) || len(strs(t, a, "errors.invalidCustomParameters")) != 1 {
		t.Errorf("report of an all-invalid broadcast: %v", a)
	}
	if f.batches.created() != 0 {
		t.Errorf("refused broadcasts created %d batches", f.batches.created())
	}

	// What the batch service refuses is answered in the broadcast's shape,
	// with Wati's names for the fields it names.
	for _, tc := range []struct {
		err  error
		code int
		info string
	}{
		{domain.Errorf(domain.KindChannelNotConnected, "channel not connected"), 400, "channel not connected"},
		{domain.Errorf(domain.KindInvalid, "no channel 5511 for this tenant", "channel"), 400, "channelNumber: no channel 5511"},
		{domain.Errorf(domain.KindLimitReached, "conversation limit reached"), 429, "conversation limit reached"},
	} {
		f.batches.err = tc.err
		wantFail(t, f.call(t, http.MethodPost, path("sendTemplateMessages"), apptest.Token, `{"template_name":"welcome",`+one+`}`), tc.code, tc.info)
	}
}

func TestSendTemplateMessagesBodyBound(t *testing.T) {
	f := newFixture(t)
	r := `{"whatsappNumber":"5511987652231","customParams":[{"name":"1","value":"a"},{"name":"2","value":"b"}]}`
	n := 2 << 20 / len(r) // a 2 MiB broadcast, over the single-send bound
	body := `{"template_name":"welcome","receivers":[` + strings.Repeat(r+",", n) + r + `]}`
	if code, a := sendTemplates(f, t, body); code != 200 || a["result"] != true || len(f.batches.recs[0]) != 1 {
		t.Fatalf("2 MiB broadcast: %d %v", code, a)
	}
	huge := `{"template_name":"welcome","broadcast_name":"` + strings.Repeat("x", 9<<20) + `"}`
	wantFail(t, f.call(t, http.MethodPost, path("sendTemplateMessages"), apptest.Token, huge), http.StatusRequestEntityTooLarge, "too large")
}
