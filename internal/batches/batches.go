// Package batches is the batches function: a tenant's broadcasts, the
// bulk sends of emkt's 50.01 and Wati's sendTemplateMessages, with their
// progress (GET /{id}, GET /) and their control (POST /{id}/pause,
// /resume, /cancel). A broadcast's id is the code its send answered.
// Answers are plain resources, errors {"error":{"code","message"}}, as in
// the messages API.
package batches

import (
	"context"
	"github.com/templategw/templategw/internal/messages"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/render"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
)

// Auth authenticates bearer tokens.
type Auth interface {
	Authenticate(ctx context.Context, token string) (domain.Token, error)
}

// Service reads and steers a tenant's broadcasts (batch.Service).
type Service interface {
	Progress(ctx context.Context, tenant, code string) (batch.Progress, error)
	List(ctx context.Context, tenant string, limit int, pageToken string) ([]batch.Progress, string, error)
	Pause(ctx context.Context, tenant, code string) (batch.Progress, error)
	Resume(ctx context.Context, tenant, code string) (batch.Progress, error)
	Cancel(ctx context.Context, tenant, code string) (batch.Progress, error)
}

// Server serves the batches function.
type Server struct {
	auth Auth
	svc  Service
}

// New returns the batches API server.
func New(auth Auth, svc Service) *Server { return &Server{auth: auth, svc: svc} }

// Handler is the batches function's HTTP handler, served at "/".
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/", s.handleList)
	r.Get("/{batchId}", s.handleGet)
	r.Post("/{batchId}/pause", s.control(Service.Pause))
	r.Post("/{batchId}/resume", s.control(Service.Resume))
	r.Post("/{batchId}/cancel", s.control(Service.Cancel))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, domain.Errorf(domain.KindNotFound, "no such route"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		messages.WriteMethodNotAllowed(w, r, "method "+r.Method+" is not allowed here")
	})
	return r
}

// authenticate returns what the request's token grants, refused before
// anything is read when the key lacks scope: reading progress takes
// read:messages (as emkt's 50.02 does), steering a broadcast admin.
func (s *Server) authenticate(r *http.Request, scope domain.Scope) (domain.Token, error) {
	tok, err := s.auth.Authenticate(r.Context(), request.Bearer(r))
	if err != nil {
		return tok, err
	}
	return tok, tok.Require(scope)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	tok, err := s.authenticate(r, domain.ScopeReadMessages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.svc.Progress(r.Context(), tok.Tenant, chi.URLParam(r, "batchId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	render.JSON(w, r, ViewOf(p))
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	tok, err := s.authenticate(r, domain.ScopeReadMessages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	var errs domain.FieldErrors
	limit, err := request.Limit(q.Get("limit"), 20, 100)
	if err != nil {
		errs.Add("limit", "must be a whole number from 1 to 100")
	}
	domain.CheckLen(&errs, "pageToken", q.Get("pageToken"), domain.MaxPageToken)
	if err := errs.Err(); err != nil {
		writeError(w, r, err)
		return
	}
	list, next, err := s.svc.List(r.Context(), tok.Tenant, limit, q.Get("pageToken"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	views := make([]View, len(list))
	for i, p := range list {
		views[i] = ViewOf(p)
	}
	render.JSON(w, r, ListView{Batches: views, NextPageToken: next})
}

// control serves one of pause, resume and cancel; the answer is the
// broadcast as it stands after it.
func (s *Server) control(do func(Service, context.Context, string, string) (batch.Progress, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.authenticate(r, domain.ScopeAdmin)
		if err != nil {
			writeError(w, r, err)
			return
		}
		p, err := do(s.svc, r.Context(), tok.Tenant, chi.URLParam(r, "batchId"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		render.JSON(w, r, ViewOf(p))
	}
}

// writeError answers in the native API's one shape and table.
func writeError(w http.ResponseWriter, r *http.Request, err error) { messages.WriteError(w, r, err) }
