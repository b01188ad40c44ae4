package admin_test

import (
	"context"
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
	"github.com/templategw/templategw/internal/store"
)

// unknownMessage stores a message of the demo tenant to phone whose
// attempt's outcome was lost, as dispatch leaves it.
func unknownMessage(t *testing.T, e *env, phone string) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	tpl := domain.TemplateMessage{Name: "welcome", Language: domain.Language{Code: "pt_BR"},
		Components: []domain.Component{{Type: "body", Parameters: []domain.Parameter{{Type: "text", Text: "Ana"}, {Type: "text", Text: "templategw"}}}}}
	m := domain.NewMessage(store.NewID(), e.Tenant, "main", phone, "welcome", tpl, now)
	if _, err := e.Store.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	m, err := e.Store.Claim(ctx, e.Tenant, m.ID, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Store.Settle(ctx, e.Tenant, m.ID, m.Attempts, func(m *domain.Message, _ domain.Conversation) error {
		return m.MarkUnknown(&domain.MessageError{Title: "no answer after the request was sent"}, now, time.Hour)
	})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestResolveUnknownByHand: an operator finds the unknown messages and
// settles each: sent, failed, or resent (dispatch sends it once). A
// message no longer unknown is refused.
func TestResolveUnknownByHand(t *testing.T) {
	e := newEnv(t)
	d := dispatch.New(e.Store, catalog.New(e.Store, 0), e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	e.Push(t, apptest.Topic, d.HandleEvent)
	sent, failed, resend := unknownMessage(t, e, "5511987656001"), unknownMessage(t, e, "5511987656002"), unknownMessage(t, e, "5511987656003")

	var list struct {
		Messages []messages.View `json:"messages"`
	}
	e.mustJSON(t, &list, "messages", "list", "--tenant", e.Tenant, "--status", "unknown")
	if len(list.Messages) != 3 {
		t.Fatalf("messages list --status unknown shows %d, want 3", len(list.Messages))
	}

	var v messages.View
	e.mustJSON(t, &v, "messages", "resolve", "--tenant", e.Tenant, "--id", sent, "--as", "sent")
	if v.Status != domain.StatusSent || v.Error != nil {
		t.Errorf("--as sent: %+v", v)
	}
	e.mustJSON(t, &v, "messages", "resolve", "--tenant", e.Tenant, "--id", failed, "--as", "failed")
	if v.Status != domain.StatusFailed || v.Error == nil || v.Error.Title != domain.SettledByOperator {
		t.Errorf("--as failed: %+v", v)
	}
	out := e.must(t, "messages", "resolve", "--tenant", e.Tenant, "--id", resend, "--as", "resend")
	if !strings.Contains(out, "accepted") {
		t.Errorf("--as resend printed:\n%s", out)
	}
	m := e.WaitStatus(t, resend, domain.StatusPending)
	if m.ResentAt.IsZero() || m.Attempts != 2 {
		t.Errorf("resent message %+v, want pending on its second attempt with resentAt", m)
	}
	calls := 0
	for _, r := range e.Sandbox.Requests() {
		if r.CallbackData == resend && r.Status == http.StatusOK {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("the sandbox accepted %d calls for the resent message, want 1", calls)
	}
	if n := e.Sandbox.CountByCallback(sent) + e.Sandbox.CountByCallback(failed); n != 0 {
		t.Errorf("the sandbox saw %d calls for messages settled as sent or failed", n)
	}

	if _, err := e.run("messages", "resolve", "--tenant", e.Tenant, "--id", sent, "--as", "failed"); err == nil ||
		!strings.Contains(err.Error(), "message "+sent+" is sent; only an unknown message is resolved") {
		t.Errorf("resolving a sent message: %v", err)
	}
}
