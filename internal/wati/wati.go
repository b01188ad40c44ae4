// Package wati is the Wati dialect (seed 004): a client built from Wati's
// API works against templategw unchanged except for its base URL and
// token. Its paths are /{tenantId}/api/v1/...: template sends one at a time
// and in bulk, free-form session messages inside the customer-service
// window, a contact's messages both ways, and contacts with their custom
// params, all with Wati's multiple-numbers keys (channelNumber,
// channelPhoneNumber). Each handler parses, runs a domain command and
// renders Wati's shapes.
package wati

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// Catalog authenticates tokens and reads the cached configuration.
type Catalog interface {
	Authenticate(ctx context.Context, token string) (domain.Token, error)
	Tenant(ctx context.Context, id string) (domain.Tenant, error)
	Channels(ctx context.Context, tenant string) ([]domain.Channel, error)
	Template(ctx context.Context, tenant, id string) (domain.Template, error)
	TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error)
}

// Sender is the accept path: sends of one template or text, and the
// admission a broadcast's receivers share.
type Sender interface {
	Send(ctx context.Context, tok domain.Token, req accept.Request, idem *accept.Idempotency, render accept.Render) (accept.Answer, error)
	AdmitBulk(ctx context.Context, tok domain.Token, req accept.BulkRequest) (accept.BulkPlan, error)
}

// Batches accepts bulk sends; batch.Service implements it.
type Batches interface {
	Create(ctx context.Context, tok domain.Token, spec batch.Spec, next batch.Next) (batch.Batch, error)
}

// Store keeps session messages, contacts and chats.
type Store interface {
	Conversation(ctx context.Context, tenant, channel, phone string) (domain.Conversation, error)
	Contact(ctx context.Context, tenant, phone string) (domain.Contact, error)
	EditContact(ctx context.Context, tenant, phone string, now time.Time, edit func(c *domain.Contact, exists bool) error) (domain.Contact, bool, error)
	ContactsPage(ctx context.Context, tenant string, offset, limit int) ([]domain.Contact, error)
	CountContacts(ctx context.Context, tenant string) (int, error)
	EachContact(ctx context.Context, tenant string, yield func(domain.Contact) (bool, error)) error

	Chat(ctx context.Context, tenant, channel, phone string, n int) ([]store.ChatItem, int, error)
}

// Options tune the server.
type Options struct {
	Now func() time.Time
}

// Server serves the wati function.
type Server struct {
	cat     Catalog
	store   Store
	sender  Sender
	batches Batches
	opt     Options
}

// New returns the Wati dialect's server.
func New(cat Catalog, st Store, sender Sender, batches Batches, opt Options) *Server {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Server{cat: cat, store: st, sender: sender, batches: batches, opt: opt}
}

// Handler is the wati function's HTTP handler, served at "/".
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Route("/{tenantId}/api/v1", func(r chi.Router) {
		r.Post("/sendTemplateMessage", s.serve(plain, domain.ScopeSend, s.sendTemplate))
		r.Post("/sendTemplateMessages", s.serve(bulk, domain.ScopeSend, s.sendTemplates))
		r.Post("/sendSessionMessage/{whatsappNumber}", s.serve(session, domain.ScopeSend, s.sendSession))
		r.Get("/getMessages/{whatsappNumber}", s.serve(plain, domain.ScopeReadMessages, s.getMessages))
		r.Post("/addContact/{whatsappNumber}", s.serve(plain, domain.ScopeContacts, s.addContact))
		r.Post("/updateContactAttributes/{whatsappNumber}", s.serve(plain, domain.ScopeContacts, s.updateContactAttributes))
		r.Get("/getContacts", s.serve(plain, domain.ScopeContacts, s.getContacts))
		r.Post("/updateChatStatus", s.serve(plain, domain.ScopeContacts, s.updateChatStatus))
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, plain, domain.Errorf(domain.KindNotFound, "not found: "+r.Method+" "+r.URL.Path+" is not a Wati API path this gateway serves"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, failure{Info: "method " + r.Method + " is not allowed on " + r.URL.Path})
	})
	return r
}

// endpoint is one API call for an authenticated token. It writes its
// answer only on success; an error is rendered by serve in the endpoint's
// shape.
type endpoint func(w http.ResponseWriter, r *http.Request, tok domain.Token) error

// serve authenticates the request for scope, runs e and renders its
// error.
func (s *Server) serve(sh shape, scope domain.Scope, e endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.authenticate(r, scope)
		if err == nil {
			err = e(w, r, tok)
		}
		if err != nil {
			writeError(w, r, sh, err)
		}
	}
}
