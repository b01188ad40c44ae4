package security_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/webhook"
)

// TestWebhookSignatures: Meta's webhook without X-Hub-Signature-256, with
// a wrong one, one made with another secret, or one of the body before
// it was altered is 401, and the function asks Firestore for nothing (no
// read, no write) and the message it names does not move. The same body
// correctly signed moves it: the refusals were the signature's doing.
func TestWebhookSignatures(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	ctx := context.Background()
	w, _ := g.serve(t, call{fn: fnTemplates, method: http.MethodPost, path: "/", body: atomSend("5511987650042", "x"), header: bearer(apptest.Token)})
	if w.Code != http.StatusAccepted {
		t.Fatalf("send: %d %s", w.Code, w.Body.String())
	}
	id := at(t, w.Body.String(), "data.message_id").(string)
	d := dispatch.New(g.Store, g.Catalog, g.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	if err := d.Dispatch(ctx, queue.Job{Tenant: demo.TenantID, Message: id}); err != nil {
		t.Fatal(err)
	}
	m, err := g.Store.Message(ctx, demo.TenantID, id)
	if err != nil || m.Status != domain.StatusPending {
		t.Fatalf("dispatched message: %+v, %v", m, err)
	}
	body := metaStatus(demo.PhoneNumberID, map[string]any{"id": m.ProviderMessageID, "status": "delivered", "timestamp": unix(time.Now()), "recipient_id": "5511987650042"})
	mac := func(secret, b string) string {
		h := hmac.New(sha256.New, []byte(secret))
		h.Write([]byte(b))
		return hex.EncodeToString(h.Sum(nil))
	}
	good := webhook.Sign(appSecret, []byte(body))
	altered := strings.Replace(body, `"delivered"`, `"read"`, 1)
	for _, c := range []struct {
		name, body, signature string
	}{
		{"no signature", body, ""},
		{"another app's secret", body, "sha256=" + mac("another-app-secret", body)},
		{"altered after signing", altered, good},
		{"body extended after signing", body + " ", good},
		{"signature of the empty body", body, "sha256=" + mac(appSecret, "")},
		{"truncated signature", body, good[:len(good)-2]},
		{"signature without its scheme", body, strings.TrimPrefix(good, "sha256=")},
		{"another scheme", body, "sha1=" + strings.TrimPrefix(good, "sha256=")},
		{"not hex", body, "sha256=" + strings.Repeat("zz", 32)},
		{"scheme only", body, "sha256="},
	} {
		header := []string(nil)
		if c.signature != "" {
			header = []string{webhook.SignatureHeader, c.signature}
		}
		w, rpcs := g.serve(t, call{fn: fnWhatsApp, method: http.MethodPost, path: "/", body: c.body, header: header})
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", c.name, w.Code, w.Body.String())
		}
		if len(rpcs) != 0 {
			t.Errorf("%s: Firestore was asked before the signature held:%s", c.name, describe(rpcs))
		}
	}
	if got, _ := g.Store.Message(ctx, demo.TenantID, id); got.Status != domain.StatusPending {
		t.Errorf("a refused webhook moved the message to %s", got.Status)
	}

	w, rpcs := g.serve(t, call{fn: fnWhatsApp, method: http.MethodPost, path: "/", body: body, header: []string{webhook.SignatureHeader, good}})
	if got, _ := g.Store.Message(ctx, demo.TenantID, id); w.Code != http.StatusOK || len(rpcs) == 0 || got.Status != domain.StatusDelivered {
		t.Errorf("correctly signed: %d %s, %d RPCs, message %s; want 200 and delivered", w.Code, w.Body.String(), len(rpcs), got.Status)
	}
}

// TestCallbackVerify: a tenant's receiver checking a status callback
// with callback.Verify (docs/callbacks.md) accepts it signed with its
// secret within the tolerance, and refuses another secret, an altered
// body, a timestamp changed after signing, a missing or malformed
// signature, and a timestamp outside the tolerance either way (a
// captured request replayed later, or one dated ahead).
func TestCallbackVerify(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-tenant-secret"
	signedAt := time.Unix(1772366402, 0)
	body := []byte(`{"id":"m1.3","type":"message.status","messageId":"m1","status":"read","timestamp":"2026-03-01T12:00:02Z"}`)
	headers := func(secret string, ts time.Time, b []byte) http.Header {
		h := http.Header{}
		h.Set(callback.TimestampHeader, strconv.FormatInt(ts.Unix(), 10))
		h.Set(callback.SignatureHeader, callback.Sign(secret, ts, b))
		return h
	}
	good := headers(secret, signedAt, body)
	restamped := good.Clone()
	restamped.Set(callback.TimestampHeader, strconv.FormatInt(signedAt.Add(time.Hour).Unix(), 10))
	noPrefix := good.Clone()
	noPrefix.Set(callback.SignatureHeader, strings.TrimPrefix(good.Get(callback.SignatureHeader), "v1="))
	noSig := good.Clone()
	noSig.Del(callback.SignatureHeader)
	noTS := good.Clone()
	noTS.Del(callback.TimestampHeader)
	badTS := good.Clone()
	badTS.Set(callback.TimestampHeader, "yesterday")

	for _, c := range []struct {
		name   string
		header http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"signed now", good, body, signedAt, nil},
		{"received within the tolerance", good, body, signedAt.Add(callback.DefaultTolerance), nil},
		{"receiver's clock behind, within the tolerance", good, body, signedAt.Add(-callback.DefaultTolerance), nil},
		{"another secret", headers("another-tenant-secret", signedAt, body), body, signedAt, callback.ErrBadSignature},
		{"altered body", good, append([]byte(nil), strings.Replace(string(body), "read", "sent", 1)...), signedAt, callback.ErrBadSignature},
		{"timestamp changed after signing", restamped, body, signedAt.Add(time.Hour), callback.ErrBadSignature},
		{"replayed past the tolerance", good, body, signedAt.Add(callback.DefaultTolerance + time.Second), callback.ErrStale},
		{"replayed a day later", good, body, signedAt.Add(24 * time.Hour), callback.ErrStale},
		{"dated ahead past the tolerance", good, body, signedAt.Add(-callback.DefaultTolerance - time.Second), callback.ErrStale},
		{"signature without its scheme", noPrefix, body, signedAt, callback.ErrBadSignature},
		{"no signature", noSig, body, signedAt, callback.ErrNoSignature},
		{"no timestamp", noTS, body, signedAt, callback.ErrNoSignature},
		{"timestamp not unix seconds", badTS, body, signedAt, callback.ErrNoSignature},
	} {
		err := callback.Verify(secret, c.header, c.body, c.now, 0)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
	// A tighter tolerance of the receiver's own is honoured.
	if err := callback.Verify(secret, good, body, signedAt.Add(2*time.Minute), time.Minute); !errors.Is(err, callback.ErrStale) {
		t.Errorf("2 minutes late with a 1-minute tolerance: %v, want ErrStale", err)
	}
}
