package wati_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
)

func getMessages(f *fixture, t *testing.T, token, phone, query string) map[string]any {
	t.Helper()
	w := f.call(t, http.MethodGet, path("getMessages/"+phone+query), token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("getMessages: %d %s", w.Code, w.Body.String())
	}
	a := obj(t, w)
	if a["result"] != "success" {
		t.Errorf("result %v", a["result"])
	}
	return a
}

func items(t *testing.T, a map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, it := range list(t, a, "messages.items") {
		out = append(out, it.(map[string]any))
	}
	return out
}

// TestGetMessagesMergesBothWays: what the contact sent and what it was
// sent (a template and a session message) come newest first in Wati's
// shape, paged.
func TestGetMessagesMergesBothWays(t *testing.T) {
	f := newFixture(t)
	const phone = "5511987654401"
	now := time.Now().UTC()
	f.openWindow(t, demo.ChannelID, phone, now.Add(-2*time.Hour))
	f.openWindow(t, demo.ChannelID, phone, now.Add(-time.Hour))
	tpl := list(t, sendTemplate(f, t, phone, welcomeBody), "model.ids")[0]
	w := f.call(t, http.MethodPost, sessionPath(phone, "olá de novo"), apptest.Token, "")
	text := str(t, obj(t, w), "message.id")

	a := getMessages(f, t, apptest.Token, phone, "")
	got := items(t, a)
	if len(got) != 4 || num(t, a, "messages.total") != 4 || num(t, a, "messages.pageNumber") != 1 || num(t, a, "messages.pageSize") != 20 {
		t.Fatalf("page %v", a["messages"])
	}
	if s := got[0]; s["id"] != text || s["eventType"] != "message" || s["owner"] != true || s["type"] != "text" || s["text"] != "olá de novo" || s["statusString"] != "PENDING" || s["failedDetail"] != nil {
		t.Errorf("session message %v", s)
	}
	if b := got[1]; b["id"] != tpl || b["eventType"] != "broadcastMessage" || b["owner"] != true || b["type"] != "template" ||
		b["text"] != "Olá Maria, bem-vindo à Loja!" || b["finalText"] != b["text"] || b["templateName"] != "welcome" {
		t.Errorf("template %v", b)
	}
	for _, in := range got[2:] {
		if in["eventType"] != "message" || in["owner"] != false || in["text"] != "oi" || in["statusString"] != "RECEIVED" || in["whatsappMessageId"] != in["id"] {
			t.Errorf("inbound %v", in)
		}
	}
	if got[2]["created"].(string) <= got[3]["created"].(string) || got[2]["timestamp"] == "" {
		t.Errorf("inbound order %v then %v", got[2]["created"], got[3]["created"])
	}
	if at(t, a, "link.prevPage") != nil || at(t, a, "link.nextPage") != nil || num(t, a, "link.total") != 4 {
		t.Errorf("one page's link %v", a["link"])
	}

	// Page 2 of 3 items a page holds the fourth; its link goes back.
	a = getMessages(f, t, apptest.Token, phone, "?pageSize=3&pageNumber=2")
	if got := items(t, a); len(got) != 1 || got[0]["created"] != items(t, getMessages(f, t, apptest.Token, phone, ""))[3]["created"] {
		t.Errorf("page 2: %v", got)
	}
	prev, err := url.Parse(str(t, a, "link.prevPage"))
	if err != nil || prev.Query().Get("pageNumber") != "1" || prev.Query().Get("pageSize") != "3" || at(t, a, "link.nextPage") != nil {
		t.Errorf("link %v", a["link"])
	}
	a = getMessages(f, t, apptest.Token, phone, "?pageSize=3&pageNumber=0")
	if len(items(t, a)) != 3 || num(t, a, "messages.pageNumber") != 1 || at(t, a, "link.nextPage") == nil {
		t.Errorf("page 0 is the first: %v", a["messages"])
	}
	if len(items(t, getMessages(f, t, apptest.Token, phone, "?pageSize=3&pageNumber=9"))) != 0 {
		t.Error("a page past the end has items")
	}
}

// TestGetMessagesPerNumber: channelPhoneNumber selects the number's chat;
// without it the default number's.
func TestGetMessagesPerNumber(t *testing.T) {
	f := newFixture(t)
	const phone = "5511987654411"
	f.openWindow(t, secondChannel, phone, time.Now())
	sendTemplate(f, t, phone, welcomeBody)
	if got := items(t, getMessages(f, t, apptest.Token, phone, "")); len(got) != 1 || got[0]["eventType"] != "broadcastMessage" {
		t.Errorf("default number: %v", got)
	}
	for _, q := range []string{"?channelPhoneNumber=" + secondNumber, "?channelPhoneNumber=%2B" + secondNumber, "?channelPhoneNumber=" + secondChannel} {
		if got := items(t, getMessages(f, t, apptest.Token, phone, q)); len(got) != 1 || got[0]["owner"] != false {
			t.Errorf("%s: %v", q, got)
		}
	}
	if got := items(t, getMessages(f, t, apptest.Token, "5511987654412", "")); len(got) != 0 {
		t.Errorf("a number never written to: %v", got)
	}
}

func TestGetMessagesRefusals(t *testing.T) {
	f := newFixture(t)
	for q, info := range map[string]string{
		"55-11":                                    "whatsappNumber",
		"5511987654421?pageSize=0":                 "pageSize",
		"5511987654421?pageSize=501":               "pageSize",
		"5511987654421?pageSize=x":                 "pageSize",
		"5511987654421?pageNumber=-1":              "pageNumber",
		"5511987654421?pageSize=500&pageNumber=21": "pages end after the first 10000",
		"5511987654421?channelPhoneNumber=123":     "channelPhoneNumber",
	} {
		wantFail(t, f.call(t, http.MethodGet, path("getMessages/"+q), apptest.Token, ""), http.StatusBadRequest, info)
	}
}
