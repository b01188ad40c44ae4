package domain_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

func TestParseScopes(t *testing.T) {
	all := domain.AllScopes()
	for _, tc := range []struct {
		in   string
		want []domain.Scope
	}{
		{"send", []domain.Scope{domain.ScopeSend}},
		// AllScopes' order whatever the order typed, duplicates dropped.
		{" read:messages, send ,send,", []domain.Scope{domain.ScopeSend, domain.ScopeReadMessages}},
		{"all", all},
		{"admin,all", all},
		{"contacts,console,admin", []domain.Scope{domain.ScopeContacts, domain.ScopeConsole, domain.ScopeAdmin}},
	} {
		got, err := domain.ParseScopes(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseScopes(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", " , ", "send,write", "Send", "read"} {
		_, err := domain.ParseScopes(bad)
		if de := domainError(t, err); de.Kind != domain.KindInvalid || !strings.Contains(de.Message, "send, read:messages, contacts, console, admin") {
			t.Errorf("ParseScopes(%q): %+v", bad, de)
		}
	}
}

func TestScopesOfATokenFromBeforeScopesAreAll(t *testing.T) {
	legacy := domain.Token{Tenant: "acme"}
	for _, s := range domain.AllScopes() {
		if !legacy.Has(s) || legacy.Require(s) != nil {
			t.Errorf("a token without scopes lacks %s", s)
		}
	}
	if !legacy.AllowsChannel("any") || legacy.RequireChannel("any") != nil {
		t.Error("a token without channels is refused a channel")
	}
}

func TestRequire(t *testing.T) {
	send := domain.Token{Tenant: "acme", Scopes: []domain.Scope{domain.ScopeSend}}
	if err := send.Require(domain.ScopeSend); err != nil {
		t.Errorf("send key, send scope: %v", err)
	}
	if err := send.Require(domain.ScopeReadMessages, domain.ScopeSend); err != nil {
		t.Errorf("send key, a route send or read:messages may use: %v", err)
	}
	de := domainError(t, send.Require(domain.ScopeContacts))
	if de.Kind != domain.KindForbidden || !strings.Contains(de.Message, "contacts scope") {
		t.Errorf("send key, contacts: %+v", de)
	}
	de = domainError(t, send.Require(domain.ScopeReadMessages, domain.ScopeAdmin))
	if !strings.Contains(de.Message, "read:messages or admin scope") {
		t.Errorf("message names both scopes: %q", de.Message)
	}
	if send.Has(domain.ScopeConsole) {
		t.Error("send key has console")
	}
}

func TestRequireChannel(t *testing.T) {
	k := domain.Token{Tenant: "acme", Channels: []string{"main", "sales"}}
	if k.RequireChannel("main") != nil || k.RequireChannel("sales") != nil {
		t.Error("a key's own channel is refused")
	}
	de := domainError(t, k.RequireChannel("support"))
	if de.Kind != domain.KindForbidden || !strings.Contains(de.Message, "support") {
		t.Errorf("another channel: %+v", de)
	}
}

func TestExpired(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if (domain.Token{}).Expired(now) {
		t.Error("a key without expiry expired")
	}
	k := domain.Token{ExpiresAt: now}
	if !k.Expired(now) || k.Expired(now.Add(-time.Nanosecond)) {
		t.Error("a key works up to, not at, its expiry")
	}
}

func TestCheckGrant(t *testing.T) {
	ok := domain.Token{Tenant: "acme", Scopes: []domain.Scope{domain.ScopeSend}, Channels: []string{"main"}, DefaultChannel: "main"}
	if err := ok.CheckGrant(); err != nil {
		t.Errorf("valid grant: %v", err)
	}
	if err := (domain.Token{Tenant: "acme"}).CheckGrant(); err != nil {
		t.Errorf("grant without scopes (all): %v", err)
	}
	for name, tc := range map[string]struct {
		tok   domain.Token
		field string
	}{
		// Stored, an empty list would read back as absent: every scope.
		"empty scopes":        {domain.Token{Tenant: "acme", Scopes: []domain.Scope{}}, "scopes"},
		"unknown scope":       {domain.Token{Tenant: "acme", Scopes: []domain.Scope{"write"}}, "scopes"},
		"default outside":     {domain.Token{Tenant: "acme", Channels: []string{"main"}, DefaultChannel: "sales"}, "defaultChannel"},
		"no tenant":           {domain.Token{}, "tenant"},
		"default, no channel": {domain.Token{Tenant: "acme", DefaultChannel: "sales"}, ""},
	} {
		err := tc.tok.CheckGrant()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if de := domainError(t, err); de.Kind != domain.KindInvalid || !reflect.DeepEqual(de.Fields, []string{tc.field}) {
			t.Errorf("%s: %+v", name, de)
		}
	}
}

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		key, id := domain.NewKey()
		if !strings.HasPrefix(key, domain.KeyPrefix+id+"_") || len(key) != len("tgw_")+10+1+52 {
			t.Fatalf("key %q, id %q", key, id)
		}
		if domain.KeyIDOf(key) != id {
			t.Fatalf("KeyIDOf(%q) = %q, want %q", key, domain.KeyIDOf(key), id)
		}
		if seen[key] || seen[id] {
			t.Fatalf("key or id drawn twice: %q", key)
		}
		seen[key], seen[id] = true, true
	}
	key, _ := domain.NewKey()
	for _, notKey := range []string{"", "demo-token", "tgw_" + strings.Repeat("A", 43), strings.ToUpper(key), key + "a", key[:len(key)-1], " " + key} {
		if id := domain.KeyIDOf(notKey); id != "" {
			t.Errorf("KeyIDOf(%q) = %q, want none", notKey, id)
		}
	}
}
