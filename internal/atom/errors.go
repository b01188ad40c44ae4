package atom

import (
	"errors"
	"net/http"

	"github.com/go-chi/render"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
)

// envelope is Atom's body for every answer.
type envelope struct {
	Success bool           `json:"success"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data,omitempty"`
}

// statusOf is the one table from domain error kinds to Atom's codes
// (DESIGN §2).
var statusOf = map[domain.Kind]int{
	domain.KindNoData:              http.StatusBadRequest,
	domain.KindInvalid:             http.StatusBadRequest,
	domain.KindParamsMissing:       http.StatusBadRequest,
	domain.KindTemplate:            http.StatusBadRequest,
	domain.KindChannelNotConnected: http.StatusUnauthorized,
	domain.KindUnauthorized:        http.StatusUnauthorized,
	domain.KindLimitReached:        http.StatusUnauthorized,
	domain.KindNotFound:            http.StatusNotFound,
	domain.KindInFlight:            http.StatusConflict,
	domain.KindKeyReused:           http.StatusUnprocessableEntity,
	domain.KindForbidden:           http.StatusForbidden,
	domain.KindRateLimited:         http.StatusTooManyRequests,
}

// writeError answers err in Atom's envelope; code, when not 0, overrides
// the table (seed 000's 400 for a bad token on GET /{id}). Anything that is
// not a domain error is a 500 whose details go only to the log.
func writeError(w http.ResponseWriter, r *http.Request, err error, code int) {
	if errors.Is(err, request.ErrTooLarge) {
		writeJSON(w, r, http.StatusRequestEntityTooLarge, envelope{Message: "request body too large"})
		return
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		logging.FromContext(r.Context()).Error("internal error", "error", err.Error(), "path", r.URL.Path)
		writeJSON(w, r, http.StatusInternalServerError, envelope{Message: "internal error"})
		return
	}
	if code == 0 {
		code = statusOf[de.Kind]
	}
	e := envelope{Message: de.Message}
	if len(de.Fields) > 0 {
		e.Data = map[string]any{"fields": de.Fields}
	}
	request.SetRetryAfter(w, err)
	writeJSON(w, r, code, e)
}

func writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	render.Status(r, code)
	render.JSON(w, r, v)
}
