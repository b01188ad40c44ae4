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

// Acceptance is everything the accept path writes, in one commit.
type Acceptance struct {
	Message domain.Message
	Contact domain.Contact
	// KeepContact says the stored contact already has all Contact says
	// (domain.Contact.Learns): it is not written.
	KeepContact bool
	// IdempotencyKey is "" when the request carried none; otherwise
	// Idempotency is the record to leave under it, and its Version the
	// claim this request holds.
	IdempotencyKey string
	Idempotency    IdempotencyRecord
	// Limit is the tenant's monthly conversation limit (0: none). With a
	// limit, a send that would open a conversation reserves one in the
	// same commit.
	Limit int
	// Now is the admission's time: the month a reservation counts in.
	Now time.Time
}

func (s *Store) message(tenant, id string) *firestore.DocumentRef {
	return s.sub(tenant, "messages").Doc(id)
}

func (s *Store) idempotency(tenant, key string) *firestore.DocumentRef {
	return s.sub(tenant, "idempotency").Doc(HashToken(key))
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
	// TemplateID, From (inclusive) and To (exclusive) are the console's
	// search; ErrorCode narrows failures to one of Meta's codes.
	TemplateID string
	From, To   time.Time
	ErrorCode  int
}

// ErrBadPageToken is returned for a page token the store did not issue.
var ErrBadPageToken = errors.New("invalid pageToken")

// Messages lists a tenant's messages, newest first. Queries on phone or
// status use composite indexes (field, createdAt desc).
func (s *Store) Messages(ctx context.Context, tenant string, f MessageFilter, limit int, pageToken string) (_ []domain.Message, next string, _ error) {
	q := s.messageQuery(tenant, f).OrderBy(firestore.DocumentID, firestore.Desc).Limit(limit + 1)
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

// messageQuery is f's filters over a tenant's messages, newest first.
// Listings and counts share it, so a count is served by the composite
// index its listing uses.
func (s *Store) messageQuery(tenant string, f MessageFilter) firestore.Query {
	q := s.sub(tenant, "messages").Query
	if f.Phone != "" {
		q = q.Where("phoneNumber", "==", f.Phone)
	}
	if f.Status != "" {
		q = q.Where("status", "==", string(f.Status))
	}
	if f.TemplateID != "" {
		q = q.Where("templateId", "==", f.TemplateID)
	}
	if f.ErrorCode != 0 {
		q = q.Where("error.code", "==", f.ErrorCode)
	}
	if !f.From.IsZero() {
		q = q.Where("createdAt", ">=", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("createdAt", "<", f.To)
	}
	return q.OrderBy("createdAt", firestore.Desc)
}

// CountMessages counts a tenant's messages that f selects with one count
// aggregation: Firestore reads one index entry per message counted and
// bills one read per thousand, never the documents.
func (s *Store) CountMessages(ctx context.Context, tenant string, f MessageFilter) (int, error) {
	if !ValidID(tenant) {
		return 0, ErrNotFound
	}
	return aggregateCount(ctx, s.messageQuery(tenant, f), "messages of "+tenant)
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
