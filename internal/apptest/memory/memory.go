// Package memory serves the demo tenant's configuration and takes its sends
// in memory, so a fuzz target can drive a dialect's real handler, parser and
// accept path at thousands of inputs a second. Everything else is tested on
// the real emulators (internal/apptest).
package memory

import (
	"context"
	"errors"
	"testing"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// Token is the demo tenant's bearer token in memory.
const Token = "fuzz-token"

// Source is the demo tenant as catalog.Source and the template lister.
type Source struct{ templates map[string]domain.Template }

// NewSource returns the demo tenant with its templates.
func NewSource() Source {
	s := Source{templates: map[string]domain.Template{}}
	for _, t := range demo.Templates() {
		s.templates[t.ID] = t
	}
	return s
}

// Token grants Token to the demo tenant.
func (Source) Token(_ context.Context, hash string) (domain.Token, error) {
	if hash != store.HashToken(Token) {
		return domain.Token{}, store.ErrNotFound
	}
	return domain.Token{Tenant: demo.TenantID, Integration: "demo", Groups: []string{"Support"}, DefaultChannel: demo.ChannelID}, nil
}

// Tenant is the demo tenant, whatever the id.
func (Source) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	return domain.Tenant{ID: id, Name: "Demo", CountryCode: demo.CountryCode}, nil
}

// Channels is the demo channel.
func (Source) Channels(context.Context, string) ([]domain.Channel, error) {
	return []domain.Channel{demo.Channel()}, nil
}

// Template is a demo template by id.
func (s Source) Template(_ context.Context, _, id string) (domain.Template, error) {
	t, ok := s.templates[id]
	if !ok {
		return domain.Template{}, store.ErrNotFound
	}
	return t, nil
}

// TemplateByName finds by id: each demo template's id is its name.
func (s Source) TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error) {
	return s.Template(ctx, tenant, name)
}

// Templates lists nothing.
func (Source) Templates(context.Context, string, int, string) ([]domain.Template, string, error) {
	return nil, "", nil
}

// Line knows no phone-number id.
func (Source) Line(context.Context, string) (store.Line, error) {
	return store.Line{}, store.ErrNotFound
}

// Store checks what the accept path would commit, and commits nothing.
type Store struct{ T testing.TB }

// Accept fails T for a message the accept path should never build.
func (s Store) Accept(_ context.Context, a store.Acceptance) error {
	m := a.Message
	if m.ID == "" || m.Tenant != demo.TenantID || m.Status != domain.StatusAccepted || m.Channel != demo.ChannelID {
		s.T.Errorf("accepting a malformed message: %+v", m)
	}
	if _, err := domain.ParsePhone(m.PhoneNumber); err != nil || a.Contact.Phone != m.PhoneNumber {
		s.T.Errorf("accepting phone %q (contact %q): %v", m.PhoneNumber, a.Contact.Phone, err)
	}
	return nil
}

// Idempotency has no records.
func (Store) Idempotency(context.Context, string, string) (store.IdempotencyRecord, error) {
	return store.IdempotencyRecord{}, store.ErrNotFound
}

// SetIdempotencyAnswer keeps nothing.
func (Store) SetIdempotencyAnswer(context.Context, string, string, int, []byte) error { return nil }

// Conversation answers none open, so a send never waits for dispatch.
func (Store) Conversation(context.Context, string, string, string) (domain.Conversation, error) {
	return domain.Conversation{}, nil
}

// ConversationsOpened counts none.
func (Store) ConversationsOpened(context.Context, string, string) (int, error) { return 0, nil }

// WatchMessage has no listener.
func (Store) WatchMessage(context.Context, string, string, func(domain.Message) bool) (domain.Message, error) {
	return domain.Message{}, errors.New("no listener in memory")
}

// Publisher drops every job.
type Publisher struct{}

// Publish drops j.
func (Publisher) Publish(context.Context, queue.Job) error { return nil }

// Accept returns an uncached catalog over src and the accept path over
// memory, for one fuzz input.
func Accept(t testing.TB, src Source) (*catalog.Catalog, *accept.Service) {
	cat := catalog.New(src, 0)
	return cat, accept.New(cat, Store{T: t}, Publisher{}, accept.Options{})
}
