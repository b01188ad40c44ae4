package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

func (memLines) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	return domain.Tenant{ID: id, CallbackURL: "https://hooks.example.com/in"}, nil
}

// sane reports whether at is a time a webhook received at the test's run
// may record: never before 2009, never after the receipt.
func sane(at time.Time) bool {
	return !at.Before(domain.EarliestEventTime) && !at.After(time.Now())
}

// memStore holds one pending message, known by wamid.known, and checks
// what the handler asks of it.
type memStore struct{ t *testing.T }

func (memStore) MessageOfWAMID(_ context.Context, tenant, wamid string) (string, error) {
	if tenant == demo.TenantID && wamid == "wamid.known" {
		return "m1", nil
	}
	return "", store.ErrNotFound
}

func (s memStore) ApplyUpdate(_ context.Context, tenant, id string, u domain.Update) (domain.Message, bool, error) {
	if tenant != demo.TenantID {
		s.t.Fatalf("update for tenant %q", tenant)
	}
	if _, ok := domain.ParseUpdateStatus(string(u.Status)); !ok || !sane(u.At) || !store.ValidID(u.ProviderMessageID) {
		s.t.Fatalf("update %+v reached the store", u)
	}
	if u.Error != nil && utf8.RuneCountInString(u.Error.Title) > 512 {
		s.t.Fatalf("an error title of %d characters reached the store", utf8.RuneCountInString(u.Error.Title))
	}
	if p := u.Pricing; p != nil && (p.Category == "" || len(p.Category) > 64 || len(p.Type) > 64 || len(p.Model) > 64 ||
		strings.ContainsAny(p.Category, "./ ")) {
		s.t.Fatalf("pricing %+v reached the store", p)
	}
	if id != "m1" {
		return domain.Message{}, false, store.ErrNotFound
	}
	m := domain.NewMessage("m1", tenant, demo.ChannelID, "5511987654321", "welcome", domain.TemplateMessage{}, time.Now())
	m.Status = domain.StatusPending
	changed, err := m.Apply(u)
	return m, changed, err
}

func (s memStore) RecordInbound(_ context.Context, _ string, in store.Inbound) (store.Inbound, bool, error) {
	if in.Phone == "" && in.UserID == "" || !store.ValidID(in.ID) || !store.ValidID(in.ContactKey()) || !sane(in.At) {
		s.t.Fatalf("inbound %+v reached the store", in)
	}
	bounded := in
	bounded.Bound()
	if !reflect.DeepEqual(bounded, in) {
		s.t.Fatalf("an unbounded inbound message reached the store: %+v", in)
	}
	return in, true, nil
}

// FuzzWebhook drives arbitrary signed bodies through the real handler: a
// body is either Meta's envelope (200) or refused with 400, never a 500 or
// a panic, and only well-formed, bounded updates and messages with sane
// times reach the store.
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
		statusBody("wamid.known", "sent", now, map[string]any{"timestamp": "1099511627776", "pricing": map[string]any{"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}}),
		statusBody("wamid.known", "delivered", now, map[string]any{"timestamp": 99999999999999999999.0, "pricing": map[string]any{"billable": "yes", "category": 7}}),
		statusBody("wamid.known", "read", now, map[string]any{"timestamp": map[string]any{"s": 1}, "recipient_id": nil, "recipient_user_id": "BR.1"}),
		statusBody("wamid.known", "failed", now, map[string]any{"timestamp": "-1", "errors": []any{map[string]any{"code": "x", "title": strings.Repeat("t", 2000)}}}),
		statusBody("wamid.known", "sent", now, map[string]any{"pricing": map[string]any{"billable": true, "category": "../../x", "type": strings.Repeat("y", 100)}}),
		statusBody(strings.Repeat("w", 2000), "read", now, map[string]any{"biz_opaque_callback_data": "m1"}),
		envelope(map[string]any{"statuses": []any{1, "x", nil, map[string]any{"id": 5}}}),
		envelope(map[string]any{"statuses": "not a list", "messages": map[string]any{}}),
		envelope(map[string]any{"contacts": []any{map[string]any{"user_id": "BR.13491208655302741918", "profile": map[string]any{"name": strings.Repeat("n", 5000)}}},
			"messages": []any{map[string]any{"from_user_id": "BR.13491208655302741918", "id": "wamid.u", "timestamp": "17672256000000", "type": "image",
				"image": map[string]any{"id": "1", "mime_type": "image/jpeg", "caption": strings.Repeat("c", 5000)}}}}),
		envelope(map[string]any{"messages": []any{map[string]any{"from": "5511987654321", "id": "wamid.l", "type": "location", "location": map[string]any{"latitude": "north"}}}}),
		envelope(map[string]any{"messages": []any{map[string]any{"from": "5511987654321", "id": "wamid.i", "type": "interactive",
			"interactive": map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": "r", "title": "t", "description": "d"}}}}}),
		envelope(map[string]any{"messages": []any{map[string]any{"id": "wamid.n", "type": "text", "text": map[string]any{"body": "nobody"}}}}),
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h := webhook.New(webhook.Config{AppSecret: appSecret}, memLines{}, memStore{t}, &recorder{}).Handler()
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
