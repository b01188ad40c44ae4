package wati_test

import (
	"github.com/templategw/templategw/internal/accept"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/wati"
)

// TestSendTemplateMessagesThroughTheRealBatch runs a broadcast through the
// real batch service, its fan-out worker and dispatch, each behind a real
// emulator push subscription: every valid receiver is sent once.
func TestSendTemplateMessagesThroughTheRealBatch(t *testing.T) {
	f := newFixture(t)
	d := dispatch.New(f.Store, f.Catalog, f.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	f.Push(t, apptest.Topic, d.HandleEvent)
	f.Push(t, batch.DefaultTopic, batch.NewWorker(f.Store, f.Publisher, nil).HandleEvent)
	svc := batch.New(accept.New(f.Catalog, f.Store, f.Publisher, accept.Options{}), f.Store, f.TopicPublisher(t, batch.DefaultTopic), batch.Options{})
	h := wati.New(f.Catalog, f.Store, accept.New(f.Catalog, f.Store, f.Publisher, accept.Options{Wait: -1}), svc, wati.Options{}).Handler()

	body := `{"template_name":"welcome","broadcast_name":"real","receivers":[
		{"whatsappNumber":"5511987652301","customParams":[{"name":"1","value":"Ana"},{"name":"2","value":"Loja"}]},
		{"whatsappNumber":"5511987652302","customParams":[{"name":"1","value":"Bia"},{"name":"2","value":"Loja"}]},
		{"whatsappNumber":"55119876abc","customParams":[{"name":"1","value":"x"},{"name":"2","value":"y"}]}
	]}`
	w := serve(t, h, http.MethodPost, path("sendTemplateMessages"), apptest.Token, body)
	if a := obj(t, w); w.Code != http.StatusOK || a["result"] != true {
		t.Fatalf("%d %v", w.Code, a)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		sent := map[string]int{}
		for _, r := range f.Sandbox.Requests() {
			if r.Status == http.StatusOK {
				sent[r.To]++
			}
		}
		if sent["5511987652301"] == 1 && sent["5511987652302"] == 1 && len(sent) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider got %v, want each valid receiver once", sent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, m := range f.messages(t, f.Tenant) {
		if m.Status == domain.StatusAccepted {
			t.Errorf("message to %s still accepted", m.PhoneNumber)
		}
	}
}

// TestBulkKeyReusedForOtherReceivers: an Idempotency-Key reused for other
// receivers is refused (422), never answered with the first broadcast while
// the new receivers are dropped; the same request again is answered.
func TestBulkKeyReusedForOtherReceivers(t *testing.T) {
	f := newFixture(t)
	svc := batch.New(accept.New(f.Catalog, f.Store, f.Publisher, accept.Options{}), f.Store, f.TopicPublisher(t, batch.DefaultTopic), batch.Options{})
	h := wati.New(f.Catalog, f.Store, accept.New(f.Catalog, f.Store, f.Publisher, accept.Options{Wait: -1}), svc, wati.Options{}).Handler()
	body := func(number string) string {
		return `{"template_name":"welcome","broadcast_name":"k","receivers":[{"whatsappNumber":"` + number + `","customParams":[{"name":"1","value":"Ana"},{"name":"2","value":"Loja"}]}]}`
	}
	if w := serve(t, h, http.MethodPost, path("sendTemplateMessages"), apptest.Token, body("5511987652401"), "Idempotency-Key", "bk"); w.Code != http.StatusOK {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	if w := serve(t, h, http.MethodPost, path("sendTemplateMessages"), apptest.Token, body("5511987652401"), "Idempotency-Key", "bk"); w.Code != http.StatusOK {
		t.Fatalf("retry: %d %s", w.Code, w.Body)
	}
	w := serve(t, h, http.MethodPost, path("sendTemplateMessages"), apptest.Token, body("5511987652402"), "Idempotency-Key", "bk")
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "Idempotency-Key") {
		t.Fatalf("other receivers under the key: %d %s, want 422 naming the key", w.Code, w.Body)
	}
}
