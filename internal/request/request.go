// Package request reads what every dialect's HTTP handler reads the same
// way: bearer tokens, size-bounded bodies, JSON with errors that name the
// field, and the hash an Idempotency-Key is checked against.
package request

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// MaxBody is the largest JSON body the gateway reads (Meta's own webhooks
// are at most 3 MB; sends are far smaller).
const MaxBody = 1 << 20

// ErrTooLarge is returned for a body over MaxBody; dialects answer 413.
var ErrTooLarge = errors.New("request body too large")

// Bearer returns the token of an "Authorization: Bearer <token>" header.
func Bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Body reads the whole body, refusing more than MaxBody bytes before
// they are read into memory.
func Body(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, ErrTooLarge
	}
	if err != nil {
		return nil, domain.Errorf(domain.KindNoData, "no data to send: the body could not be read")
	}
	return b, nil
}

// Hash is what an Idempotency-Key is bound to: the method, the path with
// its query and the body.
func Hash(r *http.Request, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.RequestURI())
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// DecodeObject decodes a JSON object into v. An empty body, or one that is
// not a JSON object, is KindNoData; a value of the wrong type is
// KindInvalid naming the field.
func DecodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return domain.Errorf(domain.KindNoData, "no data to send: the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return domain.Errorf(domain.KindNoData, "no data to send: the body must be a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return domain.Errorf(domain.KindInvalid, "invalid fields: "+te.Field+": must be "+typeName(te.Type.Kind().String()), te.Field)
	}
	return domain.Errorf(domain.KindNoData, "no data to send: the body is not valid JSON")
}

func typeName(kind string) string {
	switch kind {
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "a number"
}

// Params decodes a {key: value} object of template parameters. Strings are
// taken as they are, numbers and booleans as their JSON text; objects,
// arrays and null are refused naming the key.
func Params(field string, raw map[string]json.RawMessage, errs *domain.FieldErrors) map[string]string {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := Scalar(v)
		if !ok {
			errs.Add(field+"."+k, "must be a string")
			continue
		}
		out[k] = s
	}
	return out
}

// Scalar returns a JSON string's value, or a number's or boolean's text.
func Scalar(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case 't', 'f':
		return string(v), string(v) == "true" || string(v) == "false"
	default:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return "", false
		}
		return string(v), true
	}
}

// Limit parses a page size: def when absent, 1..max otherwise.
func Limit(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, domain.Errorf(domain.KindInvalid, fmt.Sprintf("limit: must be a whole number from 1 to %d", max), "limit")
	}
	return n, nil
}

// SetRetryAfter sets the Retry-After header when err asks the client to
// wait (a rate limit): whole seconds, rounded up and at least 1, since
// the header has no finer unit and 0 would invite an immediate retry.
func SetRetryAfter(w http.ResponseWriter, err error) {
	d, ok := domain.RetryAfter(err)
	if !ok {
		return
	}
	secs := max(1, int64((d+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}
