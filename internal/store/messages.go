package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/domain"
)

// ErrKeyExists is returned by Accept when the idempotency key already has a
// record: the request is a retry.
var ErrKeyExists = errors.New("idempotency key already used")

// IdempotencyRecord remembers the first answer given under an
// Idempotency-Key for 24 h (a Firestore TTL policy on expireAt removes it).
type IdempotencyRecord struct {
	RequestHash string    `firestore:"requestHash"`
	MessageID   string    `firestore:"messageId"`
	Code        int       `firestore:"code"`
	Body        []byte    `firestore:"body"`
	ExpireAt    time.Time `firestore:"expireAt"`
}

// Acceptance is everything the accept path writes, in one commit.
type Acceptance struct {
	Message        domain.Message
	Contact        domain.Contact
	IdempotencyKey string // "" when the request carried none
	Idempotency    IdempotencyRecord
}

func (s *Store) message(tenant, id string) *firestore.DocumentRef {
	return s.sub(tenant, "messages").Doc(id)
}

func (s *Store) idempotency(tenant, key string) *firestore.DocumentRef {
	return s.sub(tenant, "idempotency").Doc(HashToken(key))
}

// Accept writes a new message, its contact and its idempotency record in
// one commit, so a 2xx answer always has its message and a failed commit
// leaves nothing behind. A WriteBatch is used, not a transaction: the write
// is blind (no reads) and a batch commits in one round trip where a
// transaction needs two.
func (s *Store) Accept(ctx context.Context, a Acceptance) error {
	m := a.Message
	b := s.fs.Batch() //nolint:staticcheck // one-RPC atomic blind write, see above
	b.Create(s.message(m.Tenant, m.ID), m)
	contact := map[string]any{"phone": a.Contact.Phone, "updatedAt": a.Contact.UpdatedAt}
	for k, v := range map[string]string{"firstName": a.Contact.FirstName, "lastName": a.Contact.LastName, "name": a.Contact.Name} {
		if v != "" {
			contact[k] = v
		}
	}
	b.Set(s.sub(m.Tenant, "contacts").Doc(a.Contact.Phone), contact, firestore.MergeAll)
	if a.IdempotencyKey != "" {
		b.Create(s.idempotency(m.Tenant, a.IdempotencyKey), a.Idempotency)
	}
	if _, err := b.Commit(ctx); err != nil {
		if status.Code(err) == codes.AlreadyExists && a.IdempotencyKey != "" {
			return ErrKeyExists
		}
		return fmt.Errorf("accept message %s: %w", m.ID, err)
	}
	return nil
}

// Idempotency returns the record stored under a tenant's idempotency key.
func (s *Store) Idempotency(ctx context.Context, tenant, key string) (IdempotencyRecord, error) {
	var r IdempotencyRecord
	err := get(ctx, s.idempotency(tenant, key), &r)
	return r, err
}

// Message returns one of a tenant's messages.
func (s *Store) Message(ctx context.Context, tenant, id string) (domain.Message, error) {
	var m domain.Message
	if err := get(ctx, s.message(tenant, id), &m); err != nil {
		return m, err
	}
	m.ID = id
	return m, nil
}

// MessageFilter narrows a message listing; empty fields do not filter.
type MessageFilter struct {
	Phone  string
	Status domain.Status
}

// ErrBadPageToken is returned for a page token the store did not issue.
var ErrBadPageToken = errors.New("invalid pageToken")

// Messages lists a tenant's messages, newest first. Queries on phone or
// status use composite indexes (field, createdAt desc).
func (s *Store) Messages(ctx context.Context, tenant string, f MessageFilter, limit int, pageToken string) (_ []domain.Message, next string, _ error) {
	q := s.sub(tenant, "messages").Query
	if f.Phone != "" {
		q = q.Where("phoneNumber", "==", f.Phone)
	}
	if f.Status != "" {
		q = q.Where("status", "==", string(f.Status))
	}
	q = q.OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Limit(limit + 1)
	if pageToken != "" {
		at, id, err := decodePage(pageToken)
		if err != nil {
			return nil, "", err
		}
		q = q.StartAfter(at, id)
	}
	list, more, err := page(ctx, q, limit, func(d *firestore.DocumentSnapshot) (domain.Message, error) {
		var m domain.Message
		err := d.DataTo(&m)
		m.ID = d.Ref.ID
		return m, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list messages of %s: %w", tenant, err)
	}
	if more {
		last := list[len(list)-1]
		next = encodePage(last.CreatedAt, last.ID)
	}
	return list, next, nil
}

func encodePage(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + "." + id))
}

func decodePage(tok string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", ErrBadPageToken
	}
	ns, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || !ValidID(id) {
		return time.Time{}, "", ErrBadPageToken
	}
	return time.Unix(0, n).UTC(), id, nil
}

// WatchMessage follows one message with a Firestore listener (no polling)
// until done accepts its state or ctx ends, and returns the last state
// seen. A listen stream the server drops is opened again: only ctx ends
// the watch.
func (s *Store) WatchMessage(ctx context.Context, tenant, id string, done func(domain.Message) bool) (domain.Message, error) {
	var m domain.Message
	for {
		ok, err := s.watch(ctx, s.message(tenant, id), &m, done)
		if ok {
			return m, nil
		}
		if ctx.Err() != nil {
			return m, fmt.Errorf("watch message %s/%s: %w", tenant, id, ctx.Err())
		}
		if status.Code(err) == codes.InvalidArgument || status.Code(err) == codes.PermissionDenied {
			return m, fmt.Errorf("watch message %s/%s: %w", tenant, id, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// watch runs one listen stream until done accepts m or the stream ends.
func (s *Store) watch(ctx context.Context, ref *firestore.DocumentRef, m *domain.Message, done func(domain.Message) bool) (bool, error) {
	it := ref.Snapshots(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if err != nil {
			return false, err
		}
		if !snap.Exists() {
			continue
		}
		var got domain.Message
		if err := snap.DataTo(&got); err != nil {
			return false, status.Errorf(codes.InvalidArgument, "decode %s: %v", ref.ID, err)
		}
		got.ID = ref.ID
		*m = got
		if done(got) {
			return true, nil
		}
	}
}

// SetIdempotencyAnswer replaces the answer stored under a key, when the
// first answer was settled after the record was written (a send that
// waited for its outcome), so a retry gets what the client got.
func (s *Store) SetIdempotencyAnswer(ctx context.Context, tenant, key string, code int, body []byte) error {
	_, err := s.idempotency(tenant, key).Update(ctx, []firestore.Update{{Path: "code", Value: code}, {Path: "body", Value: body}})
	if err != nil {
		return fmt.Errorf("update idempotency answer of %s: %w", tenant, err)
	}
	return nil
}
