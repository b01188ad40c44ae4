package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/secret"
)

// A tenant set up only through the CLI sends through the Atom API, and
// dispatch delivers to Meta (the sandbox) with the access token the
// channel's secret reference names.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	m := newMeta(t, wabaTemplates())
	tenant, token := e.setUp(t)

	var rep syncOut
	e.mustJSON(t, &rep, "templates", "sync", "--tenant", tenant, "--meta-base-url", m.URL)
	if got := int(m.Pages.Load()); got != 2 {
		t.Errorf("sync read %d pages, want 2 (120 templates, 100 a page)", got)
	}
	if rep.Added != 120 || rep.Updated != 0 || rep.Unchanged != 0 || len(rep.Templates) != 120 || rep.Channel != "main" || rep.WABAID != wabaID {
		t.Fatalf("sync = %+v", rep)
	}
	if strings.Join(rep.NotApproved, ",") != "awaiting_review,refused_one" {
		t.Errorf("notApproved = %q", rep.NotApproved)
	}
	if n := e.docs(t, "tenants/"+tenant+"/templates"); n != 120 {
		t.Fatalf("%d template documents, want 120", n)
	}
	if w := rep.byID()["welcome"]; w.Status != domain.TemplateApproved || strings.Join(w.Params, ",") != "1,2" {
		t.Errorf("welcome = %+v", w)
	}

	d := dispatch.New(e.Store, catalog.New(e.Store, 0), m.provider(), secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	e.Push(t, apptest.Topic, d.HandleEvent)
	w := apptest.Call(t, e.atomHandler(), http.MethodPost, "/", token,
		`{"templateId":"bulk_042","phoneNumber":"5511987654321","params":{"1":"10%","2":"sexta"}}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("send: %d %s", w.Code, w.Body.String())
	}
	var ans struct {
		Data struct {
			MessageID string `json:"message_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || ans.Data.MessageID == "" {
		t.Fatalf("send answer %s: %v", w.Body.String(), err)
	}
	id := ans.Data.MessageID

	// The sandbox has no webhook, so the message stays pending with its wamid.
	var v messages.View
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.mustJSON(t, &v, "messages", "get", "--tenant", tenant, "--id", id)
		if v.Status == domain.StatusPending || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v.Status != domain.StatusPending || !strings.HasPrefix(v.ProviderMessageID, "wamid.") || v.Attempts != 1 ||
		v.TemplateID != "bulk_042" || v.Channel != "main" || v.PhoneNumber != "*********4321" || len(v.History) < 3 {
		t.Fatalf("messages get = %+v", v)
	}
	reqs := m.Requests()
	if len(reqs) != 1 || reqs[0].Template.Name != "bulk_042" || reqs[0].PhoneNumberID != phoneNumberID || reqs[0].Status != http.StatusOK {
		t.Fatalf("Meta got %+v", reqs)
	}

	table := e.must(t, "messages", "get", "--tenant", tenant, "--id", id)
	for _, want := range []string{id, "pending", v.ProviderMessageID, "*********4321", "HISTORY", "accepted", "dispatching"} {
		if !strings.Contains(table, want) {
			t.Errorf("messages get table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "5511987654321") {
		t.Errorf("messages get shows the full phone number:\n%s", table)
	}
}

// A synced template Meta has not approved is refused by the Atom API with
// a 400 naming its status, and nothing is stored or sent.
func TestUnapprovedSyncedTemplateIsRefused(t *testing.T) {
	e := newEnv(t)
	m := newMeta(t, wabaTemplates())
	tenant, token := e.setUp(t)
	e.must(t, "templates", "sync", "--tenant", tenant, "--meta-base-url", m.URL)
	h := e.atomHandler()
	for id, status := range map[string]string{"awaiting_review": "PENDING", "refused_one": "REJECTED"} {
		w := apptest.Call(t, h, http.MethodPost, "/", token, `{"templateId":"`+id+`","phoneNumber":"5511987654321","params":{"1":"x"}}`)
		var a struct {
			Success bool   `json:"success"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &a)
		want := "template " + id + " is " + status + ", only APPROVED templates can be sent"
		if w.Code != http.StatusBadRequest || a.Success || a.Message != want {
			t.Errorf("send %s: %d %s, want 400 %q", id, w.Code, w.Body.String(), want)
		}
	}
	if n := e.docs(t, "tenants/"+tenant+"/messages"); n != 0 {
		t.Errorf("%d messages stored for refused sends", n)
	}
	if n := len(m.Requests()); n != 0 {
		t.Errorf("Meta got %d sends", n)
	}
}
