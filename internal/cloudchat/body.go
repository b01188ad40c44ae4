package cloudchat

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
)

// The body's own keys; every other root key is a template variable.
const (
	keyInbox    = "inbox_id"
	keyPhone    = "phone_number"
	keyTemplate = "template_name"
	keyHeader   = "header_attachment"
	// buttonPrefix + N carries the parameter of the template's button N.
	buttonPrefix = "button_param_"
)

// sendRequest is a parsed body. vars keep the order the client wrote them
// in, since a positional template takes them in that order.
type sendRequest struct {
	inbox     string          // what domain.PickChannel matches
	inboxEcho json.RawMessage // inbox_id as the client wrote it, for the answer
	phone     string          // the domain's digits-only form
	template  string
	header    string
	hasHeader bool
	buttons   map[int]string
	vars      []variable
}

// variable is one template variable of the body.
type variable struct{ key, value string }

// field is one root key of the body with its raw value.
type field struct {
	key string
	raw json.RawMessage
}

// parseSend turns a body into a sendRequest, naming every bad key at once.
func parseSend(body []byte) (sendRequest, error) {
	fields, err := decodeRoot(body)
	if err != nil {
		return sendRequest{}, err
	}
	req := sendRequest{buttons: map[int]string{}}
	var errs domain.FieldErrors
	if !domain.CheckCount(&errs, "template variables", len(fields)-ownKeys(fields), domain.MaxSendParams) {
		return sendRequest{}, errs.Err()
	}
	var phone string
	for _, f := range fields {
		switch {
		case f.key == keyInbox:
			req.inbox, req.inboxEcho = inboxRef(f.raw, &errs)
			domain.CheckLen(&errs, keyInbox, req.inbox, domain.MaxChannelRef)
		case f.key == keyPhone:
			phone = stringOrNumber(f, &errs)
		case f.key == keyTemplate:
			req.template = onlyString(f, &errs)
			domain.CheckLen(&errs, keyTemplate, req.template, domain.MaxTemplateRef)
		case f.key == keyHeader:
			req.header, req.hasHeader = onlyString(f, &errs), true
			domain.CheckLen(&errs, keyHeader, req.header, domain.MaxHeaderValue)
		case !domain.CheckKey(&errs, "", f.key, domain.MaxParamNameLength):
		default:
			v, ok := request.Scalar(f.raw)
			if !ok {
				errs.Add(f.key, "must be a string or a number")
				continue
			}
			if i, isButton := buttonIndex(f.key); isButton {
				domain.CheckLen(&errs, f.key, v, domain.MaxButtonValue)
				req.buttons[i] = v
				continue
			}
			domain.CheckLen(&errs, f.key, v, domain.MaxParamText)
			req.vars = append(req.vars, variable{f.key, v})
		}
	}
	if name := nameVariable(req.vars); !invalid(&errs, name.key) {
		if p := domain.LenProblem(strings.TrimSpace(name.value), domain.MaxNameLength); p != "" {
			errs.Add(name.key, p+": it is the contact's name")
		}
	}
	if req.inbox == "" && !has(fields, keyInbox) {
		errs.Add(keyInbox, "required")
	}
	if p, err := domain.ParseE164(phone); err == nil {
		req.phone = p
	} else if has(fields, keyPhone) && phone != "" {
		errs.Add(keyPhone, "must be an international number (E.164): country code first, '+' optional, digits only, e.g. +5511987654321")
	} else if !invalid(&errs, keyPhone) {
		errs.Add(keyPhone, "required")
	}
	if strings.TrimSpace(req.template) == "" && !invalid(&errs, keyTemplate) {
		errs.Add(keyTemplate, "required")
	}
	if err := errs.Err(); err != nil {
		return sendRequest{}, err
	}
	return req, nil
}

// decodeRoot reads the body's root object key by key, keeping the order
// the client wrote them in. A repeated key keeps its first place and its
// last value, as encoding/json would.
func decodeRoot(body []byte) ([]field, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, domain.Errorf(domain.KindNoData, "no data to send: the body must be a JSON object")
	}
	notJSON := domain.Errorf(domain.KindNoData, "no data to send: the body is not valid JSON")
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil {
		return nil, notJSON
	}
	var fields []field
	seen := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notJSON
		}
		key, ok := tok.(string)
		if !ok {
			return nil, notJSON
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, notJSON
		}
		if i, dup := seen[key]; dup {
			fields[i].raw = raw
			continue
		}
		seen[key] = len(fields)
		fields = append(fields, field{key, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, notJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, domain.Errorf(domain.KindNoData, "no data to send: the body must be a single JSON object")
	}
	return fields, nil
}

// inboxRef reads inbox_id, a string or a number (Chatwoot's ids are
// numbers, seed 002 writes a string). The echo is valid JSON of the same
// type, for the answer.
func inboxRef(raw json.RawMessage, errs *domain.FieldErrors) (string, json.RawMessage) {
	s := stringOrNumber(field{keyInbox, raw}, errs)
	if s == "" {
		if !invalid(errs, keyInbox) {
			errs.Add(keyInbox, "required")
		}
		return "", nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		echo, _ := json.Marshal(s)
		return s, echo
	}
	return s, raw
}

// stringOrNumber reads a string, or a number as its JSON text.
func stringOrNumber(f field, errs *domain.FieldErrors) string {
	raw := bytes.TrimSpace(f.raw)
	v, ok := request.Scalar(raw)
	if !ok || raw[0] == 't' || raw[0] == 'f' {
		errs.Add(f.key, "must be a string or a number")
		return ""
	}
	return strings.TrimSpace(v)
}

// onlyString reads a string.
func onlyString(f field, errs *domain.FieldErrors) string {
	if !isString(f.raw) {
		errs.Add(f.key, "must be a string")
		return ""
	}
	v, _ := request.Scalar(f.raw)
	return v
}

func isString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

// buttonIndex reports whether key is button_param_N, and N. Only the
// canonical form counts ("button_param_01" is an ordinary variable), and N
// stays below Meta's limit of buttons by a wide margin.
func buttonIndex(key string) (int, bool) {
	n, ok := strings.CutPrefix(key, buttonPrefix)
	if !ok || n == "" || len(n) > 3 || (len(n) > 1 && n[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || strconv.Itoa(i) != n {
		return 0, false
	}
	return i, true
}

// ownKeys counts the body's own keys among fields; the others are
// template variables and buttons.
func ownKeys(fields []field) int {
	n := 0
	for _, f := range fields {
		switch f.key {
		case keyInbox, keyPhone, keyTemplate, keyHeader:
			n++
		}
	}
	return n
}

func has(fields []field, key string) bool {
	for _, f := range fields {
		if f.key == key {
			return true
		}
	}
	return false
}

// invalid reports whether key was already named by errs, so a key of the
// wrong type is not also called missing.
func invalid(errs *domain.FieldErrors, key string) bool {
	var de *domain.Error
	if !errors.As(errs.Err(), &de) {
		return false
	}
	for _, f := range de.Fields {
		if f == key {
			return true
		}
	}
	return false
}

// quote shows a client's value in a message: quoted, and cut short so a
// huge value does not come back whole.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}
