// Package messages is the native messages API: the status and history of
// one send (GET /{messageId}), a tenant's sends filtered by phone and
// status (GET /), and its billable messages of a month (GET /usage).
// Answers are plain resources, errors {"error":{"code","message"}}
// (DESIGN §2).
package messages

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/render"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
	"github.com/templategw/templategw/internal/store"
)

// Auth authenticates bearer tokens.
type Auth interface {
	Authenticate(ctx context.Context, token string) (domain.Token, error)
}

// Store reads a tenant's messages and counts its usage.
type Store interface {
	Message(ctx context.Context, tenant, id string) (domain.Message, error)
	Messages(ctx context.Context, tenant string, f store.MessageFilter, limit int, pageToken string) ([]domain.Message, string, error)
	Usage(ctx context.Context, tenant, month string) ([]domain.UsageCount, error)
}

// Server serves the messages function.
type Server struct {
	auth  Auth
	store Store
	// Now is the clock that picks the usage's default month (default
	// time.Now).
	Now func() time.Time
}

// New returns the messages API server.
func New(auth Auth, st Store) *Server { return &Server{auth: auth, store: st, Now: time.Now} }

// Handler is the messages function's HTTP handler, served at "/".
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/", s.handleList)
	// A static segment wins over the parameter: no message id is "usage"
	// (ids are random base32, store.NewID).
	r.Get("/usage", s.handleUsage)
	r.Get("/{messageId}", s.handleGet)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, domain.Errorf(domain.KindNotFound, "no such route"))
	})
	// The API is read-only; a write gets the same JSON error shape as
	// every other refusal, not the router's empty 405.
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		WriteMethodNotAllowed(w, r, "method "+r.Method+" is not allowed: the messages API is read-only")
	})
	return r
}

// View is one message as the API shows it. The phone number is masked to
// its last four digits: the caller already knows it, and responses must
// not spread full numbers into clients' logs.
type View struct {
	ID                string                `json:"id"`
	Status            domain.Status         `json:"status"`
	Channel           string                `json:"channel"`
	PhoneNumber       string                `json:"phoneNumber"`
	TemplateID        string                `json:"templateId"`
	ConversationID    string                `json:"conversationId,omitempty"`
	ProviderMessageID string                `json:"providerMessageId,omitempty"`
	Attempts          int                   `json:"attempts"`
	Error             *domain.MessageError  `json:"error,omitempty"`
	Pricing           *domain.Pricing       `json:"pricing,omitempty"`
	History           []domain.HistoryEntry `json:"history"`
	CreatedAt         time.Time             `json:"createdAt"`
	UpdatedAt         time.Time             `json:"updatedAt"`
}

// ViewOf renders a message.
func ViewOf(m domain.Message) View {
	return View{
		ID: m.ID, Status: m.Status, Channel: m.Channel, PhoneNumber: domain.MaskPhone(m.PhoneNumber),
		TemplateID: m.TemplateID, ConversationID: m.ConversationID, ProviderMessageID: m.ProviderMessageID,
		Attempts: m.Attempts, Error: m.Error, Pricing: m.Pricing, History: m.History, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}

// authenticate returns what the request's token grants: every route of
// this API reads messages, and a key without that scope is refused
// before anything is read.
func (s *Server) authenticate(r *http.Request) (domain.Token, error) {
	tok, err := s.auth.Authenticate(r.Context(), request.Bearer(r))
	if err != nil {
		return tok, err
	}
	return tok, tok.Require(domain.ScopeReadMessages)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	tok, err := s.authenticate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	m, err := s.store.Message(r.Context(), tok.Tenant, chi.URLParam(r, "messageId"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, domain.Errorf(domain.KindNotFound, "message not found"))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	render.JSON(w, r, ViewOf(m))
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	tok, err := s.authenticate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	var f store.MessageFilter
	var errs domain.FieldErrors
	if p := q.Get("phone"); p != "" {
		if f.Phone, err = domain.ParsePhone(p); err != nil {
			errs.Add("phone", "must be digits only, country code first, 8 to 15 digits")
		}
	}
	if st := domain.Status(q.Get("status")); st != "" {
		if !st.Valid() {
			errs.Add("status", "must be one of accepted, dispatching, pending, sent, delivered, read, failed, unknown")
		}
		f.Status = st
	}
	limit, err := request.Limit(q.Get("limit"), 50, 500)
	if err != nil {
		errs.Add("limit", "must be a whole number from 1 to 500")
	}
	domain.CheckLen(&errs, "pageToken", q.Get("pageToken"), domain.MaxPageToken)
	if err := errs.Err(); err != nil {
		writeError(w, r, err)
		return
	}
	list, next, err := s.store.Messages(r.Context(), tok.Tenant, f, limit, q.Get("pageToken"))
	if errors.Is(err, store.ErrBadPageToken) {
		writeError(w, r, domain.Errorf(domain.KindInvalid, "pageToken: not a token this API issued", "pageToken"))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	views := make([]View, 0, len(list))
	for _, m := range list {
		views = append(views, ViewOf(m))
	}
	render.JSON(w, r, listView{Messages: views, NextPageToken: next})
}

type listView struct {
	Messages      []View `json:"messages"`
	NextPageToken string `json:"nextPageToken,omitempty"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// codes is the one table from domain error kinds to this API's answers.
var codes = map[domain.Kind]struct {
	status int
	code   string
}{
	domain.KindUnauthorized: {http.StatusUnauthorized, "unauthenticated"},
	domain.KindForbidden:    {http.StatusForbidden, "permission_denied"},
	domain.KindInvalid:      {http.StatusBadRequest, "invalid_argument"},
	domain.KindNotFound:     {http.StatusNotFound, "not_found"},
	domain.KindConflict:     {http.StatusConflict, "failed_precondition"},
}

// WriteError answers err in the native API's shape
// ({"error":{"code","message"}}), which every native function (messages,
// batches) shares: a domain error by its kind, anything else as 500 with
// the details only in the log.
func WriteError(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, err) }

// WriteMethodNotAllowed answers 405 in the native API's shape.
func WriteMethodNotAllowed(w http.ResponseWriter, r *http.Request, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = "method_not_allowed", msg
	render.Status(r, http.StatusMethodNotAllowed)
	render.JSON(w, r, e)
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e apiError
	var de *domain.Error
	c, ok := codes[domain.KindOf(err)]
	if !ok || !errors.As(err, &de) {
		logging.FromContext(r.Context()).Error("internal error", "error", err.Error(), "path", r.URL.Path)
		c.status, c.code = http.StatusInternalServerError, "internal"
		e.Error.Message = "internal error"
	} else {
		e.Error.Message = de.Message
	}
	e.Error.Code = c.code
	render.Status(r, c.status)
	render.JSON(w, r, e)
}
