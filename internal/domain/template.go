package domain

import (
	"regexp"
	"strconv"
	"strings"
)

// Template is a WhatsApp message template as Meta's
// GET /{waba-id}/message_templates describes it, plus the gateway's own id.
type Template struct {
	ID       string `json:"id" firestore:"-"`
	Name     string `json:"name" firestore:"name"`
	Language string `json:"language" firestore:"language"`
	Category string `json:"category" firestore:"category"`
	Status   string `json:"status" firestore:"status"`
	// Quality is Meta's quality rating (GREEN, YELLOW, RED, UNKNOWN), from
	// its quality events.
	Quality         string              `json:"quality,omitempty" firestore:"quality,omitempty"`
	ParameterFormat string              `json:"parameter_format,omitempty" firestore:"parameterFormat,omitempty"` // POSITIONAL or NAMED
	Namespace       string              `json:"namespace,omitempty" firestore:"namespace,omitempty"`
	Components      []TemplateComponent `json:"components" firestore:"components"`
}

// TemplateComponent is one HEADER, BODY, FOOTER or BUTTONS block of a template.
type TemplateComponent struct {
	Type    string           `json:"type" firestore:"type"`                         // HEADER, BODY, FOOTER, BUTTONS
	Format  string           `json:"format,omitempty" firestore:"format,omitempty"` // header: TEXT, IMAGE, VIDEO, DOCUMENT
	Text    string           `json:"text,omitempty" firestore:"text,omitempty"`
	Buttons []TemplateButton `json:"buttons,omitempty" firestore:"buttons,omitempty"`
}

// TemplateButton is one button of a BUTTONS component.
type TemplateButton struct {
	Type        string `json:"type" firestore:"type"` // URL, QUICK_REPLY, PHONE_NUMBER, COPY_CODE
	Text        string `json:"text" firestore:"text"`
	URL         string `json:"url,omitempty" firestore:"url,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty" firestore:"phoneNumber,omitempty"`
}

// Template statuses as Meta reports them.
const (
	TemplateApproved = "APPROVED"
)

// TemplateMarketing is the template category whose sends a contact can opt
// out of.
const TemplateMarketing = "MARKETING"

// Marketing reports whether sends of t are marketing messages.
func (t Template) Marketing() bool { return strings.EqualFold(t.Category, TemplateMarketing) }

// placeholder matches {{1}}, {{first_name}} and {{contact.name}}.
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.]+)\s*\}\}`)

// Placeholders lists the distinct placeholder keys of text in order of first
// appearance.
func Placeholders(text string) []string {
	var keys []string
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			keys = append(keys, m[1])
		}
	}
	return keys
}

// Component returns the template's first component of type t, or nil.
func (t Template) Component(typ string) *TemplateComponent {
	for i := range t.Components {
		if strings.EqualFold(t.Components[i].Type, typ) {
			return &t.Components[i]
		}
	}
	return nil
}

// Body is the template's body text ("" when it has none).
func (t Template) Body() string {
	if c := t.Component("BODY"); c != nil {
		return c.Text
	}
	return ""
}

// Named reports whether the template's placeholders are matched by name
// rather than by position.
func (t Template) Named() bool {
	if t.ParameterFormat != "" {
		return strings.EqualFold(t.ParameterFormat, "NAMED")
	}
	for _, k := range Placeholders(t.Body()) {
		if _, err := strconv.Atoi(k); err != nil {
			return true
		}
	}
	return false
}

// Params lists the keys a send must supply, in order: the body's
// placeholders, then "header" for a media header or a header with a
// placeholder, then "button_N" for each URL button whose URL has a
// placeholder. Quick-reply payloads are optional (the button text is the
// default payload) and so are not listed.
func (t Template) Params() []string {
	keys := Placeholders(t.Body())
	if h := t.Component("HEADER"); h != nil {
		if isMedia(h.Format) || len(Placeholders(h.Text)) > 0 {
			keys = append(keys, ParamHeader)
		}
	}
	if b := t.Component("BUTTONS"); b != nil {
		for i, btn := range b.Buttons {
			if strings.EqualFold(btn.Type, "URL") && len(Placeholders(btn.URL)) > 0 {
				keys = append(keys, ButtonParam(i))
			}
		}
	}
	return keys
}

// ParamHeader is the params key that carries a header's media URL or text.
const ParamHeader = "header"

// ButtonParam is the params key for the button at index i.
func ButtonParam(i int) string { return "button_" + strconv.Itoa(i) }

func isMedia(format string) bool {
	switch strings.ToUpper(format) {
	case "IMAGE", "VIDEO", "DOCUMENT":
		return true
	}
	return false
}
