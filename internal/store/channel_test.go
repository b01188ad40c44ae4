package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

func TestPutChannelOwnsItsPhoneNumberID(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	a := domain.Channel{ID: "main", PhoneNumberID: "100", Connected: true}
	if err := s.PutChannel(ctx, "t1", a); err != nil {
		t.Fatal(err)
	}
	if err := s.PutChannel(ctx, "t1", a); err != nil {
		t.Fatalf("putting a channel again: %v", err)
	}
	// Another tenant's channel, or another channel of the same tenant,
	// cannot take the number's webhooks.
	for _, tc := range []struct{ tenant, id string }{{"t2", "main"}, {"t1", "other"}} {
		err := s.PutChannel(ctx, tc.tenant, domain.Channel{ID: tc.id, PhoneNumberID: "100"})
		if !errors.Is(err, store.ErrPhoneNumberTaken) {
			t.Errorf("%s/%s took phone number id 100: %v", tc.tenant, tc.id, err)
		}
	}
	if l, err := s.Line(ctx, "100"); err != nil || l != (store.Line{Tenant: "t1", Channel: "main"}) {
		t.Fatalf("line 100 = %+v, %v", l, err)
	}
	// Moving the channel to another number frees the old one.
	a.PhoneNumberID = "200"
	if err := s.PutChannel(ctx, "t1", a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Line(ctx, "100"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old line still there: %v", err)
	}
	if err := s.PutChannel(ctx, "t2", domain.Channel{ID: "main", PhoneNumberID: "100"}); err != nil {
		t.Errorf("the freed number: %v", err)
	}
	if n := count(t, fs, "phoneNumbers"); n != 2 {
		t.Errorf("%d phone number entries, want 2", n)
	}
}
