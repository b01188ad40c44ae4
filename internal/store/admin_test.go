package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

func TestCreateTenantNeverReplaces(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	first := domain.Tenant{ID: "acme", Name: "Acme", CountryCode: "55", CallbackSecret: "s1"}
	if err := s.CreateTenant(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(ctx, domain.Tenant{ID: "acme", Name: "Other"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	got, err := s.Tenant(ctx, "acme")
	if err != nil || !reflect.DeepEqual(got, first) {
		t.Fatalf("tenant = %+v (%v), want %+v untouched", got, err, first)
	}
	if err := s.CreateTenant(ctx, domain.Tenant{ID: "a/b"}); err == nil {
		t.Error("created a tenant whose id has a slash")
	}
	if err := s.CreateTenant(ctx, domain.Tenant{ID: "beta", Name: "Beta"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTenants(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "acme" || list[1].ID != "beta" || list[0].CallbackSecret != "s1" {
		t.Fatalf("ListTenants = %+v, %v", list, err)
	}
}

func TestRevokeToken(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	grant := domain.Token{Tenant: "acme", Integration: "crm"}
	if err := s.PutToken(ctx, "tok-1", grant); err != nil {
		t.Fatal(err)
	}
	if err := s.PutToken(ctx, "tok-2", domain.Token{Tenant: "beta", Integration: "erp"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RevokeToken(ctx, store.HashToken("tok-1"))
	if err != nil || got.Integration != "crm" || !got.Revoked {
		t.Fatalf("RevokeToken = %+v, %v", got, err)
	}
	if stored, err := s.Token(ctx, store.HashToken("tok-1")); err != nil || !stored.Revoked || stored.Integration != "crm" {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	if _, err := s.RevokeToken(ctx, store.HashToken("never-issued")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking an unknown hash: %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeToken(ctx, "a/b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking an impossible hash: %v, want ErrNotFound", err)
	}
	list, err := s.TenantTokens(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].Hash != store.HashToken("tok-1") || !list[0].Revoked {
		t.Fatalf("TenantTokens(acme) = %+v, %v", list, err)
	}
}

func TestSetDefaultChannelLeavesOneDefault(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c"} {
		c := domain.Channel{ID: id, PhoneNumberID: fmt.Sprint(500 + i), Default: id == "a", Connected: true}
		if err := s.PutChannel(ctx, "t1", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetDefaultChannel(ctx, "t1", "c"); err != nil {
		t.Fatal(err)
	}
	list, err := s.Channels(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.Default != (c.ID == "c") || !c.Connected {
			t.Errorf("channel %s default=%t connected=%t", c.ID, c.Default, c.Connected)
		}
	}
	if err := s.SetDefaultChannel(ctx, "t1", "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown channel: %v, want ErrNotFound", err)
	}
}

func TestPutTemplatesOverOneCommit(t *testing.T) {
	s, fs := newStore(t)
	ctx := context.Background()
	var ts []domain.Template
	for i := range 620 {
		ts = append(ts, domain.Template{ID: fmt.Sprintf("t%03d", i), Name: fmt.Sprintf("t%03d", i), Language: "en_US", Status: "APPROVED",
			Components: []domain.TemplateComponent{{Type: "BODY", Text: "hi {{1}}"}}})
	}
	if err := s.PutTemplates(ctx, "t1", ts); err != nil {
		t.Fatal(err)
	}
	if n := count(t, fs, "tenants/t1/templates"); n != 620 {
		t.Fatalf("%d templates, want 620", n)
	}
	got, err := s.Template(ctx, "t1", "t619")
	if err != nil || got.Body() != "hi {{1}}" {
		t.Fatalf("t619 = %+v, %v", got, err)
	}
	bad := []domain.Template{{ID: "fresh", Name: "fresh"}, {ID: "a/b"}}
	if err := s.PutTemplates(ctx, "t2", bad); err == nil {
		t.Fatal("stored a template with an impossible id")
	}
	if n := count(t, fs, "tenants/t2/templates"); n != 0 {
		t.Errorf("%d templates written by a refused call, want 0", n)
	}
}
