package wati

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
)

// statusOf is the one table from domain error kinds to the dialect's HTTP
// codes. Wati documents no codes beyond 200 and 401, so the rest follow
// Google's API error model (AIP-193): a state that blocks the request
// (channel not connected, service window closed) is FAILED_PRECONDITION,
// 400; an exhausted quota is RESOURCE_EXHAUSTED, 429.
var statusOf = map[domain.Kind]int{
	domain.KindNoData:              http.StatusBadRequest,
	domain.KindInvalid:             http.StatusBadRequest,
	domain.KindParamsMissing:       http.StatusBadRequest,
	domain.KindTemplate:            http.StatusBadRequest,
	domain.KindChannelNotConnected: http.StatusBadRequest,
	domain.KindWindowClosed:        http.StatusBadRequest,
	domain.KindUnauthorized:        http.StatusUnauthorized,
	domain.KindLimitReached:        http.StatusTooManyRequests,
	domain.KindNotFound:            http.StatusNotFound,
	domain.KindInFlight:            http.StatusConflict,
	domain.KindKeyReused:           http.StatusUnprocessableEntity,
	domain.KindForbidden:           http.StatusForbidden,
	domain.KindRateLimited:         http.StatusTooManyRequests,
}

// shape is how an endpoint words a failure.
type shape int

const (
	plain   shape = iota // {"result":false,"info"}
	session              // {"ok":false,"result":false,"info"}
	bulk                 // {"result":false,"info","errors":{"error",…}}
)

// failure is Wati's failure body; Ok and Errors appear only for the
// endpoints whose answers carry them.
type failure struct {
	Ok     *bool       `json:"ok,omitempty"`
	Result bool        `json:"result"`
	Info   string      `json:"info"`
	Errors *bulkErrors `json:"errors,omitempty"`
}

func (sh shape) failure(info string) failure {
	f := failure{Info: info}
	switch sh {
	case session:
		f.Ok = new(bool)
	case bulk:
		f.Errors = &bulkErrors{Error: &info, InvalidNumbers: []string{}, InvalidParams: []string{}}
	}
	return f
}

// writeError answers err in the endpoint's shape with the table's code.
// Anything that is not a domain error is a 500 whose details go only to
// the log.
func writeError(w http.ResponseWriter, r *http.Request, sh shape, err error) {
	if errors.Is(err, request.ErrTooLarge) {
		writeJSON(w, http.StatusRequestEntityTooLarge, sh.failure("request body too large"))
		return
	}
	var de *domain.Error
	code, ok := 0, errors.As(err, &de)
	if ok {
		code, ok = statusOf[de.Kind]
	}
	if !ok {
		logging.FromContext(r.Context()).Error("wati: internal error", "error", err.Error(), "path", r.URL.Path)
		writeJSON(w, http.StatusInternalServerError, sh.failure("internal error"))
		return
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wati"`)
	}
	request.SetRetryAfter(w, err)
	writeJSON(w, code, sh.failure(de.Message))
}

// writeJSON writes v with code. HTML characters stay as they are: the
// answers are read by programs and by people with curl, never rendered.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	body := []byte(`{"result":false,"info":"internal error"}` + "\n")
	if err := enc.Encode(v); err == nil {
		body = b.Bytes()
	} else {
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
