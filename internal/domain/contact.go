package domain

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FullName is the name a contact is shown under: the name the tenant gave
// it, else "firstName lastName", else its WhatsApp profile name, else its
// phone number.
func (c Contact) FullName() string {
	if c.Name != "" {
		return c.Name
	}
	if n := trimJoin(c.FirstName, c.LastName); n != "" {
		return n
	}
	if c.ProfileName != "" {
		return c.ProfileName
	}
	return c.Phone
}

// MaxNameLength bounds the name a tenant gives a contact, in characters.
const MaxNameLength = 256

// SetName names the contact, given under field; a blank name leaves the
// contact's name as it is.
func (c *Contact) SetName(field, name string) error {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil
	case !utf8.ValidString(name):
		return Errorf(KindInvalid, "invalid fields: "+field+": must be UTF-8 text", field)
	case utf8.RuneCountInString(name) > MaxNameLength:
		return Errorf(KindInvalid, "invalid fields: "+field+": at most "+strconv.Itoa(MaxNameLength)+" characters", field)
	}
	c.Name = name
	return nil
}

// Limits on a contact's custom params. They keep a contact document far
// below Firestore's 1 MiB whatever clients add over time.
const (
	MaxParams          = 100
	MaxParamNameLength = 100
	MaxParamValue      = 2000
)

// SetParams merges updates into the contact's custom params (a value
// replaces the one under the same name) and refuses names that cannot be
// stored, values over MaxParamValue characters, and a contact that would
// end up with more than MaxParams params. field names the request field in
// errors. On error the contact is unchanged.
func (c *Contact) SetParams(field string, updates map[string]string) error {
	var errs FieldErrors
	merged := make(map[string]string, len(c.CustomParams)+len(updates))
	for k, v := range c.CustomParams {
		merged[k] = v
	}
	names := make([]string, 0, len(updates))
	for name := range updates {
		names = append(names, name)
	}
	sort.Strings(names) // one error message for one request
	for _, name := range names {
		v := updates[name]
		if p := paramNameProblem(name); p != "" {
			errs.Add(field+"."+quote(name), p)
			continue
		}
		if utf8.RuneCountInString(v) > MaxParamValue {
			errs.Add(field+"."+name, "the value has more than "+strconv.Itoa(MaxParamValue)+" characters")
			continue
		}
		merged[name] = v
	}
	if err := errs.Err(); err != nil {
		return err
	}
	if len(merged) > MaxParams {
		return Errorf(KindInvalid, "invalid fields: "+field+": a contact has at most "+strconv.Itoa(MaxParams)+" custom params", field)
	}
	c.CustomParams = merged
	return nil
}

// paramNameProblem says why name cannot name a custom param, "" when it
// can. Firestore reserves field names of the form __name__.
func paramNameProblem(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "a param needs a name"
	case !utf8.ValidString(name):
		return "the name must be UTF-8 text"
	case utf8.RuneCountInString(name) > MaxParamNameLength:
		return "the name has more than " + strconv.Itoa(MaxParamNameLength) + " characters"
	case strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__"):
		return "names of the form __name__ are reserved"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "the name has control characters"
	}
	return ""
}

// quote makes a name that may be blank or odd readable in an error.
func quote(name string) string {
	if name == "" || strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return strconv.Quote(name)
	}
	return name
}

// ChatStatus is the state an agent gives a contact's chat on one channel.
type ChatStatus string

// The chat states.
const (
	ChatOpen    ChatStatus = "open"
	ChatPending ChatStatus = "pending"
	ChatSolved  ChatStatus = "solved"
	ChatClosed  ChatStatus = "closed"
)

// ParseChatStatus reads a chat state given under field, in any letter case.
func ParseChatStatus(field, s string) (ChatStatus, error) {
	switch st := ChatStatus(strings.ToLower(strings.TrimSpace(s))); st {
	case ChatOpen, ChatPending, ChatSolved, ChatClosed:
		return st, nil
	}
	if s == "" {
		return "", Errorf(KindInvalid, "invalid fields: "+field+": required (open, pending, solved or closed)", field)
	}
	return "", Errorf(KindInvalid, "invalid fields: "+field+": must be open, pending, solved or closed", field)
}

// SetChatStatus records the state of the contact's chat on channel.
func (c *Contact) SetChatStatus(channel string, st ChatStatus) {
	if c.ChatStatus == nil {
		c.ChatStatus = map[string]ChatStatus{}
	}
	c.ChatStatus[channel] = st
}
