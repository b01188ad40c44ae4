package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// Session is one browser signed in to the web console, stored at
// tenants/{t}/sessions/{id}. The console's cookie carries the id, signed;
// the document is what makes it valid, so signing out (deleting it) ends
// the session for good, whatever copy of the cookie is left.
type Session struct {
	ID string `firestore:"-"`
	// TokenHash is the sha256 of the token that signed in: a token revoked
	// or expired since ends its sessions too.
	TokenHash   string `firestore:"tokenHash"`
	Integration string `firestore:"integration"`
	// CSRF is the value every form of the session carries back.
	CSRF      string    `firestore:"csrf"`
	CreatedAt time.Time `firestore:"createdAt"`
	// SeenAt is when the session last moved its idle expiry.
	SeenAt time.Time `firestore:"seenAt"`
	// ExpireAt ends the session when it is not used (idle expiry); a TTL
	// policy deletes the document some time after.
	ExpireAt time.Time `firestore:"expireAt"`
}

func (s *Store) session(tenant, id string) *firestore.DocumentRef {
	return s.sub(tenant, "sessions").Doc(id)
}

// CreateSession stores a new console session of tenant.
func (s *Store) CreateSession(ctx context.Context, tenant string, sess Session) error {
	if !ValidID(tenant) || !ValidID(sess.ID) {
		return fmt.Errorf("create session: %w", ErrNotFound)
	}
	if _, err := s.session(tenant, sess.ID).Create(ctx, sess); err != nil {
		return fmt.Errorf("create session of %s: %w", tenant, err)
	}
	return nil
}

// SessionAndToken reads a console session and the grant of the token that
// opened it in one round trip. ErrNotFound when either is gone: signed
// out, expired and deleted, or the token deleted.
func (s *Store) SessionAndToken(ctx context.Context, tenant, id string) (Session, domain.Token, error) {
	if !ValidID(tenant) || !ValidID(id) {
		return Session{}, domain.Token{}, ErrNotFound
	}
	ref := s.session(tenant, id)
	snap, err := ref.Get(ctx)
	if notFound(err) {
		return Session{}, domain.Token{}, ErrNotFound
	}
	if err != nil {
		return Session{}, domain.Token{}, fmt.Errorf("read session of %s: %w", tenant, err)
	}
	var sess Session
	if err := snap.DataTo(&sess); err != nil {
		return Session{}, domain.Token{}, fmt.Errorf("decode session of %s: %w", tenant, err)
	}
	sess.ID = id
	tok, err := s.Token(ctx, sess.TokenHash)
	if err != nil {
		return Session{}, domain.Token{}, err
	}
	return sess, tok, nil
}

// TouchSession moves a session's idle expiry to expireAt, as it is used.
func (s *Store) TouchSession(ctx context.Context, tenant, id string, seen, expireAt time.Time) error {
	_, err := s.session(tenant, id).Update(ctx, []firestore.Update{{Path: "seenAt", Value: seen}, {Path: "expireAt", Value: expireAt}})
	if err != nil && !notFound(err) {
		return fmt.Errorf("touch session of %s: %w", tenant, err)
	}
	return nil
}

// DeleteSession ends a console session; ending one already gone is no
// error.
func (s *Store) DeleteSession(ctx context.Context, tenant, id string) error {
	if !ValidID(tenant) || !ValidID(id) {
		return nil
	}
	if _, err := s.session(tenant, id).Delete(ctx); err != nil {
		return fmt.Errorf("delete session of %s: %w", tenant, err)
	}
	return nil
}
