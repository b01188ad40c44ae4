package metaspec

import (
	"strings"
	"testing"
)

const (
	textSend = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511987654321","type":"text",
"text":{"body":"Olá"},"biz_opaque_callback_data":"m-1"}`
	bodyOnlySend = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511987654321","type":"template",
"template":{"name":"welcome","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"Maria"}]}]}}`
	// buttonSend has a policy, so only its index tests the index rule.
	buttonSend = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511987654321","type":"template",
"template":{"name":"promo","language":{"policy":"deterministic","code":"pt_BR"},"components":[
 {"type":"header","parameters":[{"type":"image","image":{"link":"https://cdn.example.com/a.png"}}]},
 {"type":"body","parameters":[{"type":"text","text":"Ana"}]},
 {"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"abc"}]},
 {"type":"button","sub_type":"quick_reply","index":"1","parameters":[{"type":"payload","payload":"no"}]}]}}`
)

// webhook wraps a change value in Meta's envelope.
func webhook(value string) string {
	return `{"object":"whatsapp_business_account","entry":[{"id":"200000000000001","changes":[{"field":"messages","value":{
"messaging_product":"whatsapp","metadata":{"display_phone_number":"5511999990000","phone_number_id":"100000000000001"},` + value + `}}]}]}`
}

func status(extra string) string {
	return webhook(`"statuses":[{"id":"wamid.A","status":"sent","timestamp":"1767225600","recipient_id":"5511987654321"` + extra + `}]`)
}

var (
	inboundText = webhook(`"contacts":[{"profile":{"name":"Maria"},"wa_id":"5511987654321"}],
"messages":[{"from":"5511987654321","id":"wamid.B","timestamp":"1767225600","type":"text","text":{"body":"oi"}}]`)
	inboundByUserID = webhook(`"contacts":[{"profile":{"name":"Maria"},"user_id":"BR.13491208655302741918"}],
"messages":[{"from_user_id":"BR.13491208655302741918","id":"wamid.B","timestamp":"1767225600","type":"text","text":{"body":"oi"}}]`)
	v24Pricing = `,"pricing":{"billable":true,"pricing_model":"PMP","category":"marketing","type":"regular"}`
)

// TestEachCorrectionIsNeeded proves every correction changes a verdict:
// without it, a payload Meta sends or takes is refused, or one it never
// sends is let through.
func TestEachCorrectionIsNeeded(t *testing.T) {
	full, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		schema, body string
		valid        bool // the verdict with every correction
	}{
		corrections[0].name: {SendRequest, textSend, true},
		corrections[1].name: {SendRequest, bodyOnlySend, true},
		corrections[2].name: {SendRequest, buttonSend, true},
		corrections[3].name: {Webhook, inboundText, true},
		corrections[4].name: {Webhook, status(`,"pricing":{"billable":true,"pricing_model":"PMP","category":"marketing","type":"free_lunch"}`), false},
		corrections[5].name: {Webhook, status(v24Pricing + `,"conversation":{"id":"c","origin":{"type":"marketing"}}`), false},
		corrections[6].name: {Webhook, inboundByUserID, true},
	}
	if len(cases) != len(corrections) {
		t.Fatalf("%d cases for %d corrections", len(cases), len(corrections))
	}
	for _, c := range corrections {
		tc, ok := cases[c.name]
		if !ok {
			t.Fatalf("no case for %q", c.name)
		}
		t.Run(c.name, func(t *testing.T) {
			without, err := load(description, c.name)
			if err != nil {
				t.Fatal(err)
			}
			withErr, withoutErr := full.Validate(tc.schema, []byte(tc.body)), without.Validate(tc.schema, []byte(tc.body))
			if (withErr == nil) != tc.valid {
				t.Errorf("corrected: %v, want valid=%v", withErr, tc.valid)
			}
			if (withoutErr == nil) == tc.valid {
				t.Errorf("without this correction the verdict is the same (%v): the correction changes nothing", withoutErr)
			}
		})
	}
}

// TestRefusesWhatMetaRefuses: the corrected description still holds every
// other rule, discriminated schemas included.
func TestRefusesWhatMetaRefuses(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, schema, body, want string
	}{
		{"send without to", SendRequest, strings.Replace(textSend, `"to":"5511987654321",`, "", 1), "to"},
		{"unknown text field", SendRequest, strings.Replace(textSend, `"body":"Olá"`, `"body":"Olá","bold":true`, 1), "bold"},
		{"header parameter of unknown type", SendRequest, strings.Replace(buttonSend, `"type":"image","image"`, `"type":"gif","image"`, 1), "parameters/0/type"},
		{"image parameter without image", SendRequest, strings.Replace(buttonSend, `"image":{"link":"https://cdn.example.com/a.png"}`, `"link":"x"`, 1), "image"},
		{"URL button with a payload", SendRequest, strings.Replace(buttonSend, `[{"type":"text","text":"abc"}]`, `[{"type":"payload","text":"abc"}]`, 1), "payload"},
		{"button index 10", SendRequest, strings.Replace(buttonSend, `"index":"1"`, `"index":"10"`, 1), "index"},
		{"unknown language policy", SendRequest, strings.Replace(buttonSend, `"deterministic"`, `"fallback"`, 1), "policy"},
		{"status without id", Webhook, strings.Replace(status(v24Pricing), `"id":"wamid.A",`, "", 1), "id"},
		{"unknown status", Webhook, strings.Replace(status(v24Pricing), `"sent"`, `"seen"`, 1), "status"},
		{"v23 pricing without type", Webhook, status(`,"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}`), "type"},
		{"status naming no recipient", Webhook, strings.Replace(status(v24Pricing), `"recipient_id":"5511987654321"`, `"recipient":"x"`, 1), "recipient"},
		{"inbound naming no sender", Webhook, strings.Replace(inboundText, `"from":"5511987654321",`, "", 1), "from"},
		{"contact naming no user", Webhook, strings.Replace(inboundText, `,"wa_id":"5511987654321"`, "", 1), "wa_id"},
		{"inbound text without body", Webhook, strings.Replace(inboundText, `{"body":"oi"}`, `{}`, 1), "body"},
		{"list reply without title", Webhook, webhook(`"contacts":[{"profile":{"name":"M"},"wa_id":"5511987654321"}],
"messages":[{"from":"5511987654321","id":"wamid.B","timestamp":"1","type":"interactive","context":{"from":"5511999990000","id":"wamid.A"},
"interactive":{"type":"list_reply","list_reply":{"id":"r1","description":"d"}}}]`), "title"},
		{"answer message_status unknown", SendAnswer, `{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.A","message_status":"sending"}]}`, "message_status"},
		{"error without code", GraphError, `{"error":{"message":"x","type":"OAuthException"}}`, "code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Validate(tc.schema, []byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want a refusal naming %q", err, tc.want)
			}
		})
	}
	for name, body := range map[string]string{
		"v24 status":                  status(v24Pricing + `,"biz_opaque_callback_data":"m-1"`),
		"read status without pricing": strings.Replace(status(""), `"sent"`, `"read"`, 1),
		"failed status":               strings.Replace(status(`,"errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"x"}}]`), `"sent"`, `"failed"`, 1),
		"status by user id":           strings.Replace(status(v24Pricing), `"recipient_id":"5511987654321"`, `"recipient_user_id":"BR.1"`, 1),
	} {
		if err := s.Validate(Webhook, []byte(body)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
