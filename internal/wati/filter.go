package wati

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// contactFilter is getContacts' filters; a contact is listed when it
// matches all of them. Text comparisons ignore letter case.
type contactFilter struct {
	name    string // in the contact's names or phone number
	conds   []condition
	created string // the UTC day the contact was first stored, 2006-01-02
}

// condition is one of the attribute filter's {name, operator, value}.
type condition struct {
	attr  string
	op    string // one of the operators' values
	value string // lower case
}

// operators maps the words clients use to the conditions' operators.
var operators = map[string]string{
	"contain": "contain", "contains": "contain", "like": "contain",
	"notcontain": "notContain", "notcontains": "notContain",
	"exist": "exist", "exists": "exist",
	"notexist": "notExist", "notexists": "notExist",
	"==": "equal", "=": "equal", "eq": "equal", "equal": "equal", "equals": "equal", "is": "equal",
	"!=": "notEqual", "<>": "notEqual", "ne": "notEqual", "notequal": "notEqual", "notequals": "notEqual", "isnot": "notEqual",
}

// parseFilter reads name, attribute (with attributeValue) and createdDate,
// adding problems to errs.
func parseFilter(q url.Values, errs *domain.FieldErrors) contactFilter {
	for _, k := range []string{"name", "attribute", "attributeValue", "createdDate"} {
		if !domain.CheckLen(errs, k, q.Get(k), domain.MaxFilter) {
			return contactFilter{}
		}
	}
	f := contactFilter{name: strings.ToLower(strings.TrimSpace(q.Get("name")))}
	if a := strings.TrimSpace(q.Get("attribute")); a != "" {
		f.conds = parseConditions(a, q, errs)
	}
	if d := strings.TrimSpace(q.Get("createdDate")); d != "" {
		if day, ok := parseDay(d); ok {
			f.created = day
		} else {
			errs.Add("createdDate", "must be a date: 2024-05-31, 05-31-2024, 05/31/2024 or an RFC 3339 time")
		}
	}
	return f
}

// rawCondition is one condition as clients write it.
type rawCondition struct {
	Name     string          `json:"name"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value"`
}

// parseConditions reads Wati's attribute filter: a JSON list of {name,
// operator, value} (one object alone is taken too, and so are keys without
// quotes, as JavaScript clients write them), or an attribute's name alone,
// which then must exist, or equal attributeValue when that is given.
func parseConditions(a string, q url.Values, errs *domain.FieldErrors) []condition {
	if a[0] != '[' && a[0] != '{' {
		if !q.Has("attributeValue") {
			return []condition{{attr: a, op: "exist"}}
		}
		return []condition{{attr: a, op: "equal", value: strings.ToLower(q.Get("attributeValue"))}}
	}
	js := quoteKeys(a)
	if js[0] == '{' {
		js = "[" + js + "]"
	}
	var raw []rawCondition
	if err := json.Unmarshal([]byte(js), &raw); err != nil || len(raw) == 0 {
		errs.Add("attribute", `must be a JSON list such as [{"name":"city","operator":"contain","value":"Recife"}]`)
		return nil
	}
	out := make([]condition, 0, len(raw))
	for _, rc := range raw {
		v, ok := scalar(rc.Value)
		c := condition{attr: strings.TrimSpace(rc.Name), value: strings.ToLower(v)}
		op := strings.ToLower(strings.TrimSpace(rc.Operator))
		if op == "" {
			op = "contain"
		}
		c.op = operators[op]
		switch {
		case c.attr == "":
			errs.Add("attribute", "each condition needs the attribute's name")
		case c.op == "":
			errs.Add("attribute", "operator "+rc.Operator+" is not one of contain, notContain, exist, notExist, ==, !=")
		case !ok:
			errs.Add("attribute", "the value of "+c.attr+" must be a string")
		case c.value == "" && c.op != "exist" && c.op != "notExist":
			errs.Add("attribute", "the condition on "+c.attr+" needs a value")
		default:
			out = append(out, c)
		}
	}
	return out
}

// quoteKeys quotes the bare object keys of a JavaScript-style literal
// ({name: "city"}) so it reads as JSON; text inside strings is left alone.
func quoteKeys(s string) string {
	var b strings.Builder
	inString, escaped, expectKey := false, false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inString:
			b.WriteByte(ch)
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			continue
		case ch == '"':
			inString, expectKey = true, false
		case ch == '{' || ch == ',':
			expectKey = true
		case expectKey && isIdentStart(ch):
			j := i
			for j < len(s) && isIdentPart(s[j]) {
				j++
			}
			b.WriteString(`"` + s[i:j] + `"`)
			i, expectKey = j-1, false
			continue
		case ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r':
			expectKey = false
		}
		b.WriteByte(ch)
	}
	return b.String()
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// parseDay reads a date in the forms clients send, as a UTC day.
func parseDay(s string) (string, bool) {
	for _, layout := range []string{"2006-01-02", "01-02-2006", "01/02/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02"), true
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format("2006-01-02"), true
	}
	return "", false
}

func (f contactFilter) empty() bool { return f.name == "" && len(f.conds) == 0 && f.created == "" }

// match reports whether c passes every filter.
func (f contactFilter) match(c domain.Contact) bool {
	if f.name != "" && !nameMatches(c, f.name) {
		return false
	}
	if f.created != "" && c.CreatedAt.UTC().Format("2006-01-02") != f.created {
		return false
	}
	for _, cond := range f.conds {
		if !cond.match(c) {
			return false
		}
	}
	return true
}

func nameMatches(c domain.Contact, s string) bool {
	for _, n := range []string{c.FullName(), c.Name, c.FirstName, c.LastName, c.ProfileName} {
		if strings.Contains(strings.ToLower(n), s) {
			return true
		}
	}
	return strings.Contains(c.Phone, strings.TrimPrefix(s, "+"))
}

func (cond condition) match(c domain.Contact) bool {
	v, ok := attribute(c, cond.attr)
	v = strings.ToLower(v)
	switch cond.op {
	case "exist":
		return ok && v != ""
	case "notExist":
		return !ok || v == ""
	case "contain":
		return strings.Contains(v, cond.value)
	case "notContain":
		return !strings.Contains(v, cond.value)
	case "equal":
		return v == cond.value
	case "notEqual":
		return v != cond.value
	}
	return false
}

// attribute is the value of a contact's attribute by name: a custom param
// (the exact name, else one that differs only in letter case), else one of
// the contact's own fields.
func attribute(c domain.Contact, name string) (string, bool) {
	if v, ok := c.CustomParams[name]; ok {
		return v, true
	}
	for k, v := range c.CustomParams {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	switch strings.ToLower(name) {
	case "phone", "waid", "wa_id", "whatsappnumber":
		return c.Phone, true
	case "name", "fullname":
		return c.FullName(), true
	case "firstname":
		return viewContact(c).FirstName, true
	case "lastname":
		return c.LastName, c.LastName != ""
	case "profilename":
		return c.ProfileName, c.ProfileName != ""
	}
	return "", false
}

// exactPhone is the one phone number the filter pins, when it pins one: a
// name written as an international number with its "+", or a phone or
// wAid condition with ==. A single read answers those instead of a scan of
// every contact; a pinned "" is a number no contact can have. A name of
// digits alone stays a search: it may be part of a number, and a part of
// one is often a possible number of some country.
func (f contactFilter) exactPhone() (string, bool) {
	if digits, ok := strings.CutPrefix(f.name, "+"); ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
		p, _ := domain.ParseE164(f.name)
		return p, true
	}
	for _, c := range f.conds {
		switch strings.ToLower(c.attr) {
		case "phone", "waid", "wa_id", "whatsappnumber":
			if c.op == "equal" {
				p, _ := domain.ParseE164(c.value)
				return p, true
			}
		}
	}
	return "", false
}
