package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/webhook"
)

// memLines knows the demo number only.
type memLines struct{}

func (memLines) Line(_ context.Context, id string) (store.Line, error) {
	if id != demo.PhoneNumberID {
		return store.Line{}, store.ErrNotFound
	}
	return store.Line{Tenant: demo.TenantID, Channel: demo.ChannelID}, nil
}

// memStore holds one pending message, known by wamid.known, and checks
// what the handler asks of it.
type memStore struct{ t *testing.T }

func (memStore) WAMIDOf(_ context.Context, wamid string) (store.WAMID, error) {
	if wamid == "wamid.known" {
		return store.WAMID{Tenant: demo.TenantID, Message: "m1"}, nil
	}
	return store.WAMID{}, store.ErrNotFound
}

func (s memStore) ApplyUpdate(_ context.Context, tenant, id string, u domain.Update) (domain.Message, bool, error) {
	if tenant != demo.TenantID {
		s.t.Fatalf("update for tenant %q", tenant)
	}
	if _, ok := domain.ParseUpdateStatus(string(u.Status)); !ok || u.At.IsZero() {
		s.t.Fatalf("update %+v reached the store", u)
	}
	if id != "m1" {
		return domain.Message{}, false, store.ErrNotFound
	}
	m := domain.NewMessage("m1", tenant, demo.ChannelID, "5511987654321", "welcome", domain.TemplateMessage{}, time.Now())
	m.Status = domain.StatusPending
	changed, err := m.Apply(u)
	return m, changed, err
}

func (s memStore) PutInbound(_ context.Context, _ string, in store.Inbound) error {
	if _, err := domain.ParsePhone(in.Phone); err != nil || !store.ValidID(in.ID) || in.At.IsZero() {
		s.t.Fatalf("inbound %+v reached the store", in)
	}
	return nil
}

// FuzzWebhook drives arbitrary signed bodies through the real handler: a
// body is either Meta's envelope (200) or refused with 400, never a 500 or
// a panic, and only well-formed updates reach the store.
func FuzzWebhook(f *testing.F) {
	now := time.Now()
	for _, b := range []string{
		statusBody("wamid.known", "read", now, nil),
		statusBody("wamid.known", "sent", now, map[string]any{"conversation": map[string]any{"id": "c", "expiration_timestamp": "1893456000", "origin": map[string]any{"type": "utility"}}}),
		statusBody("wamid.known", "failed", now, map[string]any{"errors": []any{map[string]any{"code": 131026, "title": "Message undeliverable"}}}),
		statusBody("wamid.x", "delivered", now, map[string]any{"biz_opaque_callback_data": "m1"}),
		envelope(map[string]any{"messages": []any{map[string]any{"from": "5511987654321", "id": "wamid.in", "timestamp": "1", "type": "text", "text": map[string]any{"body": "oi"}}}}),
		envelope(map[string]any{"messages": []any{map[string]any{"from": "+55", "id": "a/b", "type": "image"}}}),
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"timestamp":99999999999999}]}}]}]}`,
		`{"object":"page"}`, `{}`, `[]`, `null`, ``, `{"object":1}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h := webhook.New(webhook.Config{AppSecret: appSecret}, memLines{}, memStore{t}, nil).Handler()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		r.Header.Set(webhook.SignatureHeader, webhook.Sign(appSecret, body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("body %q answered %d %s", body, w.Code, w.Body.String())
		}
		if w.Code == http.StatusBadRequest && !strings.Contains(w.Body.String(), "malformed webhook body") {
			t.Fatalf("400 without naming the problem: %q", w.Body.String())
		}
	})
}
