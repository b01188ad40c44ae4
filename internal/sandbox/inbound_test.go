package sandbox_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/demo"
)

// TestReplyOfEveryType: POST /_sandbox/reply posts each inbound type the
// sandbox knows in Meta's shape (envelopeOf holds every post to Meta's
// WebhookPayload and to its encoding), with the type's content.
func TestReplyOfEveryType(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	const from = "5511955554444"
	// The number's last message to the contact is what a button, an
	// interactive reply or a reaction refers to by default.
	sent := post(t, srv, sendPath(), demo.AccessToken, welcomeBody(from, ""))
	if sent.Status != 200 {
		t.Fatalf("send: %+v", sent)
	}
	last := sent.Messages[0].ID
	settle(t, sb) // its three statuses come before the replies
	context := `{"from":"` + demo.DisplayNumber + `","id":"` + last + `"}`

	tests := []struct {
		name, body string
		check      func(m hookMessage) bool
	}{
		{"text", `{"text":"oi"}`, func(m hookMessage) bool { return m.Type == "text" && m.Text.Body == "oi" }},
		{"image", `{"type":"image","text":"foto"}`, func(m hookMessage) bool {
			return m.Type == "image" && has(m.Image, `"caption":"foto"`, `"mime_type":"image\/jpeg"`, `"sha256":`, `"id":"`)
		}},
		{"video", `{"type":"video"}`, func(m hookMessage) bool { return m.Type == "video" && has(m.Video, `"mime_type":"video\/mp4"`) }},
		{"audio", `{"type":"audio"}`, func(m hookMessage) bool { return m.Type == "audio" && has(m.Audio, `"voice":true`) }},
		{"document", `{"type":"document","text":"nota"}`, func(m hookMessage) bool {
			return m.Type == "document" && has(m.Document, `"filename":"document.pdf"`, `"mime_type":"application\/pdf"`)
		}},
		{"sticker", `{"type":"sticker"}`, func(m hookMessage) bool { return m.Type == "sticker" && has(m.Sticker, `"animated":false`) }},
		{"button", `{"type":"button","text":"Quero"}`, func(m hookMessage) bool {
			return m.Type == "button" && has(m.Button, `"payload":"Quero"`, `"text":"Quero"`) && string(m.Context) == context
		}},
		{"button reply", `{"type":"button_reply","text":"Sim","payload":"yes"}`, func(m hookMessage) bool {
			return m.Type == "interactive" && has(m.Interactive, `"type":"button_reply"`, `"button_reply":{"id":"yes","title":"Sim"}`) && string(m.Context) == context
		}},
		{"list reply", `{"type":"list_reply","text":"Expressa","payload":"express","description":"1 dia","context":"wamid.list"}`, func(m hookMessage) bool {
			return m.Type == "interactive" && has(m.Interactive, `"list_reply":{"id":"express","title":"Expressa","description":"1 dia"}`) &&
				has(m.Context, `"id":"wamid.list"`)
		}},
		{"reaction", `{"type":"reaction","emoji":"❤"}`, func(m hookMessage) bool {
			return m.Type == "reaction" && has(m.Reaction, `"message_id":"`+last+`"`, `"emoji":"\u2764"`) && m.Context == nil
		}},
		{"location", `{"type":"location"}`, func(m hookMessage) bool {
			return m.Type == "location" && has(m.Location, `"latitude":-23.561414`, `"name":"Avenida Paulista"`, `S\u00e3o Paulo`)
		}},
		{"contacts", `{"type":"contacts","text":"Ana Souza","phone":"5511944443333"}`, func(m hookMessage) bool {
			return m.Type == "contacts" && has(m.Contacts, `"formatted_name":"Ana Souza"`, `"phone":"+5511944443333","wa_id":"5511944443333"`)
		}},
		{"from an ad", `{"text":"vi o an\u00fancio","from_ad":true}`, func(m hookMessage) bool {
			return m.Type == "text" && has(m.Referral, `"source_type":"ad"`, `"ctwa_clid":"`)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(tt.body, "{", `{"from":"`+from+`","name":"Maria",`, 1)
			if resp, raw := postJSON(t, srv.URL+"/_sandbox/reply", body); resp.StatusCode != 200 {
				t.Fatalf("reply: %d %s", resp.StatusCode, raw)
			}
			posts := rc.received()
			p := posts[len(posts)-1]
			v := envelopeOf(t, p, testSecret)
			if len(posts) != 4+i || len(v.Contacts) != 1 || v.Contacts[0].WAID != from || v.Contacts[0].Profile.Name != "Maria" || len(v.Messages) != 1 {
				t.Fatalf("post %d %s: want one message from Maria", len(posts), p.body)
			}
			if m := v.Messages[0]; m.From != from || !strings.HasPrefix(m.ID, "wamid.") || !tt.check(m) {
				t.Errorf("message %s", p.body)
			}
		})
	}
}

// has reports whether raw JSON, as Meta encoded it, contains every part.
func has(raw json.RawMessage, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(string(raw), p) {
			return false
		}
	}
	return raw != nil
}

// TestReplyByUserID: a contact known by a business-scoped user id comes
// with user_id in contacts and from_user_id in the message, beside wa_id
// and from when their number is known, alone when it is not.
func TestReplyByUserID(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	const userID = "BR.13491208655302741918"
	for _, tt := range []struct {
		name, body, from string
	}{
		{"with the number", `{"from":"5511955553333","user_id":"` + userID + `","text":"oi"}`, "5511955553333"},
		{"user id only", `{"user_id":"` + userID + `","text":"oi","name":"maria.s"}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if resp, raw := postJSON(t, srv.URL+"/_sandbox/reply", tt.body); resp.StatusCode != 200 {
				t.Fatalf("reply: %d %s", resp.StatusCode, raw)
			}
			posts := rc.received()
			p := posts[len(posts)-1]
			v := envelopeOf(t, p, testSecret)
			c, m := v.Contacts[0], v.Messages[0]
			if c.UserID != userID || c.WAID != tt.from || m.FromUserID != userID || m.From != tt.from {
				t.Errorf("contact %+v message from %q / %q, want user id %s and number %q", c, m.From, m.FromUserID, userID, tt.from)
			}
			if tt.from == "" && (strings.Contains(string(p.body), `"wa_id"`) || strings.Contains(string(p.body), `"from"`)) {
				t.Errorf("body %s names a number the contact never gave", p.body)
			}
		})
	}
	hooks := sb.Webhooks()
	if got := hooks[len(hooks)-1].Contact; got != userID {
		t.Errorf("recorded contact %q, want the user id", got)
	}
}
