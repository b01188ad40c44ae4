package domain

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The most a client may send in each kind of field, checked by every
// dialect's parser before anything is read or written (docs/limits.md
// lists every field with its bound). Lengths count characters (Unicode
// code points), as Meta counts them: a bound in bytes would refuse
// Portuguese or emoji text Meta takes. Storage stays bounded all the same:
// a character is at most 4 bytes of UTF-8, so every bound here is also a
// byte bound, and limits_test.go adds up the largest documents a request
// can make against Firestore's 1 MiB. The bounds of a contact's own fields
// are MaxNameLength, MaxParams, MaxParamNameLength and MaxParamValue
// (contact.go), and of a free-form text MaxTextLength (text.go).
const (
	// MaxTemplateRef bounds templateId, template_name and element_name:
	// Meta's template names are at most 512 characters, and the gateway's
	// template ids are taken from them.
	MaxTemplateRef = 512

	// MaxChannelRef bounds channelNumber, inbox_id, remetente and
	// channelPhoneNumber. A channel is named by its id, its number (15
	// digits at most) or its sender code (emkt's are 36-character UUIDs);
	// a reference longer than this names none, and would only be echoed
	// back in the refusal.
	MaxChannelRef = 128

	// MaxNamespace bounds emkt's namespace: Meta's template namespaces are
	// 36-character UUIDs.
	MaxNamespace = 128

	// MaxLabel bounds a label the client gives a send (Atom's groupName,
	// Wati's broadcast_name): the broadcast name is stored with the batch
	// and with every message it makes, so it is kept to a name's size.
	MaxLabel = 256

	// MaxSendParams bounds the template values of one send (Atom's params,
	// CloudChat's variables and button_param_N, Wati's parameters and a
	// receiver's customParams). Meta's template body is at most 1,024
	// characters and Meta refuses bodies with too many variables for their
	// length, so no template takes 100; add a header and 10 buttons.
	MaxSendParams = 128

	// MaxParamText bounds a body parameter's value: Meta takes 1,024
	// characters in the body parameter of a template with a header or
	// buttons (32,768 when the body is alone). The gateway holds every
	// template to 1,024, so one message stays far under Firestore's 1 MiB
	// whatever its template.
	MaxParamText = 1024

	// MaxHeaderValue bounds a header's value, the URL of its image, video
	// or document or the text of its placeholder: 2,000 characters is the
	// longest URL that works everywhere, and Meta's bound on a template's
	// URL. (Meta refuses a text header parameter over 60 characters
	// itself.)
	MaxHeaderValue = 2000

	// MaxButtonValue bounds a button's value: the variable part of a URL
	// button (Meta's button URL is at most 2,000 characters) or a quick
	// reply's payload.
	MaxButtonValue = 2000

	// MaxIdempotencyKey bounds the Idempotency-Key header: 255 characters,
	// as in Stripe's API, where the header's meaning comes from. The key is
	// stored only as its hash.
	MaxIdempotencyKey = 255

	// MaxPageToken bounds a pageToken: the tokens the APIs issue are under
	// 100 characters, so a longer one was not issued here.
	MaxPageToken = 512

	// MaxBatchCode bounds a batch code a client asks about (emkt's
	// codigo): emkt's identificador is at most 13 characters, and the codes
	// the gateway makes are 36; the batch service takes no code over 64.
	MaxBatchCode = 64

	// MaxPhoneInput bounds a phone number as the client wrote it, which a
	// bulk send keeps to report the recipient by (emkt's phone, Wati's
	// whatsappNumber): E.164 numbers have 15 digits at most, and 32 leaves
	// room for '+', spaces, dashes and parentheses.
	MaxPhoneInput = 32

	// MaxFilter bounds each of Wati's getContacts filters (name, attribute,
	// attributeValue): a name or an attribute's value is at most
	// MaxParamValue characters, and a JSON list of a few conditions fits.
	MaxFilter = 4096
)

// LenProblem says why value is too long for max characters, "" when it is
// not. It names the bound and the length, so a client knows how much to
// cut.
func LenProblem(value string, max int) string {
	if len(value) <= max {
		return "" // no string has more characters than bytes
	}
	if n := utf8.RuneCountInString(value); n > max {
		return "at most " + strconv.Itoa(max) + " characters, got " + strconv.Itoa(n)
	}
	return ""
}

// CheckLen adds field to errs when value has more than max characters,
// and reports whether it fits.
func CheckLen(errs *FieldErrors, field, value string, max int) bool {
	if p := LenProblem(value, max); p != "" {
		errs.Add(field, p)
		return false
	}
	return true
}

// CheckCount adds field to errs when a list or object of field has more
// than max entries, and reports whether it fits.
func CheckCount(errs *FieldErrors, field string, n, max int) bool {
	if n <= max {
		return true
	}
	errs.Add(field, "at most "+strconv.Itoa(max)+" entries, got "+strconv.Itoa(n))
	return false
}

// CheckKey adds to errs a key of parent (a template variable's or an
// attribute's name) that has more than max characters, and reports
// whether it fits.
func CheckKey(errs *FieldErrors, parent, key string, max int) bool {
	if p := LenProblem(key, max); p != "" {
		errs.Add(FieldName(parent, key), "a name of "+p)
		return false
	}
	return true
}

// ParamMax is the most characters a send's value for the domain param key
// may have: a header's, a button's or a body placeholder's.
func ParamMax(key string) int {
	switch {
	case key == ParamHeader:
		return MaxHeaderValue
	case isButtonParam(key):
		return MaxButtonValue
	}
	return MaxParamText
}

// CheckParam adds field to errs when value, given for the domain param
// key, is longer than ParamMax(key), and reports whether it fits.
func CheckParam(errs *FieldErrors, field, key, value string) bool {
	return CheckLen(errs, field, value, ParamMax(key))
}

// isButtonParam reports whether key is ButtonParam(i) for some i.
func isButtonParam(key string) bool {
	n, ok := strings.CutPrefix(key, "button_")
	if !ok || n == "" {
		return false
	}
	i, err := strconv.Atoi(n)
	return err == nil && i >= 0 && ButtonParam(i) == key
}

// maxFieldKey is how much of a client's key a field name shows.
const maxFieldKey = 64

// FieldName is the field a client's key of parent is named by in errors
// ("params.first_name"), the key cut short and quoted when odd: errors are
// echoed in answers and logs, and a key may be anything.
func FieldName(parent, key string) string {
	if len(key) > maxFieldKey {
		key = strings.ToValidUTF8(key[:maxFieldKey], "") + "…"
	}
	key = quote(key)
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// CheckIdempotencyKey refuses an Idempotency-Key longer than
// MaxIdempotencyKey.
func CheckIdempotencyKey(key string) error {
	var errs FieldErrors
	CheckLen(&errs, "Idempotency-Key", key, MaxIdempotencyKey)
	return errs.Err()
}

// TextProblem says why value cannot be stored as an attribute's text, ""
// when it can: it is not UTF-8, or it has control characters other than
// tab and line breaks, or the line and paragraph separators. JSON
// escapes the C0 controls and the separators to six bytes each; without
// them an answer that shows a contact's attributes takes at most four
// bytes a character.
func TextProblem(value string) string {
	if !utf8.ValidString(value) {
		return "must be UTF-8 text"
	}
	for _, r := range value {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			return "must not contain control characters"
		}
	}
	return ""
}
