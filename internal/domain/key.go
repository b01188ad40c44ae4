package domain

import (
	"crypto/rand"
	"encoding/base32"
	"regexp"
)

// KeyPrefix starts every key the gateway issues, so a key pasted into a
// log, a ticket or a repository is recognisable (docs/keys.md).
const KeyPrefix = "tgw_"

// keyIDLen is the length of a key's public id: 50 random bits, enough to
// tell a tenant's keys apart at a glance and to find one by id.
const keyIDLen = 10

// keyPattern is a key: prefix, id, "_", and 52 base32 characters (256
// random bits) of secret. Secret scanners use the same expression.
var keyPattern = regexp.MustCompile(`^tgw_([a-z2-7]{10})_[a-z2-7]{52}$`)

// keyEncoding is lowercase base32 without padding: no character a URL,
// a header or a shell quotes, and no "_" to blur the key's parts.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKey returns a new key and its public id. Only the key's sha256 is
// ever stored; the id is stored beside it, in the clear.
func NewKey() (key, id string) {
	var idBits [7]byte
	var secret [32]byte
	_, _ = rand.Read(idBits[:]) // crypto/rand.Read never fails since Go 1.24
	_, _ = rand.Read(secret[:])
	id = keyEncoding.EncodeToString(idBits[:])[:keyIDLen]
	return KeyPrefix + id + "_" + keyEncoding.EncodeToString(secret[:]), id
}

// KeyIDOf returns the public id a key carries, "" for a token that is
// not in the key format (issued before keys had ids, or not the
// gateway's).
func KeyIDOf(token string) string {
	m := keyPattern.FindStringSubmatch(token)
	if m == nil {
		return ""
	}
	return m[1]
}
