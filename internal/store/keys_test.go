package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// A key's document holds its grant and when it last changed, never the
// key; an empty scope list, which would read back as every scope, is
// refused.
func TestPutToken(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	key, id := domain.NewKey()
	grant := domain.Token{Tenant: "acme", Integration: "erp", KeyID: id, Scopes: []domain.Scope{domain.ScopeSend}, Channels: []string{"main"}}
	if err := s.PutToken(ctx, key, grant); err != nil {
		t.Fatal(err)
	}
	snap, err := fs.Collection("tokens").Doc(store.HashToken(key)).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := snap.Data()
	if at, ok := data["changedAt"].(time.Time); !ok || time.Since(at) > time.Minute {
		t.Errorf("changedAt = %v", data["changedAt"])
	}
	got, err := s.Token(ctx, store.HashToken(key))
	if err != nil || got.KeyID != id || len(got.Scopes) != 1 || got.CreatedAt.IsZero() || !got.Version.Equal(snap.UpdateTime) {
		t.Errorf("Token = %+v, %v", got, err)
	}
	if err := s.PutToken(ctx, "other", domain.Token{Tenant: "acme", Scopes: []domain.Scope{}}); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("empty scopes: %v", err)
	}
}

// A last-used write goes through only if nobody wrote since the version
// read, and does not count as a change listeners must see.
func TestTouchTokenIsConditional(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	if err := s.PutToken(ctx, "k", domain.Token{Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	h := store.HashToken("k")
	read, err := s.Token(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	changed := func() time.Time {
		snap, err := fs.Collection("tokens").Doc(h).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return snap.Data()["changedAt"].(time.Time)
	}
	before := changed()
	at := time.Now().UTC().Truncate(time.Microsecond)
	v, err := s.TouchToken(ctx, h, at, read.Version)
	if err != nil || v.IsZero() {
		t.Fatalf("first touch: %v, %v", v, err)
	}
	// Another instance read the same version: its write is skipped.
	if v2, err := s.TouchToken(ctx, h, at.Add(time.Second), read.Version); err != nil || !v2.IsZero() {
		t.Errorf("stale touch: %v, %v", v2, err)
	}
	got, _ := s.Token(ctx, h)
	if !got.LastUsedAt.Equal(at) || !got.Version.Equal(v) {
		t.Errorf("after the touches: lastUsedAt %v version %v, want %v %v", got.LastUsedAt, got.Version, at, v)
	}
	if !changed().Equal(before) {
		t.Error("a last-used write moved changedAt")
	}
	if v, err := s.TouchToken(ctx, store.HashToken("never"), at, time.Time{}); err != nil || !v.IsZero() {
		t.Errorf("touch of an unknown key: %v, %v", v, err)
	}
}

// The listener reports keys created and revoked after it started, and
// nothing from before its window.
func TestWatchTokens(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.PutToken(ctx, "old", domain.Token{Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	snaps := make(chan []store.TokenChange, 16)
	done := make(chan error, 1)
	since := time.Now() // after the old key was written

	go func() { done <- s.WatchTokens(ctx, since, func(c []store.TokenChange) { snaps <- c }) }()
	next := func() []store.TokenChange {
		t.Helper()
		select {
		case c := <-snaps:
			return c
		case err := <-done:
			t.Fatalf("listener ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no snapshot")
		}
		return nil
	}
	if first := next(); len(first) != 0 {
		t.Errorf("first snapshot %+v, want none changed", first)
	}
	if err := s.PutToken(ctx, "new", domain.Token{Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	if c := next(); len(c) != 1 || c[0].Hash != store.HashToken("new") || c[0].Gone || c[0].Token.Tenant != "acme" {
		t.Errorf("created: %+v", c)
	}
	// A use moves lastUsedAt only: no instance must drop the key for it.
	if v, err := s.TouchToken(ctx, store.HashToken("new"), time.Now(), time.Time{}); err != nil || v.IsZero() {
		t.Fatalf("touch: %v, %v", v, err)
	}
	if c := next(); len(c) != 0 {
		t.Errorf("a use reported as a change: %+v", c)
	}
	if _, err := s.RevokeToken(ctx, store.HashToken("old")); err != nil {
		t.Fatal(err)
	}
	if c := next(); len(c) != 1 || c[0].Hash != store.HashToken("old") || !c[0].Token.Revoked {
		t.Errorf("revoked: %+v", c)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("listener ended with %v, want context.Canceled", err)
	}
}
