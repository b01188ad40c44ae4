package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/domain"
)

// maxCallbackData is Meta's limit on biz_opaque_callback_data.
const maxCallbackData = 512

// sendBody is Meta's template or text send as the sandbox accepts it.
type sendBody struct {
	MessagingProduct string        `json:"messaging_product"`
	RecipientType    string        `json:"recipient_type"`
	To               string        `json:"to"`
	Type             string        `json:"type"`
	Template         *sendTemplate `json:"template"`
	Text             *sendText     `json:"text"`
	CallbackData     string        `json:"biz_opaque_callback_data"`
	// Context makes the message a reply to an earlier one; the sandbox
	// checks its shape and otherwise ignores it.
	Context *sendContext `json:"context"`
}

// sendTemplate is the "template" object of a template send.
type sendTemplate struct {
	Name       string             `json:"name"`
	Language   sendLanguage       `json:"language"`
	Components []domain.Component `json:"components"`
}

// sendLanguage is a template's language. Policy is Meta's language policy:
// "deterministic", its only one and the default, which client libraries
// send and Meta documents.
type sendLanguage struct {
	Policy string `json:"policy"`
	Code   string `json:"code"`
}

// message is t as the gateway's domain writes a rendered template.
func (t sendTemplate) message() domain.TemplateMessage {
	return domain.TemplateMessage{Name: t.Name, Language: domain.Language{Code: t.Language.Code}, Components: t.Components}
}

type sendContext struct {
	MessageID string `json:"message_id"`
}

// sendText is the "text" object of a free-form text send.
type sendText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// parseSend decodes and checks the shape of a send body. Its error names the
// problem and becomes a code 100 answer. It checks structure only; whether
// the parameters fit the template is checkTemplate's job.
//
// Unknown keys are rejected, as Meta does ("Unexpected key"), so a client
// that misspells a field fails here instead of silently losing it.
func parseSend(body []byte) (sendBody, error) {
	var b sendBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return sendBody{}, fmt.Errorf("body is not a valid send: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return sendBody{}, errors.New("body has data after the JSON object")
	}
	switch {
	case b.MessagingProduct != "whatsapp":
		return b, errors.New(`messaging_product must be "whatsapp"`)
	case b.RecipientType != "" && b.RecipientType != "individual":
		return b, errors.New(`recipient_type must be "individual"`)
	case b.To == "":
		return b, errors.New("to is required")
	case !isPhone(b.To):
		return b, errors.New("to must be the recipient's number in digits, country code first, at most 15 digits")
	case b.Type != "template" && b.Type != "text":
		return b, errors.New(`type must be "template" or "text": the sandbox simulates template and text sends`)
	case len(b.CallbackData) > maxCallbackData:
		return b, fmt.Errorf("biz_opaque_callback_data is longer than %d characters", maxCallbackData)
	case b.Context != nil && b.Context.MessageID == "":
		return b, errors.New("context.message_id is required in a context")
	case b.Type == "text":
		return b, checkText(b)
	case b.Text != nil:
		return b, errors.New(`text is only for type "text"`)
	case b.Template == nil:
		return b, errors.New("template is required")
	}
	if p := b.Template.Language.Policy; p != "" && p != "deterministic" {
		return b, fmt.Errorf(`template: language.policy %q must be "deterministic"`, p)
	}
	if err := checkShape(b.Template.message()); err != nil {
		return b, fmt.Errorf("template: %w", err)
	}
	return b, nil
}

// maxTextBody is Meta's limit on a text message's body, in characters.
const maxTextBody = 4096

// checkText checks a text send's shape as Meta does.
func checkText(b sendBody) error {
	switch {
	case b.Template != nil:
		return errors.New(`template is only for type "template"`)
	case b.Text == nil:
		return errors.New(`text is required for type "text"`)
	case b.Text.Body == "":
		return errors.New("text.body is required")
	case utf8.RuneCountInString(b.Text.Body) > maxTextBody:
		return fmt.Errorf("text.body is longer than %d characters", maxTextBody)
	}
	return nil
}

func isPhone(s string) bool {
	if len(s) < 5 || len(s) > 15 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkShape checks what Meta checks before it looks the template up.
func checkShape(t domain.TemplateMessage) error {
	if t.Name == "" {
		return errors.New("name is required")
	}
	if t.Language.Code == "" {
		return errors.New("language.code is required")
	}
	for i, c := range t.Components {
		if err := checkComponent(c); err != nil {
			return fmt.Errorf("components[%d]: %w", i, err)
		}
	}
	return nil
}

func checkComponent(c domain.Component) error {
	switch strings.ToLower(c.Type) {
	case "header", "body":
	case "button":
		switch c.SubType {
		case "url", "quick_reply", "copy_code", "flow", "catalog":
		case "":
			return errors.New("sub_type is required for a button")
		default:
			return fmt.Errorf("sub_type %q is not a button sub type", c.SubType)
		}
		if !isIndex(c.Index) {
			return fmt.Errorf("index %q must be the button's position as a string, \"0\" to \"9\"", c.Index)
		}
	case "":
		return errors.New("type is required")
	default:
		return fmt.Errorf("type %q must be header, body or button", c.Type)
	}
	for j, p := range c.Parameters {
		if err := checkParameter(p); err != nil {
			return fmt.Errorf("parameters[%d]: %w", j, err)
		}
	}
	return nil
}

func isIndex(s string) bool {
	return len(s) == 1 && s[0] >= '0' && s[0] <= '9'
}

func checkParameter(p domain.Parameter) error {
	switch p.Type {
	case "text":
		if p.Text == "" {
			return errors.New("text is required for a text parameter")
		}
	case "payload":
		if p.Payload == "" {
			return errors.New("payload is required for a payload parameter")
		}
	case "image", "video", "document":
		m := map[string]*domain.Media{"image": p.Image, "video": p.Video, "document": p.Document}[p.Type]
		if m == nil || m.Link == "" {
			return fmt.Errorf("%s.link is required", p.Type)
		}
	case "":
		return errors.New("type is required")
	default:
		return fmt.Errorf("type %q is not one the sandbox accepts (text, payload, image, video, document)", p.Type)
	}
	return nil
}

// salvage pulls what it can from a body parseSend rejected, so the request
// log and CountByCallback still see who it was meant for.
func salvage(body []byte) (to, callback string) {
	var b struct {
		To           string `json:"to"`
		CallbackData string `json:"biz_opaque_callback_data"`
	}
	_ = json.Unmarshal(body, &b) // best effort: a failure leaves both empty
	return b.To, b.CallbackData
}
