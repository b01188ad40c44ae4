package cloudchat_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/request"
	"github.com/templategw/templategw/internal/store"
)

// memSource serves the demo tenant from memory, for the fuzz target.
type memSource struct{ templates map[string]domain.Template }

const fuzzToken = "fuzz-token"

func (memSource) Token(_ context.Context, hash string) (domain.Token, error) {
	if hash != store.HashToken(fuzzToken) {
		return domain.Token{}, store.ErrNotFound
	}
	return domain.Token{Tenant: demo.TenantID, Integration: "demo", DefaultChannel: demo.ChannelID}, nil
}

func (memSource) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	return domain.Tenant{ID: id, Name: "Demo", CountryCode: demo.CountryCode}, nil
}

func (memSource) Channels(context.Context, string) ([]domain.Channel, error) {
	return []domain.Channel{demo.Channel()}, nil
}

func (m memSource) Template(_ context.Context, _, id string) (domain.Template, error) {
	t, ok := m.templates[id]
	if !ok {
		return domain.Template{}, store.ErrNotFound
	}
	return t, nil
}

// TemplateByName finds by id: each demo template's id is its name.
func (m memSource) TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error) {
	return m.Template(ctx, tenant, name)
}

func (memSource) Line(context.Context, string) (store.Line, error) {
	return store.Line{}, store.ErrNotFound
}

// memStore checks what the accept path would commit.
type memStore struct{ t *testing.T }

func (s memStore) Accept(_ context.Context, a store.Acceptance) error {
	m := a.Message
	if m.ID == "" || m.Tenant != demo.TenantID || m.Status != domain.StatusAccepted || m.Channel != demo.ChannelID {
		s.t.Errorf("accepting a malformed message: %+v", m)
	}
	if _, err := domain.ParsePhone(m.PhoneNumber); err != nil || a.Contact.Phone != m.PhoneNumber {
		s.t.Errorf("accepting phone %q (contact %q): %v", m.PhoneNumber, a.Contact.Phone, err)
	}
	return nil
}

func (memStore) Idempotency(context.Context, string, string) (store.IdempotencyRecord, error) {
	return store.IdempotencyRecord{}, store.ErrNotFound
}

func (memStore) SetIdempotencyAnswer(context.Context, string, string, int, []byte) error { return nil }

// Conversation answers none open, so a send never waits for dispatch.
func (memStore) Conversation(context.Context, string, string, string) (domain.Conversation, error) {
	return domain.Conversation{}, nil
}

func (memStore) ConversationsOpened(context.Context, string, string) (int, error) { return 0, nil }

func (memStore) WatchMessage(context.Context, string, string, func(domain.Message) bool) (domain.Message, error) {
	return domain.Message{}, errors.New("no listener in memory")
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, queue.Job) error { return nil }

// FuzzCloudchatBody drives arbitrary bodies through the real handler,
// parser, accept path and answer (with in-memory configuration and
// storage): nothing a client sends is an internal error, an error names
// its problem, and a 200 is the conversation object.
func FuzzCloudchatBody(f *testing.F) {
	for _, b := range []string{
		seedBody(demo.ChannelID, "+"+phone),
		seedBody(demo.DisplayNumber, phone),
		body(nil),
		body(map[string]any{"inbox_id": 5511999990000}),
		body(map[string]any{"inbox_id": "nope", "phone_number": "12"}),
		body(map[string]any{"name": map[string]any{"a": 1}, "email": nil}),
		body(map[string]any{"header_attachment": "not a url", "button_param_0": 1e300}),
		body(map[string]any{"template_name": "welcome", "first": "A", "second": "B"}),
		body(map[string]any{"template_name": "welcome", "1": "A"}),
		body(map[string]any{"template_name": "promo_image", "1": "A", "header_attachment": "https://x.example/a.jpg", "button_param_0": "x"}),
		body(map[string]any{"template_name": "order_update", "first.name": "A", "order.id": 1}),
		`{"inbox_id":"main","phone_number":"+5511987654321","template_name":"welcome","1":1e400,"2":-0}`,
		`{"inbox_id":"main","inbox_id":1,"phone_number":"+5511987654321","template_name":"welcome","a":"\ud800","b":"x"}`,
		`{"inbox_id":null,"phone_number":null,"template_name":null}`,
		`{"inbox_id":"main","phone_number":"+5511987654321","template_name":"test_template","":"x","button_param_":"y","button_param_999":"z"}`,
		`"x"`, `{`, `}`, `{}`, `{}}`, `null`, "\xff\xfe{}", `{"a":1,}`,
	} {
		f.Add([]byte(b))
	}
	templates := map[string]domain.Template{}
	for _, t := range demo.Templates() {
		templates[t.ID] = t
	}
	src := memSource{templates: templates}
	f.Fuzz(func(t *testing.T, b []byte) {
		cat := catalog.New(src, 0)
		svc := accept.New(cat, memStore{t}, nopPublisher{}, accept.Options{})
		h := cloudchat.New(cat, svc).Handler()
		r := httptest.NewRequest(http.MethodPost, sendPath(demo.TenantID), strings.NewReader(string(b)))
		r.Header.Set("api_access_token", fuzzToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not UTF-8: %q", w.Body.String())
		}
		switch w.Code {
		case http.StatusOK:
			if !json.Valid(b) {
				t.Fatalf("body %q is not valid JSON but answered 200", b)
			}
			var c struct {
				ID       string `json:"id"`
				Status   string `json:"status"`
				Messages []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || c.Status != "open" || len(c.Messages) != 1 ||
				c.Messages[0].ID == "" || c.ID != c.Messages[0].ID || c.Messages[0].Status != "pending" {
				t.Fatalf("200 body %s (%v)", w.Body.String(), err)
			}
			return
		case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
		case http.StatusRequestEntityTooLarge:
			if len(b) <= request.MaxBody {
				t.Fatalf("413 for %d bytes", len(b))
			}
		default:
			t.Fatalf("body %q answered %d %s", b, w.Code, w.Body.String())
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%d without an error message: %s (%v)", w.Code, w.Body.String(), err)
		}
	})
}
