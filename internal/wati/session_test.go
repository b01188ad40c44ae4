package wati_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/webhook"
)

const hookSecret = "wati-test-app-secret"

func sessionPath(phone, text string) string {
	return path("sendSessionMessage/" + phone + "?messageText=" + url.QueryEscape(text))
}

// wantWindowClosed checks Wati's refusal of a session message outside
// the window.
func wantWindowClosed(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	a := wantFail(t, w, http.StatusBadRequest, "24-hour customer-service window is closed")
	if a["ok"] != false {
		t.Errorf("ok = %v, want false", a["ok"])
	}
}

func TestSessionMessageOutsideTheWindowIsRefused(t *testing.T) {
	f := newFixture(t)
	wantWindowClosed(t, f.call(t, http.MethodPost, sessionPath("5511987653301", "olá"), apptest.Token, ""))
	// A window that closed an hour ago is closed.
	f.openWindow(t, demo.ChannelID, "5511987653302", time.Now().Add(-25*time.Hour))
	wantWindowClosed(t, f.call(t, http.MethodPost, sessionPath("5511987653302", "olá"), apptest.Token, ""))
	if n := len(f.messages(t, f.Tenant)); n != 0 {
		t.Errorf("refused session messages stored %d messages", n)
	}
}

// TestSessionMessageAfterTheContactWrites runs the whole way: the contact
// writes through the sandbox, the whatsapp function stores it and opens
// the window, the session message is accepted, dispatched as Meta's text
// send, and followed by the sandbox's statuses.
func TestSessionMessageAfterTheContactWrites(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	hook := httptest.NewServer(webhook.New(webhook.Config{AppSecret: hookSecret}, f.Catalog, f.Store, nil).Handler())
	t.Cleanup(hook.Close)
	f.Sandbox.SetWebhook(hook.URL+"/", hookSecret)
	serveDispatch(t, f)

	const phone = "5511987653311"
	wantWindowClosed(t, f.call(t, http.MethodPost, sessionPath(phone, "olá"), apptest.Token, ""))
	if _, err := f.Sandbox.Reply(ctx, demo.PhoneNumberID, phone, "Maria", "oi, quero saber mais"); err != nil {
		t.Fatal(err)
	}
	w := f.call(t, http.MethodPost, sessionPath(phone, "Olá Maria! Como posso ajudar?"), apptest.Token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("inside the window: %d %s", w.Code, w.Body.String())
	}
	a := obj(t, w)
	if a["ok"] != true || a["result"] != "success" || str(t, a, "message.text") != "Olá Maria! Como posso ajudar?" ||
		str(t, a, "message.type") != "text" || at(t, a, "message.isOwner") != true || str(t, a, "message.statusString") != "PENDING" ||
		at(t, a, "message.whatsappMessageId") != nil || str(t, a, "message.created") == "" {
		t.Errorf("answer %s", w.Body.String())
	}
	id := str(t, a, "message.id")
	m := f.WaitStatus(t, id, domain.StatusRead)
	if !m.IsText() || m.Channel != demo.ChannelID || m.ConversationID == "" {
		t.Errorf("message %+v", m)
	}
	var sent int
	for _, r := range f.Sandbox.Requests() {
		if r.CallbackData == id {
			sent++
			if r.Type != "text" || r.Text != "Olá Maria! Como posso ajudar?" || r.To != phone {
				t.Errorf("provider got %+v", r)
			}
		}
	}
	if sent != 1 {
		t.Errorf("provider got %d sends, want 1", sent)
	}
}

// TestSessionMessageRefusedByTheProvider: the gateway's window is open
// (an inbound message was stored) but Meta's is not (the sandbox never saw
// the contact write), so Meta's 131047 fails the message, which getMessages
// shows as FAILED with Meta's reason.
func TestSessionMessageRefusedByTheProvider(t *testing.T) {
	f := newFixture(t)
	serveDispatch(t, f)
	const phone = "5511987653321"
	f.openWindow(t, demo.ChannelID, phone, time.Now())
	w := f.call(t, http.MethodPost, sessionPath(phone, "olá"), apptest.Token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	id := str(t, obj(t, w), "message.id")
	m := f.WaitStatus(t, id, domain.StatusFailed)
	if m.Error == nil || m.Error.Code != 131047 {
		t.Fatalf("message %+v, want failed with 131047", m)
	}
	items := list(t, obj(t, f.call(t, http.MethodGet, path("getMessages/"+phone), apptest.Token, "")), "messages.items")
	got := items[0].(map[string]any)
	if got["id"] != id || got["statusString"] != "FAILED" || !strings.HasPrefix(got["failedDetail"].(string), "131047: ") {
		t.Errorf("listed %v", got)
	}
}

// TestSessionMessageChoosesTheNumber: channelPhoneNumber, in the query or
// the body, picks the number whose window counts; without it the default
// number's window does.
func TestSessionMessageChoosesTheNumber(t *testing.T) {
	f := newFixture(t)
	const phone = "5511987653331"
	f.openWindow(t, secondChannel, phone, time.Now())
	wantWindowClosed(t, f.call(t, http.MethodPost, sessionPath(phone, "olá"), apptest.Token, ""))
	for _, tc := range []struct{ query, body string }{
		{"&channelPhoneNumber=" + secondNumber, ""},
		{"&channelPhoneNumber=%2B" + secondNumber, ""},
		{"", `{"channelPhoneNumber":"` + secondNumber + `"}`},
		{"", `{"channelPhoneNumber":` + secondNumber + `}`},
		{"&channelPhoneNumber=" + secondNumber, `{"channelPhoneNumber":"` + demo.DisplayNumber + `"}`},
	} {
		w := f.call(t, http.MethodPost, sessionPath(phone, "olá")+tc.query, apptest.Token, tc.body)
		if w.Code != http.StatusOK {
			t.Fatalf("%q %q: %d %s", tc.query, tc.body, w.Code, w.Body.String())
		}
		m, err := f.Store.Message(context.Background(), f.Tenant, str(t, obj(t, w), "message.id"))
		if err != nil || m.Channel != secondChannel {
			t.Errorf("%q %q sent from %q (%v)", tc.query, tc.body, m.Channel, err)
		}
	}
	wantFail(t, f.call(t, http.MethodPost, sessionPath(phone, "olá")+"&channelPhoneNumber=5511000000000", apptest.Token, ""), 400, "channelPhoneNumber", "5511000000000")
}

func TestSessionMessageRefusals(t *testing.T) {
	f := newFixture(t)
	const phone = "5511987653341"
	f.openWindow(t, demo.ChannelID, phone, time.Now())
	long := strings.Repeat("é", domain.MaxTextLength+1)
	tests := []struct {
		name, path, body string
		info             []string
	}{
		{"bad number", path("sendSessionMessage/55-11?messageText=oi"), "", []string{"whatsappNumber"}},
		{"no text", path("sendSessionMessage/" + phone), "", []string{"messageText: required"}},
		{"blank text", sessionPath(phone, "   "), "", []string{"messageText: required"}},
		{"text too long", sessionPath(phone, long), "", []string{"messageText: at most 4096"}},
		{"text not UTF-8", path("sendSessionMessage/" + phone + "?messageText=%FF"), "", []string{"messageText: must be UTF-8"}},
		{"body not an object", sessionPath(phone, "oi"), `"oi"`, []string{"no data to send"}},
		{"channelPhoneNumber an object", sessionPath(phone, "oi"), `{"channelPhoneNumber":{}}`, []string{"channelPhoneNumber"}},
		{"everything wrong at once", path("sendSessionMessage/x"), `{"channelPhoneNumber":[1]}`, []string{"whatsappNumber", "messageText", "channelPhoneNumber"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := wantFail(t, f.call(t, http.MethodPost, tt.path, apptest.Token, tt.body), http.StatusBadRequest, tt.info...)
			if a["ok"] != false {
				t.Errorf("ok = %v, want false", a["ok"])
			}
		})
	}
	if n := len(f.messages(t, f.Tenant)); n != 0 {
		t.Errorf("refused session messages stored %d messages", n)
	}
	// The text may come in the body; exactly 4096 characters pass.
	w := f.call(t, http.MethodPost, path("sendSessionMessage/"+phone), apptest.Token, `{"messageText":"`+long[2:]+`"}`)
	if w.Code != http.StatusOK || str(t, obj(t, w), "message.text") != long[2:] {
		t.Errorf("text in the body: %d %.200s", w.Code, w.Body.String())
	}
}

func TestSessionMessageConversationLimit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const phone = "5511987653351"
	f.openWindow(t, demo.ChannelID, phone, time.Now())
	if err := f.Store.PutTenant(ctx, domain.Tenant{ID: f.Tenant, Name: "Demo", CountryCode: demo.CountryCode, ConversationLimit: 1}); err != nil {
		t.Fatal(err)
	}
	// The contact's message opened a conversation too; with that one
	// closed, a text would open another.
	if _, err := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("conversations").Doc(domain.ConversationKey(demo.ChannelID, phone)).Delete(ctx); err != nil {
		t.Fatal(err)
	}
	shard := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("counters").Doc("conversations-" + domain.MonthKey(time.Now())).Collection("shards").Doc(domain.ShardID(0))
	if _, err := shard.Set(ctx, map[string]any{"count": 1}); err != nil {
		t.Fatal(err)
	}
	a := wantFail(t, f.call(t, http.MethodPost, sessionPath(phone, "oi"), apptest.Token, ""), http.StatusTooManyRequests, "conversation limit reached")
	if a["ok"] != false {
		t.Errorf("ok = %v", a["ok"])
	}
	// Into an open conversation it passes, and names the conversation.
	conv := domain.Conversation{ID: "conv-1", Channel: demo.ChannelID, Phone: phone, ExpiresAt: time.Now().Add(time.Hour)}
	if err := f.Store.PutConversation(ctx, f.Tenant, conv); err != nil {
		t.Fatal(err)
	}
	w := f.call(t, http.MethodPost, sessionPath(phone, "oi"), apptest.Token, "")
	if w.Code != http.StatusOK || str(t, obj(t, w), "message.conversationId") != "conv-1" {
		t.Errorf("into the open conversation: %d %s", w.Code, w.Body.String())
	}
}

// TestSessionMessageIdempotency: a retry under the key gets the first
// answer, even once the window has closed; another request under it is
// 422.
func TestSessionMessageIdempotency(t *testing.T) {
	f := newFixture(t)
	const phone = "5511987653361"
	f.openWindow(t, demo.ChannelID, phone, time.Now())
	first := f.call(t, http.MethodPost, sessionPath(phone, "oi"), apptest.Token, "", "Idempotency-Key", "s-1")
	if first.Code != http.StatusOK {
		t.Fatalf("%d %s", first.Code, first.Body.String())
	}
	// Close the window, as a day passing would.
	contact := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("contacts").Doc(phone)
	if _, err := contact.Update(context.Background(), []firestore.Update{{FieldPath: firestore.FieldPath{"windows", demo.ChannelID}, Value: time.Now().Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	wantWindowClosed(t, f.call(t, http.MethodPost, sessionPath(phone, "oi"), apptest.Token, ""))
	again := f.call(t, http.MethodPost, sessionPath(phone, "oi"), apptest.Token, "", "Idempotency-Key", "s-1")
	if again.Code != http.StatusOK || again.Body.String() != first.Body.String() {
		t.Errorf("retry: %d %s, want the first answer %s", again.Code, again.Body.String(), first.Body.String())
	}
	wantFail(t, f.call(t, http.MethodPost, sessionPath(phone, "other text"), apptest.Token, "", "Idempotency-Key", "s-1"), http.StatusUnprocessableEntity, "Idempotency-Key")
	if n := len(f.messages(t, f.Tenant)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
