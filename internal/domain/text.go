package domain

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MessageType says what a message carries.
type MessageType string

// The message types. A free-form text reaches a contact only inside the
// customer-service window its own last message opened; a template reaches
// anyone.
const (
	MessageTemplate MessageType = "template"
	MessageText     MessageType = "text"
)

// IsText reports whether m is a free-form text message rather than a
// template.
func (m Message) IsText() bool { return m.Type == MessageText }

// MaxTextLength is the most characters Meta takes in a text message's body.
const MaxTextLength = 4096

// ParseText checks the body of a free-form text message given under field:
// valid UTF-8 of 1 to MaxTextLength characters, not only blanks. Meta
// refuses an empty body, so it is refused before anything is stored
// rather than failing after the client was told it was accepted.
func ParseText(field, s string) (string, error) {
	switch {
	case !utf8.ValidString(s):
		return "", Errorf(KindInvalid, "invalid fields: "+field+": must be UTF-8 text", field)
	case strings.TrimSpace(s) == "":
		return "", Errorf(KindInvalid, "invalid fields: "+field+": required", field)
	case utf8.RuneCountInString(s) > MaxTextLength:
		return "", Errorf(KindInvalid, "invalid fields: "+field+": at most "+strconv.Itoa(MaxTextLength)+" characters", field)
	}
	return s, nil
}

// NewTextMessage is a free-form text message just accepted: its first
// history entry is "accepted".
func NewTextMessage(id, tenant, channel, phone, text string, now time.Time) Message {
	return Message{
		ID: id, Tenant: tenant, Status: StatusAccepted, Channel: channel, PhoneNumber: phone,
		Type: MessageText, Text: text,
		History:   []HistoryEntry{{Status: StatusAccepted, At: now}},
		CreatedAt: now, UpdatedAt: now,
	}
}

// KindWindowClosed refuses a free-form message to a contact whose
// customer-service window on the sending channel is closed. Kinds declared
// outside errors.go's block take values from 100, so kinds added there
// never collide with them.
const KindWindowClosed Kind = 100

// CheckServiceWindow refuses a free-form message to c from channel at now
// unless c wrote to that channel within ServiceWindow; Meta would refuse it
// with 131047 after the client had been told it was accepted.
func CheckServiceWindow(c Contact, channel string, now time.Time) error {
	if c.WindowOpen(channel, now) {
		return nil
	}
	return Errorf(KindWindowClosed, "the 24-hour customer-service window is closed: "+
		"free-form messages are allowed only within 24 hours of the contact's last message to this number; send a template instead")
}

// TemplateText is what the contact reads of a template send: the template's
// body with the send's body parameters in place of its placeholders.
// Placeholders the send has no value for stay as they are.
func TemplateText(t Template, m TemplateMessage) string {
	body := t.Body()
	values := map[string]string{}
	var positional []string
	for _, c := range m.Components {
		if !strings.EqualFold(c.Type, "body") {
			continue
		}
		for _, p := range c.Parameters {
			if p.ParameterName != "" {
				values[p.ParameterName] = p.Text
			} else {
				positional = append(positional, p.Text)
			}
		}
	}
	if len(positional) > 0 {
		// Render sends positional values ordered by placeholder number.
		keys := Placeholders(body)
		sort.SliceStable(keys, func(i, j int) bool {
			a, _ := strconv.Atoi(keys[i])
			b, _ := strconv.Atoi(keys[j])
			return a < b
		})
		for i, k := range keys {
			if i < len(positional) {
				if _, named := values[k]; !named {
					values[k] = positional[i]
				}
			}
		}
	}
	return placeholder.ReplaceAllStringFunc(body, func(ph string) string {
		if v, ok := values[placeholder.FindStringSubmatch(ph)[1]]; ok {
			return v
		}
		return ph
	})
}
