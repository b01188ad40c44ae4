// Package atom is the Atom Templates API dialect (seeds 000 and 001):
// POST / sends a template, GET / lists templates, GET /{templateId} shows
// one. It parses, calls the accept path, and renders Atom's envelope.
package atom

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
)

// Catalog authenticates tokens and reads templates.
type Catalog interface {
	Authenticate(ctx context.Context, token string) (domain.Token, error)
	Template(ctx context.Context, tenant, id string) (domain.Template, error)
}

// Templates lists a tenant's templates a page at a time.
type Templates interface {
	Templates(ctx context.Context, tenant string, limit int, after string) ([]domain.Template, string, error)
}

// Sender runs the accept path.
type Sender interface {
	Send(ctx context.Context, tok domain.Token, req accept.Request, idem *accept.Idempotency, render accept.Render) (accept.Answer, error)
}

// Server serves the templates function.
type Server struct {
	cat       Catalog
	templates Templates
	sender    Sender
}

// New returns the Atom API server.
func New(cat Catalog, templates Templates, sender Sender) *Server {
	return &Server{cat: cat, templates: templates, sender: sender}
}

// Handler is the templates function's HTTP handler, served at "/".
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Post("/", s.handleSend)
	r.Get("/", s.handleList)
	r.Get("/{templateId}", s.handleGet)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, domain.Errorf(domain.KindNotFound, "no such route"), 0)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusMethodNotAllowed, envelope{Message: "method not allowed"})
	})
	return r
}
