package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/templategw/templategw/internal/domain"
)

// checkTemplate compares a send's parameters with the template's
// placeholders the way Meta does before accepting: a count off anywhere is
// 132000, a header parameter of the wrong media type is 132012.
func checkTemplate(t *domain.Template, m domain.TemplateMessage) *apiError {
	if err := checkBody(t, m); err != nil {
		return err
	}
	if err := checkHeader(t, m); err != nil {
		return err
	}
	return checkButtons(t, m)
}

func paramsOf(m domain.TemplateMessage, typ string) []domain.Parameter {
	var ps []domain.Parameter
	for _, c := range m.Components {
		if strings.EqualFold(c.Type, typ) {
			ps = append(ps, c.Parameters...)
		}
	}
	return ps
}

func checkBody(t *domain.Template, m domain.TemplateMessage) *apiError {
	want := domain.Placeholders(t.Body())
	got := paramsOf(m, "body")
	if len(got) != len(want) {
		return metaError(400, 132000, fmt.Sprintf("body: expected number of params (%d) does not match received number of params (%d)", len(want), len(got)))
	}
	if !t.Named() {
		return nil
	}
	var names []string
	for _, p := range got {
		if p.ParameterName == "" {
			return metaError(400, 132000, "body: the template has named parameters, so every parameter needs parameter_name")
		}
		names = append(names, p.ParameterName)
	}
	for _, k := range want {
		if !slices.Contains(names, k) {
			return metaError(400, 132000, fmt.Sprintf("body: parameter %q is missing (the template expects %s)", k, strings.Join(want, ", ")))
		}
	}
	// Equal counts and every wanted name present, yet a name may repeat.
	for _, n := range names {
		if !slices.Contains(want, n) {
			return metaError(400, 132000, fmt.Sprintf("body: parameter %q is not in the template", n))
		}
	}
	return nil
}

func checkHeader(t *domain.Template, m domain.TemplateMessage) *apiError {
	got := paramsOf(m, "header")
	h := t.Component("HEADER")
	format := ""
	needs := false
	if h != nil {
		format = strings.ToLower(h.Format)
		needs = isMedia(format) || len(domain.Placeholders(h.Text)) > 0
	}
	switch {
	case needs && len(got) != 1:
		return metaError(400, 132000, fmt.Sprintf("header: expected number of params (1) does not match received number of params (%d)", len(got)))
	case !needs && len(got) != 0:
		return metaError(400, 132000, fmt.Sprintf("header: expected number of params (0) does not match received number of params (%d)", len(got)))
	case !needs:
		return nil
	}
	want := "text"
	if isMedia(format) {
		want = format
	}
	if got[0].Type != want {
		return metaError(400, 132012, fmt.Sprintf("header: the template expects a %s parameter, the send has %s", want, got[0].Type))
	}
	return nil
}

func isMedia(format string) bool {
	return format == "image" || format == "video" || format == "document"
}

// buttonSubType is the send sub_type each template button type answers to.
var buttonSubType = map[string]string{
	"URL":         "url",
	"QUICK_REPLY": "quick_reply",
	"COPY_CODE":   "copy_code",
	"FLOW":        "flow",
	"CATALOG":     "catalog",
}

func checkButtons(t *domain.Template, m domain.TemplateMessage) *apiError {
	var buttons []domain.TemplateButton
	if b := t.Component("BUTTONS"); b != nil {
		buttons = b.Buttons
	}
	seen := map[int]bool{}
	for _, c := range m.Components {
		if !strings.EqualFold(c.Type, "button") {
			continue
		}
		i, _ := strconv.Atoi(c.Index) // parseSend let only "0".."9" through
		if i >= len(buttons) {
			return metaError(400, 132000, fmt.Sprintf("button index %d: the template has %d buttons", i, len(buttons)))
		}
		if seen[i] {
			return &apiError{status: 400, code: 100, message: titles[100], details: fmt.Sprintf("button index %d appears twice", i)}
		}
		seen[i] = true
		btn := buttons[i]
		if want := buttonSubType[strings.ToUpper(btn.Type)]; c.SubType != want {
			return metaError(400, 132012, fmt.Sprintf("button %d: the template's button is %s, the send says sub_type %s", i, btn.Type, c.SubType))
		}
		if err := checkButtonParams(i, btn, c.Parameters); err != nil {
			return err
		}
	}
	for i, btn := range buttons {
		if needsParam(btn) && !seen[i] {
			return metaError(400, 132000, fmt.Sprintf("button %d: the URL button's placeholder needs a button component with index %d and one parameter", i, i))
		}
	}
	return nil
}

func needsParam(btn domain.TemplateButton) bool {
	return strings.EqualFold(btn.Type, "URL") && len(domain.Placeholders(btn.URL)) > 0
}

func checkButtonParams(i int, btn domain.TemplateButton, ps []domain.Parameter) *apiError {
	switch strings.ToUpper(btn.Type) {
	case "URL":
		want := 0
		if needsParam(btn) {
			want = 1
		}
		if len(ps) != want {
			return metaError(400, 132000, fmt.Sprintf("button %d: expected number of params (%d) does not match received number of params (%d)", i, want, len(ps)))
		}
		if want == 1 && ps[0].Type != "text" {
			return metaError(400, 132012, fmt.Sprintf("button %d: a URL button's parameter is text, the send has %s", i, ps[0].Type))
		}
	case "QUICK_REPLY":
		// The payload is optional: without one, Meta echoes the button text.
		if len(ps) > 1 {
			return metaError(400, 132000, fmt.Sprintf("button %d: a quick reply takes at most one payload parameter, the send has %d", i, len(ps)))
		}
		if len(ps) == 1 && ps[0].Type != "payload" {
			return metaError(400, 132012, fmt.Sprintf("button %d: a quick reply's parameter is payload, the send has %s", i, ps[0].Type))
		}
	}
	return nil
}
