package wati

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
)

// nameValue is one {name, value} pair of Wati's parameters and
// customParams.
type nameValue struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// pairs turns Wati's [{name, value}] into a map, naming each bad entry
// under field in errs. A value may be a string, a number or a boolean
// (taken as its JSON text), or null or absent (empty); of repeated names
// the last wins.
func pairs(field string, list []nameValue, errs *domain.FieldErrors) map[string]string {
	out := make(map[string]string, len(list))
	for i, p := range list {
		at := field + "[" + strconv.Itoa(i) + "]"
		name := strings.TrimSpace(p.Name)
		if name == "" {
			errs.Add(at+".name", "required")
			continue
		}
		v, ok := scalar(p.Value)
		if !ok {
			errs.Add(at+".value", "must be a string")
			continue
		}
		out[name] = v
	}
	return out
}

// checkPairs bounds Wati's [{name, value}] under field, naming each entry
// that is too long in errs: at most most entries, names of at most
// domain.MaxParamNameLength characters, and values that problem (given
// the entry's name and value) finds nothing wrong with. It reports whether
// the list fits; a list with too many entries is not looked into.
func checkPairs(field string, list []nameValue, most int, problem func(name, value string) string, errs *domain.FieldErrors) bool {
	if !domain.CheckCount(errs, field, len(list), most) {
		return false
	}
	fits := true
	for i, p := range list {
		at := field + "[" + strconv.Itoa(i) + "]"
		fits = domain.CheckLen(errs, at+".name", p.Name, domain.MaxParamNameLength) && fits
		if v, ok := scalar(p.Value); ok {
			if prob := problem(strings.TrimSpace(p.Name), v); prob != "" {
				errs.Add(at+".value", prob)
				fits = false
			}
		}
	}
	return fits
}

// templateValue is checkPairs' problem for a template's values: each at
// most its kind's bound (body, header, button).
func templateValue(name, value string) string {
	return domain.LenProblem(value, domain.ParamMax(name))
}

// attributeValue is checkPairs' problem for a contact's attributes: text
// of at most domain.MaxParamValue characters.
func attributeValue(_, value string) string {
	if p := domain.LenProblem(value, domain.MaxParamValue); p != "" {
		return p
	}
	return domain.TextProblem(value)
}

// checkChannel bounds a channel reference given under field.
func checkChannel(field, ref string, errs *domain.FieldErrors) {
	domain.CheckLen(errs, field, ref, domain.MaxChannelRef)
}

// idempotency reads the request's Idempotency-Key within its bound; ""
// when it has none.
func idempotency(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return "", nil
	}
	return key, domain.CheckIdempotencyKey(key)
}

// scalar reads a JSON value that stands for text: a string, a number, a
// boolean, or null or nothing (empty).
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	return request.Scalar(raw)
}

// phoneProblem is the one wording of a bad WhatsApp number.
const phoneProblem = "must be the WhatsApp number with its country code, digits only (a leading + is allowed), e.g. 5511987654321"

// parsePhone reads a contact's WhatsApp number given under field, adding
// the problem to errs; it answers "" when the number is bad.
func parsePhone(field, s string, errs *domain.FieldErrors) string {
	if strings.TrimSpace(s) == "" {
		errs.Add(field, "required")
		return ""
	}
	p, err := domain.ParseE164(s)
	if err != nil {
		errs.Add(field, phoneProblem)
		return ""
	}
	return p
}

// readBody reads a body of at most limit bytes, refusing a larger one
// before it is read into memory.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, request.ErrTooLarge
	}
	if err != nil {
		return nil, domain.Errorf(domain.KindNoData, "no data to send: the body could not be read")
	}
	return b, nil
}

// decodeOptional decodes a JSON object body into v; an empty body is no
// body, as Wati's endpoints that take their input in the URL allow.
func decodeOptional(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return request.DecodeObject(body, v)
}

// page reads Wati's pageSize and pageNumber: pageSize 1..maxSize (def when
// absent), pageNumber from 1 (absent or 0 is the first page: Wati clients
// count from either). Pages end after the first depth items, because a page
// costs its depth in reads. Problems are added to errs.
func page(r *http.Request, def, maxSize, depth int, errs *domain.FieldErrors) (size, number int) {
	q := r.URL.Query()
	size, number = def, 1
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSize {
			errs.Add("pageSize", fmt.Sprintf("must be a whole number from 1 to %d", maxSize))
			n = def
		}
		size = n
	}
	if v := q.Get("pageNumber"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0:
			errs.Add("pageNumber", "must be a whole number from 1")
		case n > depth/size:
			errs.Add("pageNumber", fmt.Sprintf("pages end after the first %d items; with pageSize %d the last page is %d", depth, size, depth/size))
		}
		number = max(n, 1)
	}
	return size, number
}
