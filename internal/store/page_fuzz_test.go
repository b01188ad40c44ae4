package store

import (
	"testing"
	"time"
)

// FuzzPageToken feeds arbitrary pageToken values, which clients send
// back as they please, to the decoder: it never panics, a token it accepts
// names a valid document id, and what it accepts encodes back to a token
// that decodes the same.
func FuzzPageToken(f *testing.F) {
	f.Add(encodePage(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), "abc123"))
	for _, s := range []string{"", "x", "!!", "MTIz", "MTIzLg", "LmFiYw", "LTEuYWJj", "OTk5OTk5OTk5OTk5OTk5OTk5OTkuYQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		at, id, err := decodePage(tok)
		if err != nil {
			if err != ErrBadPageToken {
				t.Fatalf("error %v is not ErrBadPageToken", err)
			}
			return
		}
		if !ValidID(id) {
			t.Fatalf("accepted id %q", id)
		}
		at2, id2, err := decodePage(encodePage(at, id))
		if err != nil || !at2.Equal(at) || id2 != id {
			t.Fatalf("round trip of %q: %v %q %v, want %v %q", tok, at2, id2, err, at, id)
		}
	})
}
