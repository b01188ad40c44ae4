package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/domain"
)

// Keys live in tokens/{sha256(key)}. Every change an instance must see at
// once (create, revoke) sets changedAt to the server's time, and each
// instance that authenticates listens to the keys changed since it
// started (WatchTokens): the listener reads only what changed, never the
// whole collection. Last-used writes leave changedAt alone.

// tokenDoc is a key's document: its grant and when it last changed.
type tokenDoc struct {
	domain.Token
	ChangedAt time.Time `firestore:"changedAt,serverTimestamp"`
}

func (s *Store) tokens() *firestore.CollectionRef { return s.fs.Collection("tokens") }

// Token returns what the token with this sha256 grants, with the
// document's update time as its Version.
func (s *Store) Token(ctx context.Context, hash string) (domain.Token, error) {
	var t domain.Token
	if !ValidID(hash) {
		return t, ErrNotFound
	}
	snap, err := s.tokens().Doc(hash).Get(ctx)
	if notFound(err) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("get token: %w", masked(err))
	}
	if err := snap.DataTo(&t); err != nil {
		return t, fmt.Errorf("decode token: %w", err)
	}
	t.Version = snap.UpdateTime
	return t, nil
}

// PutToken stores a token's grant under the token's hash, stamped with
// its creation time unless the grant has one.
func (s *Store) PutToken(ctx context.Context, token string, t domain.Token) error {
	if err := t.CheckGrant(); err != nil {
		return fmt.Errorf("put token of tenant %s: %w", t.Tenant, err)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	if _, err := s.tokens().Doc(HashToken(token)).Set(ctx, tokenDoc{Token: t}); err != nil {
		return fmt.Errorf("put token of tenant %s: %w", t.Tenant, err)
	}
	return nil
}

// TokenGrant is a stored token: its hash (the document id) and what it
// grants. The token itself is never stored, so it cannot be listed.
type TokenGrant struct {
	Hash string
	domain.Token
}

// TenantTokens lists the grants of a tenant's tokens, by hash.
func (s *Store) TenantTokens(ctx context.Context, tenant string) ([]TokenGrant, error) {
	docs, err := s.tokens().Where("tenant", "==", tenant).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", tenant, err)
	}
	return grants(docs)
}

// TokensByKeyID lists the grants whose key has this public id: one, or
// none; more only if two keys drew the same 50 random bits.
func (s *Store) TokensByKeyID(ctx context.Context, id string) ([]TokenGrant, error) {
	docs, err := s.tokens().Where("keyId", "==", id).Limit(2).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("find key %s: %w", id, err)
	}
	return grants(docs)
}

func grants(docs []*firestore.DocumentSnapshot) ([]TokenGrant, error) {
	out := make([]TokenGrant, 0, len(docs))
	for _, d := range docs {
		g := TokenGrant{Hash: d.Ref.ID}
		if err := d.DataTo(&g.Token); err != nil {
			return nil, fmt.Errorf("decode token %s: %w", d.Ref.ID, err)
		}
		g.Version = d.UpdateTime
		out = append(out, g)
	}
	return out, nil
}

// RevokeToken marks the token with this sha256 revoked and returns its
// grant; ErrNotFound when there is none. The document stays, so a revoked
// token can be told from one that never existed, and its changedAt moves
// so every listening instance drops it at once.
func (s *Store) RevokeToken(ctx context.Context, hash string) (domain.Token, error) {
	var t domain.Token
	if !ValidID(hash) {
		return t, ErrNotFound
	}
	ref := s.tokens().Doc(hash)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if t, err = readIn[domain.Token](tx, ref); err != nil {
			return err
		}
		t.Revoked = true
		return tx.Update(ref, []firestore.Update{
			{Path: "revoked", Value: true},
			{Path: "changedAt", Value: firestore.ServerTimestamp},
		})
	}, firestore.MaxAttempts(txAttempts))
	if errors.Is(err, ErrNotFound) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("revoke token: %w", err)
	}
	return t, nil
}

// TouchToken records that the token was used at. The write is
// conditioned on the document being as the caller read it (version, its
// update time): when another instance wrote in between nothing is
// written, so many instances using one key write about once between
// them. It returns the document's new version, zero when it wrote
// nothing.
func (s *Store) TouchToken(ctx context.Context, hash string, at, version time.Time) (time.Time, error) {
	if !ValidID(hash) {
		return time.Time{}, ErrNotFound
	}
	// An update needs the document to exist; the version narrows it to
	// the one read.
	var pre []firestore.Precondition
	if !version.IsZero() {
		pre = append(pre, firestore.LastUpdateTime(version))
	}
	res, err := s.tokens().Doc(hash).Update(ctx, []firestore.Update{{Path: "lastUsedAt", Value: at.UTC()}}, pre...)
	switch status.Code(err) {
	case codes.OK:
		return res.UpdateTime, nil
	case codes.FailedPrecondition, codes.NotFound:
		return time.Time{}, nil
	}
	return time.Time{}, fmt.Errorf("touch token: %w", masked(err))
}

// TokenChange is one key document that changed: its grant as it is now,
// or Gone when it was deleted.
type TokenChange struct {
	Hash  string
	Token domain.Token
	Gone  bool
}

// WatchTokens listens to the keys changed after since and calls fn with
// each snapshot's changes, the first time (possibly with none) once the
// listener is current. A key whose document changed only in its
// lastUsedAt is not a change: every instance touches a key it uses once a
// minute, and reporting each touch would drop the key from every
// instance's cache each time. It returns when ctx ends or the listener
// fails for good; Firestore's client retries passing failures itself.
func (s *Store) WatchTokens(ctx context.Context, since time.Time, fn func([]TokenChange)) error {
	it := s.tokens().Where("changedAt", ">", since).Snapshots(ctx)
	defer it.Stop()
	changedAt := map[string]time.Time{} // as this listener last saw each key
	for {
		snap, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watch tokens: %w", masked(err))
		}
		changes := make([]TokenChange, 0, len(snap.Changes))
		for _, c := range snap.Changes {
			ch := TokenChange{Hash: c.Doc.Ref.ID, Gone: c.Kind == firestore.DocumentRemoved}
			if ch.Gone {
				delete(changedAt, ch.Hash)
			} else {
				var doc tokenDoc
				if err := c.Doc.DataTo(&doc); err != nil {
					// A grant that cannot be read must not stay cached
					// as it was: report it gone.
					ch.Gone = true
				}
				if c.Kind == firestore.DocumentModified && !ch.Gone && doc.ChangedAt.Equal(changedAt[ch.Hash]) {
					continue // only its lastUsedAt moved
				}
				changedAt[ch.Hash] = doc.ChangedAt
				ch.Token, ch.Token.Version = doc.Token, c.Doc.UpdateTime
			}
			changes = append(changes, ch)
		}
		fn(changes)
	}
}
