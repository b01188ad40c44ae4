package atom_test

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
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/catalog"
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
	return domain.Token{Tenant: demo.TenantID, Integration: "demo", Groups: []string{"Support"}, DefaultChannel: demo.ChannelID}, nil
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

func (memSource) Templates(context.Context, string, int, string) ([]domain.Template, string, error) {
	return nil, "", nil
}

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
	if m.ID == "" || m.Tenant != demo.TenantID || m.Status != domain.StatusAccepted || len(m.History) != 1 {
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

func (memStore) WatchMessage(ctx context.Context, _, _ string, _ func(domain.Message) bool) (domain.Message, error) {
	return domain.Message{}, errors.New("no listener in memory")
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, queue.Job) error { return nil }

// FuzzSendBody drives arbitrary bodies through the real handler, parser,
// accept path and renderer (with in-memory configuration and storage):
// nothing a client sends is an internal error, and every answer is Atom's
// envelope with a code from DESIGN §2.
func FuzzSendBody(f *testing.F) {
	for _, b := range seedBodies {
		f.Add([]byte(b))
	}
	for _, b := range []string{
		body(nil),
		body(map[string]any{"assign": "yes"}),
		body(map[string]any{"params": map[string]any{"1": map[string]any{"a": 1}}}),
		body(map[string]any{"templateId": 5}),
		body(map[string]any{"templateId": "test_template", "params": map[string]any{"name": "A", "custom_code": "1", "email": "a@b.c", "header": "https://x.example/a.pdf", "button_0": "1", "button_1": "2"}}),
		body(map[string]any{"templateId": "promo_image", "params": map[string]any{"1": "A", "header": "not a url", "button_0": "x"}}),
		body(map[string]any{"channelNumber": "+" + demo.DisplayNumber}),
		body(map[string]any{"channelNumber": "nope"}),
		`{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":1e400,"2":-0}}`,
		`{"templateId":"welcome","phoneNumber":"50755667788","params":{"1":"\ud800","2":"x"}}`,
		`{"params":null,"templateId":null,"phoneNumber":null}`,
		`{"templateId":"welcome","templateId":"alerta1","phoneNumber":"50755667788","params":{"1":"a"}}`,
		`"x"`, `{`, `}`, `{}`, `{}}`, `null`, "\xff\xfe{}",
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
		h := atom.New(cat, src, svc).Handler()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(b)))
		r.Header.Set("Authorization", "Bearer "+fuzzToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized:
		case http.StatusRequestEntityTooLarge:
			if len(b) <= request.MaxBody {
				t.Fatalf("413 for %d bytes", len(b))
			}
		default:
			t.Fatalf("body %q answered %d %s", b, w.Code, w.Body.String())
		}
		var env struct {
			Success *bool          `json:"success"`
			Message *string        `json:"message"`
			Data    map[string]any `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Success == nil || env.Message == nil {
			t.Fatalf("body %q answered a non-envelope %q (%v)", b, w.Body.String(), err)
		}
		if !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not UTF-8: %q", w.Body.String())
		}
		if *env.Success != (w.Code == http.StatusAccepted) {
			t.Fatalf("success %t with %d", *env.Success, w.Code)
		}
		if w.Code == http.StatusAccepted {
			// Only a body that is one valid JSON object is a send.
			if !json.Valid(b) {
				t.Fatalf("body %q is not valid JSON but answered 202", b)
			}
			if *env.Message != "Pending" || env.Data["message_id"] == "" || env.Data["message_id"] == nil {
				t.Fatalf("202 body %s", w.Body.String())
			}
		} else if *env.Message == "" {
			t.Fatalf("%d without a message", w.Code)
		}
	})
}
