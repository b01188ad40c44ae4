package atom

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
	"github.com/templategw/templategw/internal/store"
)

// templateView is how the Atom API shows a template.
type templateView struct {
	ID       string                    `json:"id"`
	Name     string                    `json:"name"`
	Language string                    `json:"language"`
	Category string                    `json:"category"`
	Status   string                    `json:"status"`
	Body     string                    `json:"body"`
	Header   *domain.TemplateComponent `json:"header,omitempty"`
	Buttons  []domain.TemplateButton   `json:"buttons,omitempty"`
	Params   []string                  `json:"params"`
}

func viewOf(t domain.Template) templateView {
	v := templateView{ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status,
		Body: t.Body(), Header: t.Component("HEADER"), Params: t.Params()}
	if v.Params == nil {
		v.Params = []string{}
	}
	if b := t.Component("BUTTONS"); b != nil {
		v.Buttons = b.Buttons
	}
	return v
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	tok, err := s.authenticate(r, templateScopes...)
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	limit, err := request.Limit(r.URL.Query().Get("limit"), 20, 100)
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	after, err := decodeToken(r.URL.Query().Get("pageToken"))
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	list, next, err := s.templates.Templates(r.Context(), tok.Tenant, limit, after)
	if errors.Is(err, store.ErrBadPageToken) {
		err = domain.Errorf(domain.KindInvalid, "pageToken: not a token this API issued", "pageToken")
	}
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	views := make([]templateView, 0, len(list))
	for _, t := range list {
		views = append(views, viewOf(t))
	}
	data := map[string]any{"templates": views}
	if next != "" {
		data["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	writeJSON(w, r, http.StatusOK, envelope{Success: true, Message: "OK", Data: data})
}

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	var errs domain.FieldErrors
	if !domain.CheckLen(&errs, "pageToken", tok, domain.MaxPageToken) {
		return "", errs.Err()
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) == 0 || strings.Contains(string(raw), "/") {
		return "", domain.Errorf(domain.KindInvalid, "pageToken: not a token this API issued", "pageToken")
	}
	return string(raw), nil
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	tok, err := s.authenticate(r, templateScopes...)
	if err != nil {
		// Seed 000 documents a bad token on this endpoint as 400; a
		// key outside its scopes is 403 as everywhere.
		code := http.StatusBadRequest
		if domain.KindOf(err) == domain.KindForbidden {
			code = 0
		}
		writeError(w, r, err, code)
		return
	}
	t, err := s.cat.Template(r.Context(), tok.Tenant, chi.URLParam(r, "templateId"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, domain.Errorf(domain.KindNotFound, "template not found"), 0)
		return
	}
	if err != nil {
		writeError(w, r, err, 0)
		return
	}
	writeJSON(w, r, http.StatusOK, envelope{Success: true, Message: "OK", Data: map[string]any{"template": viewOf(t)}})
}
