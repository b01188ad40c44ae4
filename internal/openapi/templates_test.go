package openapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// seed001Token answers Pending with 200, for clients built on seed 001.
const seed001Token = "seed001-token"

// The seeds' example requests, with real values where the seeds write
// placeholders: seed 000 sends firstName and lastName, seed 001
// clientName, groupName and assign.
const (
	seed000Send = `{"templateId":"welcome","phoneNumber":"50755667788","firstName":"Maria","lastName":"Silva",
		"assign":false,"params":{"1":"Maria","2":"templategw"}}`
	seed001Send = `{"templateId":"welcome","phoneNumber":"50755667788","clientName":"Maria S.","groupName":"Support",
		"assign":true,"params":{"1":"Maria","2":"templategw"}}`
)

// openConversation opens a conversation of the demo channel with phone,
// as Meta's status webhook does.
func (g *gateway) openConversation(t *testing.T, phone, id string) {
	t.Helper()
	c := domain.Conversation{ID: id, Channel: demo.ChannelID, Phone: phone, ExpiresAt: time.Now().Add(time.Hour)}
	if err := g.Store.PutConversation(context.Background(), g.Tenant, c); err != nil {
		t.Fatal(err)
	}
}

func TestTemplatesAPI(t *testing.T) {
	g := newGateway(t)
	ctx := context.Background()
	err := g.Store.PutToken(ctx, seed001Token, domain.Token{
		Tenant: g.Tenant, Integration: "seed001", Groups: []string{"Support"}, DefaultChannel: demo.ChannelID, PendingCode: http.StatusOK,
	})
	if err != nil {
		t.Fatal(err)
	}
	off := demo.Channel()
	off.ID, off.DisplayNumber, off.PhoneNumberID, off.SenderCode, off.Default, off.Connected = "off", "5511999990002", "100000000000003", "", false, false
	if err := g.Store.PutChannel(ctx, g.Tenant, off); err != nil {
		t.Fatal(err)
	}
	token := bearer(apptest.Token)
	post := func(name, body string, status int, refused bool, header ...string) exchange {
		return exchange{name: name, method: http.MethodPost, path: "/templates", header: append(header, token...), body: body, status: status, refused: refused}
	}

	w := g.do(t, post("seed 000 send is pending", seed000Send, http.StatusAccepted, false))
	if jsonAt(t, w, "message") != "Pending" {
		t.Errorf("answer %s, want Pending", w.Body.String())
	}
	g.do(t, exchange{name: "seed 001 send is pending with 200", method: http.MethodPost, path: "/templates",
		header: bearer(seed001Token), body: seed001Send, status: http.StatusOK})

	// Seed 000's immediate confirmation: a number with an open
	// conversation is answered Sent once dispatch has the provider's answer.
	g.openConversation(t, "5511987654321", "conv-open-1")
	w = g.do(t, post("send into an open conversation is sent",
		`{"templateId":"order_update","phoneNumber":"5511987654321","params":{"first_name":"Ana","order_id":"A-1"}}`, http.StatusOK, false))
	if jsonAt(t, w, "message") != "Sent" || jsonAt(t, w, "data.conversation_id") != "conv-open-1" {
		t.Errorf("answer %s, want Sent into conv-open-1", w.Body.String())
	}
	g.do(t, post("media header and button",
		`{"templateId":"promo_image","phoneNumber":"50755667788","params":{"header":"https://cdn.example.com/p.jpg","1":"Maria","button_0":"spring"},"channelNumber":"5511999990000"}`,
		http.StatusAccepted, false))

	// Typical errors.
	g.do(t, exchange{name: "no token", method: http.MethodPost, path: "/templates", body: seed000Send, status: http.StatusUnauthorized, refused: true})
	g.do(t, exchange{name: "wrong token", method: http.MethodPost, path: "/templates", header: bearer("nope"), body: seed000Send, status: http.StatusUnauthorized})
	g.do(t, post("empty body", "", http.StatusBadRequest, true))
	g.do(t, post("not JSON", "templateId=welcome", http.StatusBadRequest, true))
	g.do(t, post("phone with +", strings.Replace(seed000Send, `"50755667788"`, `"+50755667788"`, 1), http.StatusBadRequest, true))
	g.do(t, post("assign as a string", strings.Replace(seed000Send, `"assign":false`, `"assign":"no"`, 1), http.StatusBadRequest, true))
	g.do(t, post("params value an object", strings.Replace(seed000Send, `"2":"templategw"`, `"2":{"x":1}`, 1), http.StatusBadRequest, true))
	g.do(t, post("unknown template", strings.Replace(seed000Send, `"welcome"`, `"nope"`, 1), http.StatusBadRequest, false))
	g.do(t, post("missing template params", strings.Replace(seed000Send, `,"2":"templategw"`, "", 1), http.StatusBadRequest, false))
	g.do(t, post("channel not connected", strings.Replace(seed000Send, `"assign":false`, `"channelNumber":"off"`, 1), http.StatusUnauthorized, false))
	g.do(t, post("channelNumber names no channel", strings.Replace(seed000Send, `"assign":false`, `"channelNumber":"5511000000000"`, 1), http.StatusBadRequest, false))
	g.do(t, post("first request under a key", seed000Send, http.StatusAccepted, false, "Idempotency-Key", "k-1"))
	g.do(t, post("retry under the key", seed000Send, http.StatusAccepted, false, "Idempotency-Key", "k-1"))
	g.do(t, post("the key with another request", seed001Send, http.StatusUnprocessableEntity, false, "Idempotency-Key", "k-1"))
	g.do(t, post("body over 1 MiB", `{"templateId":"welcome","phoneNumber":"50755667788","clientName":"`+strings.Repeat("a", 1<<20)+`"}`,
		http.StatusRequestEntityTooLarge, false))

	// Listing and showing templates.
	get := func(name, path string, status int, refused bool, header []string) exchange {
		return exchange{name: name, method: http.MethodGet, path: path, header: header, status: status, refused: refused}
	}
	g.do(t, get("list", "/templates", http.StatusOK, false, token))
	w = g.do(t, get("first page of two", "/templates?limit=2", http.StatusOK, false, token))
	next := jsonString(t, w, "data.nextPageToken")
	g.do(t, get("next page", "/templates?limit=2&pageToken="+url.QueryEscape(next), http.StatusOK, false, token))
	g.do(t, get("limit 0", "/templates?limit=0", http.StatusBadRequest, true, token))
	g.do(t, get("a page token it never issued", "/templates?pageToken=bm9wZS9ub3Bl", http.StatusBadRequest, false, token))
	g.do(t, get("list without token", "/templates", http.StatusUnauthorized, true, nil))
	g.do(t, get("list with a wrong token", "/templates", http.StatusUnauthorized, false, bearer("nope")))
	w = g.do(t, get("show a media template", "/templates/promo_image", http.StatusOK, false, token))
	if jsonAt(t, w, "data.template.header.format") != "IMAGE" {
		t.Errorf("promo_image shows %s", w.Body.String())
	}
	g.do(t, get("show seed 002's template", "/templates/test_template", http.StatusOK, false, token))
	g.do(t, get("unknown template", "/templates/nope", http.StatusNotFound, false, token))
	g.do(t, get("show without token (seed 000: 400)", "/templates/welcome", http.StatusBadRequest, true, nil))
	g.do(t, get("show with a wrong token", "/templates/welcome", http.StatusBadRequest, false, bearer("nope")))
}

func TestMessagesAPI(t *testing.T) {
	g := newGateway(t)
	token := bearer(apptest.Token)
	send := func(name, phone string) string {
		w := g.do(t, exchange{name: name, method: http.MethodPost, path: "/templates", header: token, status: http.StatusAccepted,
			body: strings.Replace(seed000Send, "50755667788", phone, 1)})
		return jsonString(t, w, "data.message_id")
	}
	ok := send("send", "50755667788")
	// The sandbox refuses numbers ending in 0001 as Meta does (131026), so
	// the message fails with the provider's code and title.
	bad := send("send to an undeliverable number", "5511987650001")
	get := func(name, path string, status int, refused bool, header []string) {
		g.do(t, exchange{name: name, method: http.MethodGet, path: path, header: header, status: status, refused: refused})
	}

	get("just accepted", "/messages/"+ok, http.StatusOK, false, token)
	g.WaitStatus(t, ok, domain.StatusPending)
	g.WaitStatus(t, bad, domain.StatusFailed)
	w := g.do(t, exchange{name: "pending, with Meta's id", method: http.MethodGet, path: "/messages/" + ok, header: token, status: http.StatusOK})
	jsonString(t, w, "providerMessageId")
	w = g.do(t, exchange{name: "failed, with Meta's error", method: http.MethodGet, path: "/messages/" + bad, header: token, status: http.StatusOK})
	if jsonAt(t, w, "error.code") != float64(131026) {
		t.Errorf("failed message %s, want error 131026", w.Body.String())
	}
	get("list", "/messages", http.StatusOK, false, token)
	w = g.do(t, exchange{name: "list filtered", method: http.MethodGet, path: "/messages?phone=50755667788&status=pending&limit=1", header: token, status: http.StatusOK})
	if jsonAt(t, w, "messages.0.id") != ok {
		t.Errorf("filtered list %s, want %s", w.Body.String(), ok)
	}
	get("list, page of one", "/messages?limit=1", http.StatusOK, false, token)

	get("unknown id", "/messages/nope", http.StatusNotFound, false, token)
	get("no token", "/messages/"+ok, http.StatusUnauthorized, true, nil)
	get("wrong token", "/messages", http.StatusUnauthorized, false, bearer("nope"))
	get("unknown status", "/messages?status=lost", http.StatusBadRequest, true, token)
	get("phone with +", "/messages?phone=%2B50755667788", http.StatusBadRequest, true, token)
	get("limit over 500", "/messages?limit=501", http.StatusBadRequest, true, token)
	get("a page token it never issued", "/messages?pageToken=nope", http.StatusBadRequest, false, token)
	get("usage", "/messages/usage", http.StatusOK, false, token)
	get("usage of a month", "/messages/usage?month=2026-05", http.StatusOK, false, token)
	get("usage of no month", "/messages/usage?month=2026-13", http.StatusBadRequest, true, token)
}
