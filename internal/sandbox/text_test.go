package sandbox_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/sandbox"
)

func textBody(to, text, callback string) string {
	return fmt.Sprintf(`{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"text","text":{"body":%q},"biz_opaque_callback_data":%q}`, to, text, callback)
}

// TestTextOnlyInsideTheServiceWindow: a free-form text is refused with
// 131047 until the recipient writes to the number, then accepted, recorded
// with its body and reported like a template send, priced as a free
// service message.
func TestTextOnlyInsideTheServiceWindow(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	const to = "5511977774444"
	if a := post(t, srv, sendPath(), demo.AccessToken, textBody(to, "olá", "t-1")); a.Status != 400 || a.code() != 131047 {
		t.Fatalf("text before any reply: HTTP %d code %d, want 400 131047", a.Status, a.code())
	}
	if _, err := sb.Reply(context.Background(), "", to, "Maria", "oi"); err != nil {
		t.Fatal(err)
	}
	a := post(t, srv, sendPath(), demo.AccessToken, textBody(to, "olá, Maria", "t-2"))
	if a.Status != 200 || len(a.Messages) != 1 {
		t.Fatalf("text after the reply: %+v, want accepted", a)
	}
	if other := post(t, srv, sendPath(), demo.AccessToken, textBody("5511977773333", "olá", "")); other.code() != 131047 {
		t.Errorf("another recipient's window: code %d, want 131047: the window is per contact", other.code())
	}
	var got sandbox.Request
	for _, r := range sb.Requests() {
		if r.CallbackData == "t-2" {
			got = r
		}
	}
	if got.Type != "text" || got.Text != "olá, Maria" || got.WAMID != a.Messages[0].ID || got.Template.Name != "" {
		t.Errorf("recorded %+v", got)
	}
	settle(t, sb)
	var sts []hookStatus
	for _, p := range rc.received()[1:] {
		sts = append(sts, envelopeOf(t, p, testSecret).Statuses...)
	}
	if p := sentOf(t, sts, a.Messages[0].ID).Pricing; p.Category != "service" || p.Type != "free_customer_service" || p.Billable {
		t.Errorf("text's pricing %+v, want a free service message", p)
	}
}

// TestTextWindowClosesWithReset: Reset forgets replies, so the window is
// closed again.
func TestTextWindowClosesWithReset(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	const to = "5511977772222"
	if _, err := sb.Reply(context.Background(), demo.PhoneNumberID, to, "", "oi"); err != nil {
		t.Fatal(err)
	}
	sb.Reset()
	if a := post(t, srv, sendPath(), demo.AccessToken, textBody(to, "olá", "")); a.code() != 131047 {
		t.Errorf("after Reset: code %d, want 131047", a.code())
	}
}
