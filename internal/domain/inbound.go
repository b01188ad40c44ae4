package domain

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// InboundMessage is a message a contact sent to one of a tenant's
// channels: stored under inbound/ for the dialects that list a chat, and
// forwarded to the tenant as a message.received callback. Every field is
// bounded (Bound), whatever Meta sends.
type InboundMessage struct {
	// ID is Meta's id of the message, its wamid.
	ID      string `firestore:"-"`
	Channel string `firestore:"channel"`
	// Phone is the contact's number; "" when Meta identified the contact
	// by its business-scoped user id only.
	Phone string `firestore:"phone"`
	// UserID is the contact's business-scoped user id, when Meta gave it.
	UserID      string `firestore:"userId,omitempty"`
	ProfileName string `firestore:"profileName,omitempty"`
	// Type is Meta's message type (text, image, video, audio, document,
	// sticker, button, reaction, location, contacts, …), except that an
	// interactive reply takes its own type, button_reply or list_reply,
	// which says more than "interactive".
	Type string `firestore:"type"`
	// Text is a text message's body.
	Text     string           `firestore:"text,omitempty"`
	Media    *InboundMedia    `firestore:"media,omitempty"`
	Reply    *InboundReply    `firestore:"reply,omitempty"`
	Reaction *InboundReaction `firestore:"reaction,omitempty"`
	Location *InboundLocation `firestore:"location,omitempty"`
	Contacts []SharedContact  `firestore:"contacts,omitempty"`
	// Context is the wamid of the message this one answers: the template
	// whose button was tapped, or a quoted message.
	Context string `firestore:"context,omitempty"`
	// ConversationID is the gateway's conversation the message opened or
	// extended, filled in by the store.
	ConversationID string    `firestore:"conversationId,omitempty"`
	At             time.Time `firestore:"at"`
	// ExpireAt is when Firestore's TTL removes the message (the tenant's
	// retention); zero keeps it.
	ExpireAt time.Time `firestore:"expireAt,omitempty"`
}

// InboundMedia is an image, video, audio, document or sticker a contact
// sent. The file stays at Meta: ID is what Meta's media endpoint takes to
// fetch it.
type InboundMedia struct {
	ID       string `firestore:"id" json:"id"`
	MimeType string `firestore:"mimeType" json:"mimeType"`
	Caption  string `firestore:"caption,omitempty" json:"caption,omitempty"`
	Filename string `firestore:"filename,omitempty" json:"filename,omitempty"`
	SHA256   string `firestore:"sha256,omitempty" json:"sha256,omitempty"`
}

// InboundReply is a tapped quick-reply button (type button) or an
// interactive reply (button_reply, list_reply).
type InboundReply struct {
	// ID is the button's payload, or the reply's id.
	ID          string `firestore:"id" json:"id"`
	Title       string `firestore:"title" json:"title"`
	Description string `firestore:"description,omitempty" json:"description,omitempty"`
}

// InboundReaction is an emoji a contact put on a message; Emoji is ""
// when the contact took its reaction back.
type InboundReaction struct {
	MessageID string `firestore:"messageId" json:"messageId"`
	Emoji     string `firestore:"emoji" json:"emoji"`
}

// InboundLocation is a place a contact shared.
type InboundLocation struct {
	Latitude  float64 `firestore:"latitude" json:"latitude"`
	Longitude float64 `firestore:"longitude" json:"longitude"`
	Name      string  `firestore:"name,omitempty" json:"name,omitempty"`
	Address   string  `firestore:"address,omitempty" json:"address,omitempty"`
}

// SharedContact is a contact card a contact shared: its name and numbers.
type SharedContact struct {
	Name   string   `firestore:"name" json:"name"`
	Phones []string `firestore:"phones,omitempty" json:"phones,omitempty"`
}

// Bounds of an inbound message's fields. Meta's own limits are lower
// (4,096 characters of text, 1,024 of caption, 20 to 72 of a reply's
// title and description); these keep any inbound document, and the
// callback that carries it, in the tens of kilobytes.
const (
	MaxInboundText    = MaxTextLength
	MaxInboundCaption = 1024
	// MaxInboundField bounds every other text: ids, payloads, titles,
	// names, mime types and file names.
	MaxInboundField   = 256
	MaxInboundAddress = 1024
	MaxSharedContacts = 20
	MaxSharedPhones   = 10
	maxInboundType    = 32
)

// Bound cuts every field of in to its maximum, and names an unreadable
// type "unknown".
func (in *InboundMessage) Bound() {
	in.ProfileName = Clip(in.ProfileName, MaxNameLength)
	if in.Type = word(strings.ToLower(in.Type)); in.Type == "" || len(in.Type) > maxInboundType {
		in.Type = "unknown"
	}
	in.Text = Clip(in.Text, MaxInboundText)
	in.Context = Clip(in.Context, MaxInboundField)
	if m := in.Media; m != nil {
		m.ID, m.MimeType, m.SHA256 = Clip(m.ID, MaxInboundField), Clip(m.MimeType, MaxInboundField), Clip(m.SHA256, MaxInboundField)
		m.Caption, m.Filename = Clip(m.Caption, MaxInboundCaption), Clip(m.Filename, MaxInboundField)
	}
	if r := in.Reply; r != nil {
		r.ID, r.Title, r.Description = Clip(r.ID, MaxInboundField), Clip(r.Title, MaxInboundField), Clip(r.Description, MaxInboundField)
	}
	if r := in.Reaction; r != nil {
		r.MessageID, r.Emoji = Clip(r.MessageID, MaxInboundField), Clip(r.Emoji, MaxInboundField)
	}
	if l := in.Location; l != nil {
		l.Name, l.Address = Clip(l.Name, MaxInboundField), Clip(l.Address, MaxInboundAddress)
	}
	if len(in.Contacts) > MaxSharedContacts {
		in.Contacts = in.Contacts[:MaxSharedContacts]
	}
	for i := range in.Contacts {
		c := &in.Contacts[i]
		c.Name = Clip(c.Name, MaxInboundField)
		if len(c.Phones) > MaxSharedPhones {
			c.Phones = c.Phones[:MaxSharedPhones]
		}
		for j := range c.Phones {
			c.Phones[j] = Clip(c.Phones[j], MaxInboundField)
		}
	}
}

// Clip cuts s to its first max characters, for text from outside that is
// kept whatever its length.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}

// Summary is a line of text that stands for the message where only text
// can be shown (Wati's getMessages): a text's body, a media's caption or
// file name, a reply's title, a reaction's emoji, a place's name and
// address, shared contacts' names, else the type in brackets.
func (in InboundMessage) Summary() string {
	switch {
	case in.Text != "":
		return in.Text
	case in.Media != nil && in.Media.Caption != "":
		return in.Media.Caption
	case in.Media != nil && in.Media.Filename != "":
		return in.Media.Filename
	case in.Reply != nil && in.Reply.Title != "":
		return in.Reply.Title
	case in.Reply != nil && in.Reply.ID != "":
		return in.Reply.ID
	case in.Reaction != nil && in.Reaction.Emoji != "":
		return in.Reaction.Emoji
	case in.Location != nil:
		if s := trimJoinWith(", ", in.Location.Name, in.Location.Address); s != "" {
			return s
		}
		return strconv.FormatFloat(in.Location.Latitude, 'f', 6, 64) + ", " + strconv.FormatFloat(in.Location.Longitude, 'f', 6, 64)
	case len(in.Contacts) > 0:
		names := make([]string, 0, len(in.Contacts))
		for _, c := range in.Contacts {
			if c.Name != "" {
				names = append(names, c.Name)
			}
		}
		if len(names) > 0 {
			return strings.Join(names, ", ")
		}
	}
	return "[" + in.Type + "]"
}

func trimJoinWith(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// UserKeyPrefix starts the key of a contact known only by its
// business-scoped user id. Phone keys are digits, so the two never meet.
const UserKeyPrefix = "user:"

// ContactKey is the id of a contact's document and the contact part of
// its conversations' ids: its phone when known, else UserKeyPrefix and
// its user id.
func ContactKey(phone, userID string) string {
	if phone != "" {
		return phone
	}
	return UserKeyPrefix + userID
}

// IsUserKey reports whether a contact key stands for a user id rather
// than a phone.
func IsUserKey(key string) bool { return strings.HasPrefix(key, UserKeyPrefix) }

// ContactKey is the key of the contact who sent in.
func (in InboundMessage) ContactKey() string { return ContactKey(in.Phone, in.UserID) }

// MaxUserID bounds a business-scoped user id; Meta's are a country code
// and about twenty digits (BR.13491208655302741918).
const MaxUserID = 128

// userIDPattern is what a business-scoped user id may be: letters, digits,
// dots, dashes and underscores, starting with a letter or digit. Meta's
// are a country code and dotted alphanumeric parts; the pattern is looser
// so a new shape is not dropped, and strict enough to name a document.
var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseUserID reports whether s can be a business-scoped user id.
func ParseUserID(s string) (string, bool) {
	if len(s) > MaxUserID || !utf8.ValidString(s) || !userIDPattern.MatchString(s) {
		return "", false
	}
	return s, true
}
