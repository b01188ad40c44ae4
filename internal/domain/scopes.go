package domain

import (
	"slices"
	"strings"
	"time"
)

// Scope is one kind of request a key may make (docs/keys.md). Every route
// names the scope it needs and checks it right after authentication, so a
// key outside its scopes reads nothing else.
type Scope string

// The scopes a key can hold.
const (
	// ScopeSend is every send route of every dialect.
	ScopeSend Scope = "send"
	// ScopeReadMessages is the messages API, emkt 50.02, Wati getMessages,
	// batches' progress and usage.
	ScopeReadMessages Scope = "read:messages"
	// ScopeContacts is Wati's contact and chat routes.
	ScopeContacts Scope = "contacts"
	// ScopeConsole is signing in to the web console.
	ScopeConsole Scope = "console"
	// ScopeAdmin is batch control (pause, resume, cancel) and settings
	// through the API.
	ScopeAdmin Scope = "admin"
)

// AllScopes returns every scope, in the order the CLI and docs list them.
func AllScopes() []Scope {
	return []Scope{ScopeSend, ScopeReadMessages, ScopeContacts, ScopeConsole, ScopeAdmin}
}

// ParseScopes reads a comma-separated list of scopes; "all" is every
// scope. Duplicates collapse; an unknown scope or an empty list is a
// KindInvalid error, since a key that may do nothing is a mistake.
func ParseScopes(list string) ([]Scope, error) {
	var out []Scope
	for part := range strings.SplitSeq(list, ",") {
		s := Scope(strings.TrimSpace(part))
		switch {
		case s == "":
			continue
		case s == "all":
			out = append(out, AllScopes()...)
		case slices.Contains(AllScopes(), s):
			out = append(out, s)
		default:
			return nil, Errorf(KindInvalid, "scopes: unknown scope "+string(s)+"; known are "+scopeNames(), "scopes")
		}
	}
	if len(out) == 0 {
		return nil, Errorf(KindInvalid, "scopes: name at least one of "+scopeNames(), "scopes")
	}
	// Keep AllScopes' order, so a key's scopes read the same however
	// they were typed.
	return slices.DeleteFunc(AllScopes(), func(s Scope) bool { return !slices.Contains(out, s) }), nil
}

func scopeNames() string {
	names := make([]string, 0, len(AllScopes()))
	for _, s := range AllScopes() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// Has reports whether the key holds scope s. A token without scopes was
// issued before they existed and keeps every power it had.
func (t Token) Has(s Scope) bool {
	return t.Scopes == nil || slices.Contains(t.Scopes, s)
}

// Require is nil when the key holds one of the scopes (a route some
// scopes share names them all), else a KindForbidden error naming them.
func (t Token) Require(scopes ...Scope) error {
	names := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if t.Has(s) {
			return nil
		}
		names = append(names, string(s))
	}
	return Errorf(KindForbidden, "forbidden: this key lacks the "+strings.Join(names, " or ")+" scope")
}

// AllowsChannel reports whether the key may send from the channel with
// this id.
func (t Token) AllowsChannel(id string) bool {
	return len(t.Channels) == 0 || slices.Contains(t.Channels, id)
}

// RequireChannel is nil when the key may send from the channel, else a
// KindForbidden error: a key limited to some numbers never sends from
// another, named or defaulted to.
func (t Token) RequireChannel(id string) error {
	if t.AllowsChannel(id) {
		return nil
	}
	return Errorf(KindForbidden, "forbidden: this key may not send from channel "+id)
}

// Expired reports whether the key has an expiry and it has passed.
func (t Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// CheckGrant refuses a grant that cannot be stored as meant: an empty
// (not absent) scope list would read back as every scope, and a default
// channel outside the key's channels would refuse every send that names
// none.
func (t Token) CheckGrant() error {
	var errs FieldErrors
	if t.Tenant == "" {
		errs.Add("tenant", "required")
	}
	if t.Scopes != nil && len(t.Scopes) == 0 {
		errs.Add("scopes", "name at least one scope")
	}
	for _, s := range t.Scopes {
		if !slices.Contains(AllScopes(), s) {
			errs.Add("scopes", "unknown scope "+string(s))
		}
	}
	if t.DefaultChannel != "" && !t.AllowsChannel(t.DefaultChannel) {
		errs.Add("defaultChannel", "must be one of the key's channels")
	}
	return errs.Err()
}
