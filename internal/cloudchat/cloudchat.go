// Package cloudchat is the CloudChat dialect (seed 002), CloudHumans'
// Chatwoot-based API: POST
// /api/v1/accounts/{account_id}/conversations/create_proactive_whatsapp_conversation
// sends a template by name to a phone number through an inbox. It parses,
// calls the accept path, and answers with Chatwoot's conversation object.
package cloudchat

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/domain"
)

// Catalog authenticates tokens and reads the channels and templates a send
// is checked against, from the per-instance cache.
type Catalog interface {
	Authenticate(ctx context.Context, token string) (domain.Token, error)
	Channels(ctx context.Context, tenant string) ([]domain.Channel, error)
	TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error)
}

// Sender runs the accept path.
type Sender interface {
	Send(ctx context.Context, tok domain.Token, req accept.Request, idem *accept.Idempotency, render accept.Render) (accept.Answer, error)
}

// Server serves the cloudchat function.
type Server struct {
	cat    Catalog
	sender Sender
}

// New returns the CloudChat dialect's server.
func New(cat Catalog, sender Sender) *Server {
	return &Server{cat: cat, sender: sender}
}

// SendPath is the route of a proactive send, as seed 002 documents it.
const SendPath = "/api/v1/accounts/{account_id}/conversations/create_proactive_whatsapp_conversation"

// Handler is the cloudchat function's HTTP handler, served at "/", so a
// client's base URL https://cloudchat.cloudhumans.com becomes the
// function's URL and every path stays as the client builds it.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Post(SendPath, s.handleSend)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, domain.Errorf(domain.KindNotFound, "Resource could not be found"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method not allowed"})
	})
	return r
}
