package callback_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/callback"
)

func signed(secret string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set(callback.TimestampHeader, strconv.FormatInt(ts.Unix(), 10))
	h.Set(callback.SignatureHeader, callback.Sign(secret, ts, body))
	return h
}

func TestSignKnownVector(t *testing.T) {
	// Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
	got := callback.Sign("s3cret", time.Unix(1700000000, 0), []byte(`{"a":1}`))
	want := "v1=" + "1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, body := "s3cret", []byte(`{"id":"m1.3","status":"sent"}`)
	at := time.Unix(1700000000, 0)
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"round trip", signed(secret, at, body), body, at.Add(10 * time.Second), nil},
		{"clock slightly behind the sender", signed(secret, at, body), body, at.Add(-time.Minute), nil},
		{"tampered body", signed(secret, at, body), []byte(`{"id":"m1.3","status":"read"}`), at, callback.ErrBadSignature},
		{"wrong secret", signed("other", at, body), body, at, callback.ErrBadSignature},
		{"replayed after the window", signed(secret, at, body), body, at.Add(5*time.Minute + time.Second), callback.ErrStale},
		{"timestamp from the future", signed(secret, at, body), body, at.Add(-6 * time.Minute), callback.ErrStale},
		{"no headers", http.Header{}, body, at, callback.ErrNoSignature},
		{"timestamp not a number", func() http.Header {
			h := signed(secret, at, body)
			h.Set(callback.TimestampHeader, "yesterday")
			return h
		}(), body, at, callback.ErrNoSignature},
		{"fresh timestamp on an old signature", func() http.Header {
			h := signed(secret, at, body)
			h.Set(callback.TimestampHeader, strconv.FormatInt(at.Add(time.Hour).Unix(), 10))
			return h
		}(), body, at.Add(time.Hour), callback.ErrBadSignature},
		{"unknown scheme", func() http.Header {
			h := signed(secret, at, body)
			h.Set(callback.SignatureHeader, "v0="+h.Get(callback.SignatureHeader)[3:])
			return h
		}(), body, at, callback.ErrBadSignature},
		{"not hex", func() http.Header {
			h := signed(secret, at, body)
			h.Set(callback.SignatureHeader, "v1=zz")
			return h
		}(), body, at, callback.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := callback.Verify(secret, tt.header, tt.body, tt.now, 5*time.Minute)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyDefaultTolerance(t *testing.T) {
	at, body := time.Unix(1700000000, 0), []byte("{}")
	h := signed("k", at, body)
	if err := callback.Verify("k", h, body, at.Add(callback.DefaultTolerance-time.Second), 0); err != nil {
		t.Fatalf("inside the default window: %v", err)
	}
	if err := callback.Verify("k", h, body, at.Add(callback.DefaultTolerance+time.Second), 0); !errors.Is(err, callback.ErrStale) {
		t.Fatalf("outside the default window: %v, want ErrStale", err)
	}
}
