package logging

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/templategw/templategw/internal/domain"
)

// longDigits is the rule internal/store masks its errors with: seven digits
// or more may be a phone number, or its national part (Meta's error codes
// have at most six).
var longDigits = regexp.MustCompile(`[0-9]{7,}`)

// MaskDigits masks, in s, every run of seven digits or more to its last
// four (domain.MaskPhone), so a phone number quoted in an error string or
// a path does not reach the logs whole.
func MaskDigits(s string) string {
	if !hasLongDigits(s) {
		return s
	}
	return longDigits.ReplaceAllStringFunc(s, domain.MaskPhone)
}

// hasLongDigits spares the regexp for the common string without any.
func hasLongDigits(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			if n++; n >= 7 {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

// scrubbed finds, in one pass, Meta's message ids (errors quote the
// wamids/ document path; their base64 body embeds the recipient's number)
// and the digit runs MaskDigits masks. One pass, so digits inside a wamid
// are not masked before it is fingerprinted, nor those of a fingerprint.
var scrubbed = regexp.MustCompile(`wamid\.[A-Za-z0-9+/=_-]+|[0-9]{7,}`)

// Scrub is what free text goes through before it is logged: every wamid
// replaced by "wamid#" and its Fingerprint (which matches the wamidHash
// field of other lines), and every digit run masked as MaskDigits does.
func Scrub(s string) string {
	if !hasLongDigits(s) && !strings.Contains(s, "wamid.") {
		return s
	}
	return scrubbed.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "wamid.") {
			return "wamid#" + Fingerprint(m)
		}
		return domain.MaskPhone(m)
	})
}

// MaskError returns err with its text put through Scrub, still
// unwrapping to err for errors.Is and errors.As. For errors handed back
// to a runtime that prints them itself (the Functions Framework writes a
// CloudEvent function's error to stderr, outside slog).
func MaskError(err error) error {
	if err == nil {
		return nil
	}
	return maskedError{err}
}

type maskedError struct{ err error }

func (e maskedError) Error() string { return Scrub(e.err.Error()) }
func (e maskedError) Unwrap() error { return e.err }

// Fingerprint is a short, stable stand-in for a value that must not be
// logged but must still be matched across lines: Meta's wamid, whose
// base64 body embeds the recipient's number. The first 16 hex digits of
// its SHA-256.
func Fingerprint(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
