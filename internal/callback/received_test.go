package callback_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
)

// wamid is an inbound message's wamid; its base64 body embeds the
// contact's number, as Meta's do.
const wamid = "wamid.HBgNNTUxMTk4NzY1MDAwMBUCABIYFjNFQjA="

func inboundMessage() domain.InboundMessage {
	return domain.InboundMessage{
		ID: wamid, Channel: "main", Phone: "5511987650000", UserID: "BR.13491208655302741918", ProfileName: "Maria",
		Type: "image", Media: &domain.InboundMedia{ID: "1001", MimeType: "image/jpeg", Caption: "a foto"},
		Context: "wamid.template", ConversationID: "conv-9",
		At: time.Date(2026, 3, 1, 9, 0, 2, 0, time.FixedZone("BRT", -3*3600)),
	}
}

func TestReceivedEvent(t *testing.T) {
	ev := callback.ReceivedEventOf(inboundMessage())
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + callback.ReceivedEventID(wamid) + `","type":"message.received","timestamp":"2026-03-01T12:00:02Z",` +
		`"conversationId":"conv-9","channel":"main","from":"5511987650000","userId":"BR.13491208655302741918","profileName":"Maria",` +
		`"message":{"id":"` + wamid + `","type":"image","media":{"id":"1001","mimeType":"image/jpeg","caption":"a foto"},"context":"wamid.template"}}`
	if string(b) != want {
		t.Fatalf("JSON = %s\nwant   %s", b, want)
	}
	if id := callback.ReceivedEventID(wamid); id != callback.ReceivedEventID(wamid) || strings.Contains(id, "NTUx") ||
		!strings.HasPrefix(id, "received.") || id == callback.ReceivedEventID(wamid+"x") {
		t.Errorf("event id %q: want stable, distinct per wamid, and free of the wamid", id)
	}
}

func TestStatusEventCarriesPricing(t *testing.T) {
	m := message("m1", domain.StatusDispatching, domain.StatusPending, domain.StatusSent)
	m.Pricing = &domain.Pricing{Category: "marketing", Billable: true, Type: "regular", Model: "PMP"}
	ev := callback.EventOf(m)
	m.Pricing.Category = "changed"
	b, _ := json.Marshal(ev)
	if !strings.Contains(string(b), `"pricing":{"category":"marketing","billable":true,"type":"regular","pricingModel":"PMP"}`) {
		t.Fatalf("event = %s", b)
	}
}

func TestNotifyReceived(t *testing.T) {
	p := &publisher{}
	n := callback.NewNotifier(p)
	in := inboundMessage()
	n.NotifyReceived(quiet(), "acme", "", in) // no URL: nothing
	var none *callback.Notifier
	none.NotifyReceived(quiet(), "acme", "https://hooks.example.com/", in)
	n.NotifyReceived(quiet(), "acme", "https://hooks.example.com/in?key=receiver-secret", in)
	calls := p.published()
	if len(calls) != 1 {
		t.Fatalf("%d publishes, want 1", len(calls))
	}
	j, ok := calls[0].v.(callback.Job)
	if !ok || j.Tenant != "acme" || j.URL != "https://hooks.example.com/in?key=receiver-secret" || j.Event.Type != callback.ReceivedType ||
		j.Event.Message == nil || j.Event.Message.ID != wamid {
		t.Fatalf("published %#v", calls[0].v)
	}
	if a := calls[0].attrs; a["tenant"] != "acme" || a["event"] != j.Event.ID {
		t.Fatalf("attributes %v", a)
	}

	// A failed publish is logged without the number, the wamid or the
	// receiver's secret.
	ctx, logs := logged()
	callback.NewNotifier(&publisher{err: errors.New("pubsub unavailable")}).NotifyReceived(ctx, "acme", j.URL, in)
	out := logs.String()
	if !strings.Contains(out, "message.received callback not published") || !strings.Contains(out, "pubsub unavailable") {
		t.Fatalf("failure not logged: %s", out)
	}
	for _, secret := range []string{"receiver-secret", "5511987650000", wamid, "NTUx"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
}

// TestDeliverReceived: a received event is signed and posted like a
// status, and its logs carry neither number nor wamid.
func TestDeliverReceived(t *testing.T) {
	var body []byte
	var header http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := callback.NewDeliverer(tenants{"acme": {ID: "acme", CallbackSecret: secret}}, callback.Options{AllowLoopback: true})
	ev := callback.ReceivedEventOf(inboundMessage())
	ctx, logs := logged()
	if err := d.Deliver(ctx, callback.Job{Tenant: "acme", URL: srv.URL + "/in", Event: ev}); err != nil {
		t.Fatal(err)
	}
	if err := callback.Verify(secret, header, body, time.Now(), time.Minute); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var got callback.Event
	if err := json.Unmarshal(body, &got); err != nil || got.ID != ev.ID || got.Message == nil || got.Message.Media == nil || got.From != "5511987650000" {
		t.Fatalf("posted %s (%v)", body, err)
	}
	if header.Get(callback.EventIDHeader) != ev.ID {
		t.Errorf("event id header %q", header.Get(callback.EventIDHeader))
	}
	for _, s := range []string{"5511987650000", wamid, "NTUx"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log contains %q: %s", s, logs.String())
		}
	}
}
