package callback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a callback request.
const (
	// SignatureHeader carries Sign's result.
	SignatureHeader = "X-Templategw-Signature"
	// TimestampHeader carries the signing time in Unix seconds; it is
	// part of the signed text, so a receiver can refuse old requests.
	TimestampHeader = "X-Templategw-Timestamp"
	// EventIDHeader repeats the event's id, so a receiver can drop a
	// duplicate before parsing the body.
	EventIDHeader = "X-Templategw-Event-Id"
)

// DefaultTolerance is how far a callback's timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// signaturePrefix names the scheme, so a future one can be sent beside it.
const signaturePrefix = "v1="

// Errors Verify returns.
var (
	ErrNoSignature  = errors.New("callback: missing signature or timestamp")
	ErrBadSignature = errors.New("callback: signature does not match")
	ErrStale        = errors.New("callback: timestamp outside the tolerance")
)

// Sign returns the signature of a callback body sent at ts:
// "v1=" + hex(HMAC-SHA256(secret, "<unix seconds>." + body)). The
// timestamp is signed with the body so a captured request cannot be
// replayed later with a fresh timestamp.
func Sign(secret string, ts time.Time, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a callback as a receiver does: the signature must match
// the body and the timestamp header, and the timestamp must lie within
// tolerance of now (DefaultTolerance when tolerance <= 0), which bounds
// replays; deduplicating on the event id covers the rest of the window.
func Verify(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	tsText, sig := header.Get(TimestampHeader), header.Get(SignatureHeader)
	if tsText == "" || sig == "" {
		return ErrNoSignature
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrNoSignature, tsText)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %s from now", ErrStale, d.Round(time.Second))
	}
	hexSig, ok := strings.CutPrefix(sig, signaturePrefix)
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return ErrBadSignature
	}
	// hmac.Equal takes the same time wherever the first difference is, so
	// the answer's timing does not leak how much of a guess was right.
	if !hmac.Equal(got, mac(secret, tsText, body)) {
		return ErrBadSignature
	}
	return nil
}
