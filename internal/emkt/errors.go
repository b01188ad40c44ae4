package emkt

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
)

// statusOf is the one table from domain error kinds to emkt's codes. Seed
// 003 documents no errors; a channel that is not connected is 409, not
// Atom's 401, so an emkt client does not take it for bad credentials.
var statusOf = map[domain.Kind]int{
	domain.KindNoData:              http.StatusBadRequest,
	domain.KindInvalid:             http.StatusBadRequest,
	domain.KindParamsMissing:       http.StatusBadRequest,
	domain.KindTemplate:            http.StatusBadRequest,
	domain.KindChannelNotConnected: http.StatusConflict,
	domain.KindUnauthorized:        http.StatusUnauthorized,
	domain.KindLimitReached:        http.StatusForbidden,
	domain.KindNotFound:            http.StatusNotFound,
	domain.KindInFlight:            http.StatusConflict,
	domain.KindKeyReused:           http.StatusUnprocessableEntity,
	domain.KindForbidden:           http.StatusForbidden,
	domain.KindRateLimited:         http.StatusTooManyRequests,
}

// elementOf names the batch service's fields as emkt's elements.
var elementOf = map[string]string{
	"template":   "element_name",
	"channel":    "remetente",
	"code":       "identificador",
	"namespace":  "namespace",
	"recipients": "contact",
}

// tooLarge is a body, an element or a batch over emkt's bounds: 413.
type tooLarge string

func (e tooLarge) Error() string { return string(e) }

// errMethod answers anything but POST.
var errMethod = errors.New("method not allowed: POST the XML")

// classify turns err into the answer's code and message. Anything that is
// not a domain error or a bound is a 500 whose details go only to the log.
func classify(err error) (code int, msg string) {
	var tl tooLarge
	var mb *http.MaxBytesError
	var de *domain.Error
	switch {
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge, tl.Error()
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d MiB: split the batch", MaxBody>>20)
	case errors.Is(err, batch.ErrTooMany):
		return http.StatusRequestEntityTooLarge, err.Error() + ": split the batch"
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, err.Error()
	case errors.As(err, &de):
		msg = de.Message
		if len(de.Fields) == 1 {
			if el, ok := elementOf[de.Fields[0]]; ok && !strings.HasPrefix(msg, el+":") {
				msg = el + ": " + msg
			}
		}
		if code, ok := statusOf[de.Kind]; ok {
			return code, msg
		}
	}
	return http.StatusInternalServerError, "internal error"
}
