package batch

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strconv"
	"strings"
)

// MessageID is the id of the message of the batch's recipient at index.
// It is derived, not drawn, so a redelivered chunk names the same messages
// and creates none twice; hashing keeps the ids as scattered as random
// ones, so Firestore does not see sequential writes.
func MessageID(batch string, index int) string {
	sum := sha256.Sum256([]byte(batch + "/" + strconv.Itoa(index)))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}

// newCode is a batch code for a client that gave none, shaped like the
// codes in seed 003's answers (a random UUID).
func newCode() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// maxCode bounds a client's batch code; emkt's identificador is at most 13.
const maxCode = 64
