package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/webhook"
)

// receiver is a tenant's callback endpoint: it verifies every signature
// and keeps the events.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	events []callback.Event
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := callback.Verify(r.secret, req.Header, body, time.Now(), time.Minute); err != nil {
		r.t.Errorf("callback signature: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var e callback.Event
	if err := json.Unmarshal(body, &e); err != nil {
		r.t.Errorf("callback body %s: %v", body, err)
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *receiver) statuses(messageID string) map[domain.Status]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := map[domain.Status]bool{}
	for _, e := range r.events {
		if e.MessageID == messageID {
			got[e.Status] = true
		}
	}
	return got
}

// TestMessageLifeThroughEveryPiece runs a message's whole life on the real
// pieces the dev stack runs: the Atom handler and accept path, Pub/Sub push
// to dispatch, the sandbox over HTTP posting signed status webhooks to the
// whatsapp handler, and the tenant's signed callbacks through their own
// topic. A first send ends read; a second, into the conversation the first
// opened, answers 200 Sent; the contact's reply opens its service window.
func TestMessageLifeThroughEveryPiece(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()

	rcv := &receiver{t: t, secret: "tenant-callback-secret"}
	rsrv := httptest.NewServer(rcv)
	t.Cleanup(rsrv.Close)
	err := e.Store.PutTenant(ctx, domain.Tenant{ID: e.Tenant, Name: "Demo", CountryCode: demo.CountryCode,
		CallbackURL: rsrv.URL + "/hooks/whatsapp", CallbackSecret: rcv.secret})
	if err != nil {
		t.Fatal(err)
	}

	notifier := callback.NewNotifier(e.TopicPublisher(t, "callbacks"))
	deliverer := callback.NewDeliverer(e.Catalog, callback.Options{AllowLoopback: true, Timeout: 5 * time.Second})
	e.Push(t, "callbacks", deliverer.HandleEvent)

	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3, Notifier: notifier})
	e.Push(t, apptest.Topic, d.HandleEvent)

	hook := httptest.NewServer(webhook.New(webhook.Config{VerifyToken: verifyToken, AppSecret: appSecret}, e.Catalog, e.Store, notifier).Handler())
	t.Cleanup(hook.Close)
	e.Sandbox.SetWebhook(hook.URL+"/", appSecret)

	svc := accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{Wait: 10 * time.Second})
	api := atom.New(e.Catalog, e.Store, svc).Handler()
	sendBody := `{"templateId":"welcome","phoneNumber":"5511987650300","firstName":"Maria","params":{"1":"Maria","2":"templategw"}}`
	post := func() (int, map[string]string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(sendBody))
		r.Header.Set("Authorization", "Bearer "+apptest.Token)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		var a struct {
			Message string
			Data    map[string]string
		}
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("answer %s: %v", w.Body.String(), err)
		}
		a.Data["message"] = a.Message
		return w.Code, a.Data
	}

	code, first := post()
	if code != http.StatusAccepted || first["message"] != "Pending" {
		t.Fatalf("first send: %d %v, want 202 Pending", code, first)
	}
	m := e.WaitStatus(t, first["message_id"], domain.StatusRead)
	if m.ConversationID == "" || !strings.HasPrefix(m.ProviderMessageID, "wamid.") {
		t.Fatalf("read message without a conversation or wamid: %+v", m)
	}
	if got := statuses(m); got != "accepted,dispatching,pending,sent,delivered,read" {
		t.Errorf("history %s", got)
	}

	code, second := post()
	if code != http.StatusOK || second["message"] != "Sent" || second["conversation_id"] != m.ConversationID {
		t.Fatalf("second send: %d %v, want 200 Sent in %s", code, second, m.ConversationID)
	}
	e.WaitStatus(t, second["message_id"], domain.StatusRead)
	if n := e.Sandbox.CountByCallback(first["message_id"]) + e.Sandbox.CountByCallback(second["message_id"]); n != 2 {
		t.Errorf("the provider got %d sends, want 2", n)
	}

	deadline := time.Now().Add(20 * time.Second)
	want := []domain.Status{domain.StatusPending, domain.StatusSent, domain.StatusDelivered, domain.StatusRead}
	for {
		got := rcv.statuses(first["message_id"])
		all := true
		for _, s := range want {
			all = all && got[s]
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callbacks for the first message: %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if _, err := e.Sandbox.Reply(ctx, demo.PhoneNumberID, "5511987650300", "Maria", "quero saber mais"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		var c domain.Contact
		snap, err := e.Firestore.Collection("tenants").Doc(e.Tenant).Collection("contacts").Doc("5511987650300").Get(ctx)
		if err == nil && snap.DataTo(&c) == nil && c.WindowOpen(demo.ChannelID, time.Now()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reply opened no service window: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
