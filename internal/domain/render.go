package domain

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Render checks a send's params against the template and builds the
// components Meta takes. Keys follow DESIGN §2: "1" for {{1}}, "first_name"
// for {{first_name}}, "header" for the header's media URL or text, and
// "button_N" for the button at index N. Keys the template does not use are
// ignored, so a client may send one params object to several templates.
func Render(t Template, params map[string]string) (TemplateMessage, error) {
	if t.Status != "" && !strings.EqualFold(t.Status, TemplateApproved) {
		return TemplateMessage{}, Errorf(KindInvalid, "template "+t.ID+" is "+strings.ToUpper(t.Status)+", only APPROVED templates can be sent", "templateId")
	}
	if strings.TrimSpace(t.Body()) == "" {
		return TemplateMessage{}, Errorf(KindTemplate, "template without id or message", "templateId")
	}
	var missing []string
	for _, k := range t.Params() {
		if strings.TrimSpace(params[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return TemplateMessage{}, &Error{Kind: KindParamsMissing, Message: "missing template params: " + strings.Join(missing, ", "), Fields: missing}
	}

	msg := TemplateMessage{Name: t.Name, Language: Language{Code: t.Language}}
	if h := t.Component("HEADER"); h != nil {
		p, err := headerParam(h, params[ParamHeader], t.Named())
		if err != nil {
			return TemplateMessage{}, err
		}
		if p != nil {
			msg.Components = append(msg.Components, Component{Type: "header", Parameters: []Parameter{*p}})
		}
	}
	if body := bodyParams(t, params); len(body) > 0 {
		msg.Components = append(msg.Components, Component{Type: "body", Parameters: body})
	}
	if b := t.Component("BUTTONS"); b != nil {
		for i, btn := range b.Buttons {
			key := ButtonParam(i)
			switch strings.ToUpper(btn.Type) {
			case "URL":
				if len(Placeholders(btn.URL)) > 0 {
					msg.Components = append(msg.Components, Component{Type: "button", SubType: "url", Index: strconv.Itoa(i),
						Parameters: []Parameter{{Type: "text", Text: params[key]}}})
				}
			case "QUICK_REPLY":
				if v := params[key]; strings.TrimSpace(v) != "" {
					msg.Components = append(msg.Components, Component{Type: "button", SubType: "quick_reply", Index: strconv.Itoa(i),
						Parameters: []Parameter{{Type: "payload", Payload: v}}})
				}
			}
		}
	}
	return msg, nil
}

// bodyParams orders positional values by their number, since Meta matches
// {{1}}, {{2}} by position, and tags named values with their name.
func bodyParams(t Template, params map[string]string) []Parameter {
	keys := Placeholders(t.Body())
	named := t.Named()
	if !named {
		sort.SliceStable(keys, func(i, j int) bool {
			a, _ := strconv.Atoi(keys[i])
			b, _ := strconv.Atoi(keys[j])
			return a < b
		})
	}
	out := make([]Parameter, 0, len(keys))
	for _, k := range keys {
		p := Parameter{Type: "text", Text: params[k]}
		if named {
			p.ParameterName = k
		}
		out = append(out, p)
	}
	return out
}

func headerParam(h *TemplateComponent, v string, named bool) (*Parameter, error) {
	format := strings.ToUpper(h.Format)
	if isMedia(format) {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, Errorf(KindInvalid, "params.header: must be an http(s) URL of the header's "+strings.ToLower(format), "params.header")
		}
		m := &Media{Link: v}
		switch format {
		case "IMAGE":
			return &Parameter{Type: "image", Image: m}, nil
		case "VIDEO":
			return &Parameter{Type: "video", Video: m}, nil
		default:
			m.Filename = fileName(u)
			return &Parameter{Type: "document", Document: m}, nil
		}
	}
	if keys := Placeholders(h.Text); len(keys) > 0 {
		p := &Parameter{Type: "text", Text: v}
		if named {
			p.ParameterName = keys[0]
		}
		return p, nil
	}
	return nil, nil
}

func fileName(u *url.URL) string {
	p := u.Path
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	return p
}
