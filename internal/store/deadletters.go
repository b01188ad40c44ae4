package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// DeadLetterCallback is the kind of a dead letter that is a callback the
// callbacks function gave up on.
const DeadLetterCallback = "callback"

// DeadLetter is a tenant's piece of work the gateway gave up on, stored at
// tenants/{t}/deadletters/{id} so the tenant's console can list and
// replay it: Pub/Sub's dead-letter subscriptions hold every tenant's
// letters together, which no tenant may read. The id is the callback's
// event id, so the same event given up on twice is one letter.
type DeadLetter struct {
	ID        string `firestore:"-"`
	Kind      string `firestore:"kind"`
	EventType string `firestore:"eventType"`
	// MessageID is the message the event is about; "" for events about
	// no message (a received message, a template, a channel).
	MessageID string `firestore:"messageId,omitempty"`
	// Host is the callback URL's scheme and host: its path and query may
	// hold the receiver's own secret, so only the origin is shown.
	Host string `firestore:"host"`
	// Error is why the last attempt failed, short and free of secrets.
	Error    string    `firestore:"error"`
	Attempts int       `firestore:"attempts"`
	At       time.Time `firestore:"at"`
	// ExpireAt is when Firestore's TTL removes it: the tenant's
	// retention, as for its messages; zero keeps it.
	ExpireAt time.Time `firestore:"expireAt,omitempty"`
	// Job is the job as it travelled on its topic, JSON, republished as is
	// by a replay. It holds the full callback URL: never show it.
	Job []byte `firestore:"job"`
}

func (s *Store) deadLetter(tenant, id string) *firestore.DocumentRef {
	return s.sub(tenant, "deadletters").Doc(id)
}

// RecordDeadLetter stores d under tenant, replacing a letter of the same
// id: the event given up on again after a replay.
func (s *Store) RecordDeadLetter(ctx context.Context, tenant string, d DeadLetter) error {
	if !ValidID(tenant) || !ValidID(d.ID) {
		return fmt.Errorf("record dead letter %q of %q: %w", d.ID, tenant, ErrNotFound)
	}
	if _, err := s.deadLetter(tenant, d.ID).Set(ctx, d); err != nil {
		return fmt.Errorf("record dead letter %s of %s: %w", d.ID, tenant, masked(err))
	}
	return nil
}

// DeadLetter returns one of a tenant's dead letters; ErrNotFound when it
// was replayed, expired or never was.
func (s *Store) DeadLetter(ctx context.Context, tenant, id string) (DeadLetter, error) {
	var d DeadLetter
	if !ValidID(tenant) {
		return d, ErrNotFound
	}
	if err := get(ctx, s.deadLetter(tenant, id), &d); err != nil {
		return d, err
	}
	d.ID = id
	return d, nil
}

// DeadLetters lists up to limit of a tenant's dead letters, newest first,
// after pageToken ("" for the first page); next continues, "" on the last
// page. Ordered by (at, id) descending, which at's automatic single-field
// index serves: no composite index.
func (s *Store) DeadLetters(ctx context.Context, tenant string, limit int, pageToken string) (_ []DeadLetter, next string, _ error) {
	if !ValidID(tenant) {
		return nil, "", ErrBadPageToken
	}
	q := s.sub(tenant, "deadletters").OrderBy("at", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Limit(limit + 1)
	if pageToken != "" {
		at, id, err := decodePage(pageToken)
		if err != nil {
			return nil, "", err
		}
		q = q.StartAfter(at, id)
	}
	list, more, err := page(ctx, q, limit, func(snap *firestore.DocumentSnapshot) (DeadLetter, error) {
		var d DeadLetter
		err := snap.DataTo(&d)
		d.ID = snap.Ref.ID
		return d, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters of %s: %w", tenant, masked(err))
	}
	if more {
		last := list[len(list)-1]
		next = encodePage(last.At, last.ID)
	}
	return list, next, nil
}

// DeleteDeadLetter removes a dead letter once replayed; one already gone
// is no error, so a replay that raced another ends the same way.
func (s *Store) DeleteDeadLetter(ctx context.Context, tenant, id string) error {
	if !ValidID(tenant) || !ValidID(id) {
		return nil
	}
	if _, err := s.deadLetter(tenant, id).Delete(ctx); err != nil {
		return fmt.Errorf("delete dead letter %s of %s: %w", id, tenant, masked(err))
	}
	return nil
}
