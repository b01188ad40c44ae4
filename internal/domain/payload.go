package domain

// TemplateMessage is a rendered template in the shape Meta's Cloud API takes
// under "template" in POST /{phone-number-id}/messages. It is built once, at
// accept time, and stored with the message so dispatch needs no template read.
type TemplateMessage struct {
	Name       string      `json:"name" firestore:"name"`
	Language   Language    `json:"language" firestore:"language"`
	Components []Component `json:"components,omitempty" firestore:"components,omitempty"`
}

// Language is the template's language code, e.g. "pt_BR".
type Language struct {
	Code string `json:"code" firestore:"code"`
}

// Component is one header, body or button component of a send.
type Component struct {
	Type       string      `json:"type" firestore:"type"`                             // header, body, button
	SubType    string      `json:"sub_type,omitempty" firestore:"sub_type,omitempty"` // url, quick_reply (buttons)
	Index      string      `json:"index,omitempty" firestore:"index,omitempty"`       // button position, a string as Meta wants it
	Parameters []Parameter `json:"parameters" firestore:"parameters"`
}

// Parameter is one value substituted into a component.
type Parameter struct {
	Type          string `json:"type" firestore:"type"` // text, image, video, document, payload
	ParameterName string `json:"parameter_name,omitempty" firestore:"parameter_name,omitempty"`
	Text          string `json:"text,omitempty" firestore:"text,omitempty"`
	Payload       string `json:"payload,omitempty" firestore:"payload,omitempty"`
	Image         *Media `json:"image,omitempty" firestore:"image,omitempty"`
	Video         *Media `json:"video,omitempty" firestore:"video,omitempty"`
	Document      *Media `json:"document,omitempty" firestore:"document,omitempty"`
}

// Media is a header attachment given by URL.
type Media struct {
	Link     string `json:"link" firestore:"link"`
	Filename string `json:"filename,omitempty" firestore:"filename,omitempty"`
}

// ParamCount is the number of parameters the send carries in components of
// type t ("body", "header", "button"); Meta's 132000 compares it with the
// template's placeholders.
func (m TemplateMessage) ParamCount(t string) int {
	n := 0
	for _, c := range m.Components {
		if c.Type == t {
			n += len(c.Parameters)
		}
	}
	return n
}
