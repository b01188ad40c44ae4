package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
)

func TestStatusWebhooksInOrder(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	start := time.Now()
	a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", "m-1"))
	if a.Status != 200 {
		t.Fatalf("send: %+v", a)
	}
	wamid := a.Messages[0].ID
	settle(t, sb)

	sts := statuses(t, rc)
	if got := statusNames(sts); got != "sent delivered read" {
		t.Fatalf("statuses %q, want sent delivered read", got)
	}
	for _, st := range sts {
		if st.ID != wamid || st.RecipientID != "5511988887777" || st.CallbackData != "m-1" {
			t.Errorf("%s: id %q recipient %q callback %q, want %q 5511988887777 m-1", st.Status, st.ID, st.RecipientID, st.CallbackData, wamid)
		}
		checkTimestamp(t, st.Status, st.Timestamp, start)
	}
	// v24.0: per-message pricing on sent and delivered, no conversation
	// (statuses() decodes strictly, so one would fail the test).
	sent, delivered, read := sts[0], sts[1], sts[2]
	for _, st := range []hookStatus{sent, delivered} {
		if p := st.Pricing; p == nil || !p.Billable || p.PricingModel != "PMP" || p.Category != "utility" || p.Type != "regular" {
			t.Errorf("%s pricing %+v, want billable PMP utility regular (welcome is UTILITY)", st.Status, p)
		}
	}
	if read.Pricing != nil || len(read.Errors) != 0 {
		t.Errorf("read %+v, want no pricing or errors", read)
	}

	hooks := sb.Webhooks()
	if len(hooks) != 3 {
		t.Fatalf("recorded %+v, want the 3 posts", hooks)
	}
	for i, h := range hooks {
		if h.Kind != "status" || h.Status != sts[i].Status || h.WAMID != wamid || h.Contact != "5511988887777" ||
			h.CallbackData != "m-1" || h.PhoneNumberID != demo.PhoneNumberID || h.Attempt != 1 || h.HTTPStatus != 200 || h.Error != "" || h.At.IsZero() {
			t.Errorf("record %d: %+v", i, h)
		}
	}
}

func statusNames(sts []hookStatus) string {
	var names []string
	for _, st := range sts {
		names = append(names, st.Status)
	}
	return strings.Join(names, " ")
}

// sentOf finds the sent status of wamid.
func sentOf(t *testing.T, sts []hookStatus, wamid string) hookStatus {
	t.Helper()
	for _, st := range sts {
		if st.ID == wamid && st.Status == "sent" {
			if st.Pricing == nil {
				t.Fatalf("sent status %+v has no pricing", st)
			}
			return st
		}
	}
	t.Fatalf("no sent status for %s in %+v", wamid, sts)
	return hookStatus{}
}

// TestPricingFollowsCategoryAndWindows: the template's category is the
// price's; a service message, and a utility template inside the
// customer-service window, are free_customer_service; everything inside a
// free entry point window is free; the rest is billed as regular.
func TestPricingFollowsCategoryAndWindows(t *testing.T) {
	rc := newReceiver(t, 0)
	cfg := hookConfig(rc.URL)
	cfg.Templates[demo.WABAID] = append(demo.Templates(), domain.Template{
		ID: "otp", Name: "otp", Language: "pt_BR", Category: "AUTHENTICATION", Status: domain.TemplateApproved,
		Components: []domain.TemplateComponent{{Type: "BODY", Text: "Seu código é {{1}}"}},
	})
	sb, srv := serve(t, cfg)
	otp := func(to string) string {
		return `{"messaging_product":"whatsapp","to":"` + to + `","type":"template","template":{"name":"otp","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"123456"}]}]}}`
	}
	const cold, writer, fromAd = "5511966660020", "5511966661111", "5511966662222"
	if _, err := sb.Reply(context.Background(), "", writer, "", "oi"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.ReplyWith(context.Background(), sandbox.Inbound{From: fromAd, Text: "vi o anúncio", FromAd: true}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	send := func(body, price string) {
		t.Helper()
		a := post(t, srv, sendPath(), demo.AccessToken, body)
		if a.Status != 200 {
			t.Fatalf("send %s: %+v", body, a)
		}
		want[a.Messages[0].ID] = price
	}
	send(alertaBody(cold), "marketing regular billable")
	send(welcomeBody(cold, ""), "utility regular billable")
	send(otp(cold), "authentication regular billable")
	send(alertaBody(writer), "marketing regular billable")
	send(welcomeBody(writer, ""), "utility free_customer_service free")
	send(otp(writer), "authentication regular billable")
	send(textBody(writer, "olá", ""), "service free_customer_service free")
	send(alertaBody(fromAd), "marketing free_entry_point free")
	send(otp(fromAd), "authentication free_entry_point free")
	settle(t, sb)

	var sts []hookStatus
	for _, p := range rc.received() {
		sts = append(sts, envelopeOf(t, p, testSecret).Statuses...)
	}
	for wamid, w := range want {
		for _, st := range sts {
			if st.ID != wamid || st.Status == "read" {
				continue
			}
			p := st.Pricing
			got := p.Category + " " + p.Type + " " + map[bool]string{true: "billable", false: "free"}[p.Billable]
			if got != w || p.PricingModel != "PMP" {
				t.Errorf("%s of a send priced %q: %s %+v", st.Status, w, got, p)
			}
		}
	}
}

func TestUndeliverableAfterAccept(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511900000009", ""))
	if a.Status != 200 || len(a.Messages) != 1 || !strings.HasPrefix(a.Messages[0].ID, "wamid.") {
		t.Fatalf("answer %+v, want accepted with a wamid", a)
	}
	settle(t, sb)
	sts := statuses(t, rc)
	if len(sts) != 1 || sts[0].Status != "failed" || sts[0].ID != a.Messages[0].ID || sts[0].RecipientID != "5511900000009" {
		t.Fatalf("statuses %+v, want only failed for the send", sts)
	}
	st := sts[0]
	if len(st.Errors) != 1 || st.Errors[0].Code != 131026 || st.Errors[0].Title != "Message undeliverable" ||
		st.Errors[0].Message != "Message undeliverable" || st.Errors[0].ErrorData.Details == "" {
		t.Errorf("errors %+v, want one 131026 Message undeliverable with details", st.Errors)
	}
	if st.Pricing != nil {
		t.Errorf("failed status is priced: %+v", st.Pricing)
	}
	if body := string(rc.received()[0].body); strings.Contains(body, "biz_opaque_callback_data") {
		t.Errorf("body %s echoes callback data the send did not have", body)
	}
}

func TestHeldSendStillGetsStatuses(t *testing.T) {
	rc := newReceiver(t, 0)
	cfg := hookConfig(rc.URL)
	cfg.TimeoutDelay = 50 * time.Millisecond
	sb, srv := serve(t, cfg)
	a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511900000003", "held"))
	if a.Status != 200 {
		t.Fatalf("send: %+v", a)
	}
	settle(t, sb)
	sts := statuses(t, rc)
	if got := statusNames(sts); got != "sent delivered read" {
		t.Fatalf("statuses %q, want sent delivered read", got)
	}
	for _, st := range sts {
		if st.ID != a.Messages[0].ID || st.CallbackData != "held" {
			t.Errorf("%s: id %q callback %q, want the held send's", st.Status, st.ID, st.CallbackData)
		}
	}
}

func TestWebhookRetried(t *testing.T) {
	rc := newReceiver(t, 1)
	sb, srv := serve(t, hookConfig(rc.URL))
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", "r-1"))
	settle(t, sb)

	posts := rc.received()
	if len(posts) != 4 || string(posts[0].body) != string(posts[1].body) || posts[0].sig != posts[1].sig {
		t.Fatalf("receiver got %d posts, want the refused sent again with the same body, then delivered and read", len(posts))
	}
	if got := statusNames(statuses(t, rc)); got != "sent sent delivered read" {
		t.Errorf("statuses %q", got)
	}
	var got []string
	for _, h := range sb.Webhooks() {
		got = append(got, h.Status+"/"+strconv.Itoa(h.Attempt)+"/"+strconv.Itoa(h.HTTPStatus))
	}
	if want := "sent/1/500 sent/2/200 delivered/1/200 read/1/200"; strings.Join(got, " ") != want {
		t.Errorf("records %q, want %q", strings.Join(got, " "), want)
	}
}

func TestWebhookGivenUp(t *testing.T) {
	rc := newReceiver(t, 1000)
	cfg := hookConfig(rc.URL)
	cfg.WebhookAttempts, cfg.WebhookRetryDelay = 3, 20*time.Millisecond
	sb, srv := serve(t, cfg)
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", ""))
	settle(t, sb)

	// Each status is tried three times, and giving up on one does not stop
	// the next.
	if got := statusNames(statuses(t, rc)); got != "sent sent sent delivered delivered delivered read read read" {
		t.Fatalf("statuses %q", got)
	}
	posts := rc.received()
	if g1, g2 := posts[1].at.Sub(posts[0].at), posts[2].at.Sub(posts[1].at); g1 < 20*time.Millisecond || g2 < 40*time.Millisecond {
		t.Errorf("retry gaps %v and %v, want at least 20ms then 40ms", g1, g2)
	}
	for _, h := range sb.Webhooks() {
		if h.HTTPStatus != 500 {
			t.Errorf("record %+v, want the receiver's 500", h)
		}
	}
}

func TestWebhookUnreachableRecorded(t *testing.T) {
	rc := newReceiver(t, 0)
	rc.Close() // nothing listens there any more
	cfg := hookConfig(rc.URL)
	cfg.WebhookAttempts = 2
	sb, srv := serve(t, cfg)
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", ""))
	settle(t, sb)
	hooks := sb.Webhooks()
	if len(hooks) != 6 {
		t.Fatalf("recorded %d attempts, want 2 for each of 3 statuses", len(hooks))
	}
	for _, h := range hooks {
		if h.HTTPStatus != 0 || h.Error == "" {
			t.Errorf("record %+v, want no HTTP status and the network error", h)
		}
	}
}

func TestReplyOpensServiceWindow(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	start := time.Now()
	resp, raw := postJSON(t, srv.URL+"/_sandbox/reply", `{"from":"5511977776666","text":"oi, tudo bem?","name":"Maria"}`)
	var ans struct {
		WAMID string `json:"wamid"`
	}
	if err := json.Unmarshal(raw, &ans); resp.StatusCode != 200 || err != nil || !strings.HasPrefix(ans.WAMID, "wamid.") {
		t.Fatalf("reply: %d %s, want 200 with a wamid", resp.StatusCode, raw)
	}
	posts := rc.received()
	if len(posts) != 1 {
		t.Fatalf("receiver got %d posts, want the inbound message before the answer", len(posts))
	}
	v := envelopeOf(t, posts[0], testSecret)
	if len(v.Statuses) != 0 || len(v.Contacts) != 1 || v.Contacts[0].Profile.Name != "Maria" || v.Contacts[0].WAID != "5511977776666" {
		t.Fatalf("inbound value %s: want Maria's contact and no statuses", posts[0].body)
	}
	if len(v.Messages) != 1 {
		t.Fatalf("inbound value %s: want one message", posts[0].body)
	}
	m := v.Messages[0]
	if m.From != "5511977776666" || m.ID != ans.WAMID || m.Type != "text" || m.Text.Body != "oi, tudo bem?" {
		t.Errorf("message %+v", m)
	}
	checkTimestamp(t, "inbound", m.Timestamp, start)
	if h := sb.Webhooks(); len(h) != 1 || h[0].Kind != "inbound" || h[0].WAMID != ans.WAMID || h[0].Contact != "5511977776666" || h[0].HTTPStatus != 200 {
		t.Errorf("recorded %+v, want the inbound post", h)
	}

	// The window is per contact: a utility template to Maria is now free,
	// to another contact it is still billed.
	a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511977776666", ""))
	b := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511977775555", ""))
	settle(t, sb)
	var sts []hookStatus
	for _, p := range rc.received()[1:] {
		sts = append(sts, envelopeOf(t, p, testSecret).Statuses...)
	}
	if p := sentOf(t, sts, a.Messages[0].ID).Pricing; p.Type != "free_customer_service" || p.Billable {
		t.Errorf("after the reply: %+v, want free_customer_service", p)
	}
	if p := sentOf(t, sts, b.Messages[0].ID).Pricing; p.Type != "regular" || !p.Billable {
		t.Errorf("another contact: %+v, want regular", p)
	}
}

func TestReplyRejects(t *testing.T) {
	rc := newReceiver(t, 0)
	_, srv := serve(t, hookConfig(rc.URL))
	_, bare := serve(t, sandbox.Default())
	tests := []struct {
		name, url, body, details string
	}{
		{"not JSON", srv.URL, `hi`, "not a valid reply"},
		{"unknown field", srv.URL, `{"from":"5511977776666","text":"x","fromm":"1"}`, "fromm"},
		{"letters in from", srv.URL, `{"from":"55119abc","text":"x"}`, "from must be"},
		{"no from", srv.URL, `{"text":"x"}`, "from (the contact's number) or user_id"},
		{"bad user id", srv.URL, `{"user_id":"13491208655302741918","text":"x"}`, "user_id must be"},
		{"unknown type", srv.URL, `{"from":"5511977776666","type":"poll"}`, "poll"},
		{"list reply without title", srv.URL, `{"from":"5511977776666","type":"list_reply","payload":"r1"}`, "text is required"},
		{"letters in a shared phone", srv.URL, `{"from":"5511977776666","type":"contacts","text":"Ana","phone":"55a"}`, "phone must be"},
		{"no text", srv.URL, `{"from":"5511977776666"}`, "text"},
		{"unknown number", srv.URL, `{"from":"5511977776666","text":"x","phone_number_id":"999"}`, "999"},
		{"no webhook", bare.URL, `{"from":"5511977776666","text":"x"}`, "webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, raw := postJSON(t, tt.url+"/_sandbox/reply", tt.body)
			var a answer
			if err := json.Unmarshal(raw, &a); err != nil || resp.StatusCode != 400 || a.Error == nil || a.Error.Code != 100 ||
				a.Error.Type != "OAuthException" || !strings.Contains(a.Error.ErrorData.Details, tt.details) {
				t.Errorf("answer %d %s, want 400 code 100 naming %q", resp.StatusCode, raw, tt.details)
			}
		})
	}
	if n := len(rc.received()); n != 0 {
		t.Errorf("receiver got %d posts from rejected replies", n)
	}
}

func TestReplyUndelivered(t *testing.T) {
	rc := newReceiver(t, 1000)
	cfg := hookConfig(rc.URL)
	cfg.WebhookAttempts = 2
	sb, srv := serve(t, cfg)
	wamid, err := sb.Reply(context.Background(), demo.PhoneNumberID, "5511977776666", "", "x")
	if err == nil || !strings.HasPrefix(wamid, "wamid.") || !strings.Contains(err.Error(), "500") {
		t.Errorf("Reply = %q, %v; want the wamid and an error naming the receiver's 500", wamid, err)
	}
	if v := envelopeOf(t, rc.received()[0], testSecret); v.Contacts[0].Profile.Name != "5511977776666" {
		t.Errorf("profile name %q, want the number when no name is given", v.Contacts[0].Profile.Name)
	}
	resp, raw := postJSON(t, srv.URL+"/_sandbox/reply", `{"from":"5511977776666","text":"x"}`)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(raw), "500") {
		t.Errorf("answer %d %s, want 502 naming the receiver's answer", resp.StatusCode, raw)
	}
}

func TestSetWebhookAtRunTime(t *testing.T) {
	rc := newReceiver(t, 0)
	cfg := hookConfig("")
	sb, srv := serve(t, cfg)
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", ""))
	if err := sb.Idle(canceled()); err != nil || len(sb.Webhooks()) != 0 {
		t.Fatalf("without a URL: Idle %v, %d records; want nothing scheduled", err, len(sb.Webhooks()))
	}

	sb.SetWebhook(rc.URL, "rotated-secret")
	done := make(chan struct{})
	go func() { // SetWebhook races with sends by design
		defer close(done)
		for range 50 {
			sb.SetWebhook(rc.URL, "rotated-secret")
		}
	}()
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988886666", ""))
	<-done
	settle(t, sb)
	posts := rc.received()
	if len(posts) != 3 {
		t.Fatalf("receiver got %d posts, want 3", len(posts))
	}
	for _, p := range posts {
		envelopeOf(t, p, "rotated-secret")
	}
}

func TestCloseStopsDeliveries(t *testing.T) {
	rc := newReceiver(t, 0)
	cfg := hookConfig(rc.URL)
	// Far beyond Close's 5s deadline below, yet short enough that a Close
	// that does not cancel still lets the test end.
	cfg.WebhookDelay = 20 * time.Second
	sb, srv := serve(t, cfg)
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", ""))
	if err := sb.Idle(canceled()); err == nil {
		t.Fatal("Idle reports nothing pending right after an accepted send")
	}
	closed := make(chan struct{})
	go func() { sb.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
	if err := sb.Idle(canceled()); err != nil {
		t.Errorf("after Close: Idle %v, want nothing pending", err)
	}
	if a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988886666", "")); a.Status != 200 {
		t.Errorf("send after Close: %+v, want it still answered", a)
	}
	if err := sb.Idle(canceled()); err != nil {
		t.Errorf("a send after Close scheduled a delivery")
	}
	if _, err := sb.Reply(context.Background(), "", "5511977776666", "", "x"); err != sandbox.ErrClosed {
		t.Errorf("Reply after Close: %v, want ErrClosed", err)
	}
	if n := len(rc.received()); n != 0 {
		t.Errorf("receiver got %d posts", n)
	}
	sb.Close() // a second Close is harmless
}

func TestListAndResetWebhooks(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", "w-1"))
	post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988886666", "w-2"))
	settle(t, sb)
	list := func() []sandbox.Webhook {
		t.Helper()
		resp, err := http.Get(srv.URL + "/_sandbox/webhooks?callback=w-1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans struct {
			Webhooks []sandbox.Webhook `json:"webhooks"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 || ans.Webhooks == nil {
			t.Fatalf("list: %d %v", resp.StatusCode, err)
		}
		return ans.Webhooks
	}
	got := list()
	if len(got) != 3 || got[0].CallbackData != "w-1" || got[0].Kind != "status" || got[0].Status != "sent" {
		t.Errorf("listed %+v, want w-1's three statuses", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sandbox/requests", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := list(); len(got) != 0 || len(sb.Webhooks()) != 0 {
		t.Errorf("after reset: listed %+v", got)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func postJSON(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	if _, err := io.Copy(&buf, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, []byte(buf.String())
}
