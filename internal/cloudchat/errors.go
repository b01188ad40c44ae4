package cloudchat

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
)

// errorBody is Chatwoot's error answer.
type errorBody struct {
	Error string `json:"error"`
}

// unauthorizedBody is Chatwoot's answer to a bad api_access_token.
type unauthorizedBody struct {
	Errors []string `json:"errors"`
}

// statusOf is the one table from domain error kinds to CloudChat's codes.
// Chatwoot answers 422 for what it cannot create from a request and 402
// for a plan's limits; a kind missing here is a 500.
var statusOf = map[domain.Kind]int{
	domain.KindNoData:              http.StatusBadRequest,
	domain.KindInvalid:             http.StatusUnprocessableEntity,
	domain.KindParamsMissing:       http.StatusUnprocessableEntity,
	domain.KindTemplate:            http.StatusUnprocessableEntity,
	domain.KindChannelNotConnected: http.StatusUnprocessableEntity,
	domain.KindUnauthorized:        http.StatusUnauthorized,
	domain.KindLimitReached:        http.StatusPaymentRequired,
	domain.KindNotFound:            http.StatusNotFound,
	domain.KindInFlight:            http.StatusConflict,
	domain.KindKeyReused:           http.StatusUnprocessableEntity,
	domain.KindForbidden:           http.StatusForbidden,
	domain.KindRateLimited:         http.StatusTooManyRequests,
}

// writeError answers err Chatwoot's way. Anything that is not a domain
// error is a 500 whose details go only to the log.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, request.ErrTooLarge) {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: "request body too large"})
		return
	}
	var de *domain.Error
	code, ok := 0, false
	if errors.As(err, &de) {
		code, ok = statusOf[de.Kind]
	}
	if !ok {
		logging.FromContext(r.Context()).Error("internal error", "error", err.Error(), "path", r.URL.Path)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	if code == http.StatusUnauthorized {
		writeJSON(w, code, unauthorizedBody{Errors: []string{"Invalid Access Token"}})
		return
	}
	request.SetRetryAfter(w, err)
	writeJSON(w, code, errorBody{Error: de.Message})
}

// translate renames, in an error of the accept path, the domain's param
// keys to the body keys a CloudChat client sent.
func translate(err error, templateName string) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err
	}
	out := &domain.Error{Kind: de.Kind, Message: de.Message, Fields: make([]string, len(de.Fields)), RetryAfter: de.RetryAfter}
	for i, f := range de.Fields {
		out.Fields[i] = bodyKey(f)
	}
	switch de.Kind {
	case domain.KindParamsMissing:
		out.Message = "missing template variables: " + strings.Join(out.Fields, ", ")
	case domain.KindTemplate:
		out.Message = "template_name: template " + quote(templateName) + " has no message to send"
	case domain.KindInvalid:
		out.Message = strings.Replace(de.Message, "params.header", keyHeader, 1)
	}
	return out
}

// bodyKey is the body key that carries a domain param or field.
func bodyKey(f string) string {
	switch f {
	case domain.ParamHeader, "params." + domain.ParamHeader:
		return keyHeader
	case "templateId":
		return keyTemplate
	case "phoneNumber":
		return keyPhone
	case "channelNumber":
		return keyInbox
	}
	if n, ok := strings.CutPrefix(f, "button_"); ok {
		if i, isButton := buttonIndex(buttonPrefix + n); isButton && domain.ButtonParam(i) == f {
			return buttonPrefix + n
		}
	}
	return f
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	writeBody(w, code, body)
}

func writeBody(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
