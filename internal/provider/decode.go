package provider

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
)

// maxSnippet bounds how much of an unparseable body goes into an error.
const maxSnippet = 200

type errorEnvelope struct {
	Error *struct {
		Message   string `json:"message"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
		UserMessage string `json:"error_user_msg"`
	} `json:"error"`
}

// decodeError turns a non-2xx answer into an Error. A body that is not
// Meta's error shape — an HTML page from a proxy, say — still yields an
// Error, classified by the HTTP status alone.
func decodeError(status int, body []byte) *Error {
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil || env.Error.Code == 0 {
		return &Error{
			HTTPStatus: status,
			Title:      http.StatusText(status),
			Details:    snippet(body),
			Class:      Classify(status, 0),
		}
	}
	m := env.Error
	details := m.ErrorData.Details
	if details == "" {
		details = m.UserMessage
	}
	return &Error{
		HTTPStatus: status,
		Code:       m.Code,
		Subcode:    m.Subcode,
		Title:      m.Message,
		Details:    details,
		Class:      Classify(status, m.Code),
		RetryAfter: retryAfter(m.Code),
	}
}

// snippet is the start of a body made safe for one log line.
func snippet(body []byte) string {
	s := strings.ToValidUTF8(string(body), "?")
	if len(s) > maxSnippet {
		s = strings.ToValidUTF8(s[:maxSnippet], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
