package domain

import (
	"errors"
	"strings"
	"time"
)

// Kind classifies a domain error; each dialect maps kinds to its own status
// codes in one table.
type Kind int

// The kinds of domain error.
const (
	KindInternal            Kind = iota // anything unexpected: 500, details only in logs
	KindNoData                          // empty body or not JSON
	KindInvalid                         // a field has a bad value or type
	KindParamsMissing                   // template placeholders without a value
	KindTemplate                        // template unknown, or without a body
	KindChannelNotConnected             // the sending channel is not connected
	KindUnauthorized                    // bad or missing token
	KindLimitReached                    // the plan's conversation limit
	KindNotFound                        // the resource does not exist for this tenant
	KindInFlight                        // same idempotency key, first request still running
	KindKeyReused                       // same idempotency key, different request
	KindForbidden                       // a valid key outside its scopes or channels
	KindConflict                        // the resource's state does not allow the operation (a cancelled broadcast resumed)
	KindRateLimited                     // the tenant's requests per second on the send routes: 429 with Retry-After
)

// Error is a domain error: a kind, a human message naming the problem and,
// for invalid input, the fields concerned.
type Error struct {
	Kind    Kind
	Message string
	Fields  []string
	// RetryAfter, when positive, is how long the client should wait
	// before trying again; dialects send it as Retry-After.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// Errorf builds a domain error of kind k.
func Errorf(k Kind, msg string, fields ...string) *Error {
	return &Error{Kind: k, Message: msg, Fields: fields}
}

// RateLimited is the refusal of a request over its tenant's requests per
// second, telling the client to come back after retry.
func RateLimited(retry time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Message: "too many requests: over this tenant's requests per second; retry later", RetryAfter: retry}
}

// RetryAfter returns how long err asks the client to wait before trying
// again, and whether it asks at all.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// KindOf returns the kind of err, KindInternal when it is not a domain error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// FieldErrors collects invalid-field problems so one answer names them all.
type FieldErrors struct {
	fields []string
	msgs   []string
}

// Add records that field is invalid because of msg.
func (f *FieldErrors) Add(field, msg string) {
	f.fields = append(f.fields, field)
	f.msgs = append(f.msgs, field+": "+msg)
}

// Err is nil when nothing was added, else a KindInvalid error naming every
// field.
func (f *FieldErrors) Err() error {
	if len(f.fields) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Message: "invalid fields: " + strings.Join(f.msgs, "; "), Fields: f.fields}
}
