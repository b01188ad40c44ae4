// Package memory serves the demo tenant's configuration and takes its sends
// in memory, so a fuzz target can drive a dialect's real handler, parser and
// accept path at thousands of inputs a second. Everything else is tested on
// the real emulators (internal/apptest).
package memory

import (
	"context"
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
type Source struct {
	templates map[string]domain.Template
	// Limit is the demo tenant's monthly conversation limit (0: none).
	Limit int
}

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
func (s Source) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	return domain.Tenant{ID: id, Name: "Demo", CountryCode: demo.CountryCode, ConversationLimit: s.Limit}, nil
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

// Publisher drops every job.
type Publisher struct{}

// Publish drops j.
func (Publisher) Publish(context.Context, queue.Job) error { return nil }

// Accept returns an uncached catalog over src and the accept path over a
// new in-memory store, for one fuzz input.
func Accept(t testing.TB, src Source) (*catalog.Catalog, *accept.Service) {
	cat := catalog.New(src, 0)
	return cat, accept.New(cat, NewStore(t), Publisher{}, accept.Options{Wait: -1})
}
