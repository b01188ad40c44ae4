package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// metaJSON encodes v as Meta's servers write JSON, which is what Meta signs:
// every non-ASCII character escaped as \uXXXX in lowercase hex (astral
// characters as their UTF-16 surrogate pair, 😀 as \ud83d\ude00) and every
// "/" as "\/", while <, > and & stay as they are. A receiver that checks
// the signature over JSON it re-encoded itself fails on the first accent
// or URL; over the raw body it succeeds.
func metaJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding JSON: %w", err)
	}
	plain := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(plain)+len(plain)/8)
	// Outside strings Go's JSON is ASCII without "/", and inside them it
	// writes "/" and non-ASCII characters literally (an invalid byte
	// becomes U+FFFD), so each can be escaped wherever it appears.
	for i := 0; i < len(plain); {
		c := plain[i]
		switch {
		case c == '/':
			out = append(out, '\\', '/')
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(plain[i:])
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			i += size
		}
	}
	return out, nil
}
