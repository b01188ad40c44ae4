// Package store keeps templategw's data in Firestore (native mode): tenants,
// tokens, channels, templates, contacts, messages and idempotency records.
// Everything a tenant owns lives under tenants/{tenantId}; no query crosses
// tenants.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/domain"
)

// ErrNotFound is returned when a document does not exist.
var ErrNotFound = errors.New("not found")

// Store reads and writes templategw's documents.
type Store struct {
	fs *firestore.Client
}

// New returns a Store over a Firestore client.
func New(fs *firestore.Client) *Store { return &Store{fs: fs} }

// Client is the underlying Firestore client.
func (s *Store) Client() *firestore.Client { return s.fs }

func (s *Store) tenant(t string) *firestore.DocumentRef { return s.fs.Collection("tenants").Doc(t) }

func (s *Store) sub(t, coll string) *firestore.CollectionRef {
	return s.tenant(t).Collection(coll)
}

// NewID returns a random document id. Ids are never sequential, so writes
// spread over Firestore's key range.
func NewID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// HashToken is the id under which a token is stored: its sha256, so a
// leaked database holds no usable token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func notFound(err error) bool { return status.Code(err) == codes.NotFound }

// ValidID reports whether Firestore can name a document id: UTF-8, no
// "/", not "." or "..", not reserved "__…__", at most 1,500 bytes. An id a
// client sent that fails this cannot exist, so lookups answer ErrNotFound
// (and cursors ErrBadPageToken) instead of Firestore's InvalidArgument,
// which its client retries until the request's deadline.
func ValidID(id string) bool {
	return id != "" && id != "." && id != ".." && len(id) <= 1500 && utf8.ValidString(id) &&
		!strings.Contains(id, "/") && !(strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"))
}

// MaxTemplateName is Meta's limit on a template's name. A longer name, or
// one that is not UTF-8, names no template, and Firestore refuses a query
// value over 1,500 bytes: TemplateByName answers ErrNotFound without asking.
const MaxTemplateName = 512

// get reads one document into v, mapping a missing document to ErrNotFound.
// readIn reads the document at ref inside tx, ErrNotFound when there is
// none: each attempt of the transaction decodes into a fresh value.
func readIn[T any](tx *firestore.Transaction, ref *firestore.DocumentRef) (T, error) {
	var v T
	snap, err := tx.Get(ref)
	if notFound(err) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, err
	}
	err = snap.DataTo(&v)
	return v, err
}

// readInOrZero is readIn for a document whose absence means its zero
// value: a tenant that no longer exists has the defaults, a missing
// conversation is closed.
func readInOrZero[T any](tx *firestore.Transaction, ref *firestore.DocumentRef) (T, error) {
	v, err := readIn[T](tx, ref)
	if errors.Is(err, ErrNotFound) {
		var zero T
		return zero, nil
	}
	return v, err
}

func get(ctx context.Context, ref *firestore.DocumentRef, v any) error {
	if !ValidID(ref.ID) {
		return ErrNotFound
	}
	snap, err := ref.Get(ctx)
	if notFound(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", maskDigits(ref.Path), masked(err))
	}
	if err := snap.DataTo(v); err != nil {
		return fmt.Errorf("decode %s: %w", maskDigits(ref.Path), masked(err))
	}
	return nil
}

// longDigits finds phone numbers in document paths (contacts/{phone},
// conversations/{channel}_{phone}) and in the errors that quote them.
var longDigits = regexp.MustCompile(`[0-9]{7,}`)

// masked keeps full phone numbers out of an error's text, which reaches
// logs, while errors.Is and errors.As still see the cause.
func masked(err error) error {
	if err == nil {
		return nil
	}
	return maskedError{err}
}

type maskedError struct{ err error }

func (e maskedError) Error() string { return maskDigits(e.err.Error()) }
func (e maskedError) Unwrap() error { return e.err }

func maskDigits(s string) string { return longDigits.ReplaceAllStringFunc(s, domain.MaskPhone) }
