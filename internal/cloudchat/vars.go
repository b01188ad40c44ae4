package cloudchat

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/templategw/templategw/internal/domain"
)

// templateParams turns the body's header, buttons and variables into the
// domain's params for t: "header", "button_N" and one key per placeholder.
// Whether every placeholder got a value is domain.Render's to say.
func templateParams(t domain.Template, req sendRequest) (map[string]string, error) {
	params := make(map[string]string, len(req.buttons)+len(req.vars)+1)
	for i, v := range req.buttons {
		params[domain.ButtonParam(i)] = v
	}
	vars := newVariables(req.vars)
	named := t.Named()
	if req.hasHeader {
		params[domain.ParamHeader] = req.header
	} else if h := t.Component("HEADER"); h != nil && named {
		// A named text header's variable may come by its name, like the
		// body's; header_attachment, when sent, wins.
		if keys := domain.Placeholders(h.Text); len(keys) > 0 {
			if v, ok := vars.lookup(keys[0]); ok {
				params[domain.ParamHeader] = v
			}
		}
	}
	body := domain.Placeholders(t.Body())
	if named {
		for _, p := range body {
			if v, ok := vars.lookup(p); ok {
				params[p] = v
			}
		}
		return params, nil
	}
	return params, positional(t, body, req.vars, params)
}

// positional fills a positional template's {{1}}..{{n}}: by the variables
// named "1".."n" when the body has any, else by the body's variables in the
// order it lists them. The order is only trusted when the counts agree:
// with one variable too many or too few, which goes where is a guess.
func positional(t domain.Template, body []string, vars []variable, params map[string]string) error {
	numbered := false
	for _, v := range vars {
		if isPosition(v.key) {
			params[v.key] = v.value
			numbered = true
		}
	}
	if numbered || len(body) == 0 || len(vars) == 0 {
		return nil
	}
	keys := append([]string(nil), body...)
	sort.SliceStable(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(keys[i])
		b, _ := strconv.Atoi(keys[j])
		return a < b
	})
	if len(vars) == len(keys) {
		for i, k := range keys {
			params[k] = vars[i].value
		}
		return nil
	}
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.key
	}
	hint := fmt.Sprintf("template %s is positional and takes %d variables, in the order the body lists them or named \"1\" to %q; the body has %d (%s)",
		quote(t.Name), len(keys), keys[len(keys)-1], len(vars), strings.Join(names, ", "))
	if len(vars) < len(keys) {
		missing := keys[len(vars):]
		return &domain.Error{Kind: domain.KindParamsMissing, Message: "missing template variables: " + strings.Join(missing, ", ") + "; " + hint, Fields: missing}
	}
	return &domain.Error{Kind: domain.KindInvalid, Message: "too many template variables: " + hint, Fields: names[len(keys):]}
}

// isPosition reports whether key names a positional placeholder: 1, 2, …
func isPosition(key string) bool {
	n, err := strconv.Atoi(key)
	return err == nil && n > 0 && strconv.Itoa(n) == key
}

// variables finds the body's variable for a placeholder. Meta's named
// placeholders are lowercase letters, digits and underscores, so the
// Chatwoot names clients send ({{contact.name}}) cannot be placeholders
// there; a placeholder takes, in this order:
//
//  1. the variable of exactly its name;
//  2. the variable whose name equals it with dots read as underscores
//     (contact.name fills contact_name, and contact_name fills a
//     contact.name placeholder kept in the gateway's own template);
//  3. the same with a leading "contact" dropped from both: contact_name
//     takes name, and name takes contact.name (seed 002 writes
//     {{contact.name}} in templates and sends "name" in its example).
//
// The first variable in the body's order wins where two fit one rule.
type variables struct {
	exact, underscored, bare map[string]variable
}

func newVariables(vars []variable) variables {
	v := variables{
		exact:       make(map[string]variable, len(vars)),
		underscored: make(map[string]variable, len(vars)),
		bare:        make(map[string]variable, len(vars)),
	}
	for _, x := range vars {
		v.exact[x.key] = x
		u := underscore(x.key)
		if _, ok := v.underscored[u]; !ok {
			v.underscored[u] = x
		}
		if b := bare(u); b != "" {
			if _, ok := v.bare[b]; !ok {
				v.bare[b] = x
			}
		}
	}
	return v
}

func (v variables) lookup(placeholder string) (string, bool) {
	x, ok := v.find(placeholder)
	return x.value, ok
}

// find is lookup's variable, its key with its value.
func (v variables) find(placeholder string) (variable, bool) {
	if x, ok := v.exact[placeholder]; ok {
		return x, true
	}
	u := underscore(placeholder)
	if x, ok := v.underscored[u]; ok {
		return x, true
	}
	if b := bare(u); b != "" {
		if x, ok := v.bare[b]; ok {
			return x, true
		}
	}
	return variable{}, false
}

// bare drops a leading "contact_" from an underscored name.
func bare(u string) string {
	if rest, ok := strings.CutPrefix(u, "contact_"); ok {
		return rest
	}
	return u
}

func underscore(s string) string { return strings.ReplaceAll(s, ".", "_") }

// contactName is the name the contact is stored with: the variable that
// would fill {{contact.name}}.
func contactName(vars []variable) string {
	return strings.TrimSpace(nameVariable(vars).value)
}

// nameVariable is the variable contactName reads, so a name too long to
// store is refused under the key the client sent it in.
func nameVariable(vars []variable) variable {
	x, _ := newVariables(vars).find("contact_name")
	return x
}
