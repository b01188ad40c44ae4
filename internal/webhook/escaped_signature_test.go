package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/webhook"
)

// rawRecorder keeps the last body posted to the handler it wraps, byte
// for byte, with its signature.
type rawRecorder struct {
	h   http.Handler
	mu  sync.Mutex
	raw []byte
	sig string
}

func (r *rawRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.raw, r.sig = body, req.Header.Get(webhook.SignatureHeader)
	r.mu.Unlock()
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.h.ServeHTTP(w, req)
}

func (r *rawRecorder) last() ([]byte, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raw, r.sig
}

// TestMetaEscapedWebhookIsVerifiedOverItsRawBytes: Meta writes webhook
// JSON with non-ASCII characters escaped (lowercase \uXXXX, surrogate
// pairs for astral characters) and signs exactly those bytes. The sandbox
// posts an inbound message that way from a contact named José Ñandú 😀; the
// gateway takes it, so it checked the signature over the raw bytes (over
// its own re-encoding the signature would not hold), refuses the same
// content with the signature moved to any other encoding, and stores the
// name and text unescaped.
func TestMetaEscapedWebhookIsVerifiedOverItsRawBytes(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	rec := &rawRecorder{h: webhook.New(webhook.Config{VerifyToken: verifyToken, AppSecret: appSecret}, e.Catalog, e.Store, nil).Handler()}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	e.Sandbox.SetWebhook(srv.URL, appSecret)

	const (
		phone = "5511987650190"
		name  = "José Ñandú 😀"
		text  = "Olá! Dá para trocar o pedido 12/34? 👋"
	)
	wamid, err := e.Sandbox.Reply(ctx, demo.PhoneNumberID, phone, name, text)
	if err != nil {
		t.Fatalf("the gateway refused Meta's escaped webhook: %v", err)
	}

	raw, sig := rec.last()
	for _, escaped := range []string{`"name":"Jos\u00e9 \u00d1and\u00fa \ud83d\ude00"`, `Ol\u00e1! D\u00e1 para trocar o pedido 12\/34? \ud83d\udc4b`} {
		if !bytes.Contains(raw, []byte(escaped)) {
			t.Fatalf("posted body %s lacks %s: the test would not test Meta's encoding", raw, escaped)
		}
	}
	if sig != webhook.Sign(appSecret, raw) {
		t.Fatalf("signature %s is not over the posted bytes", sig)
	}

	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	reencoded, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(reencoded, raw) || !strings.Contains(string(reencoded), name) {
		t.Fatalf("re-encoding gave %s: it must differ from Meta's bytes for the test to mean anything", reencoded)
	}
	for what, try := range map[string]struct {
		body []byte
		sig  string
	}{
		"Meta's signature over a re-encoded body": {reencoded, sig},
		"Meta's body signed as re-encoded":        {raw, webhook.Sign(appSecret, reencoded)},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(try.body))
		r.Header.Set(webhook.SignatureHeader, try.sig)
		w := httptest.NewRecorder()
		rec.h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", what, w.Code)
		}
	}

	c, err := e.Store.Contact(ctx, e.Tenant, phone)
	if err != nil {
		t.Fatal(err)
	}
	if c.ProfileName != name {
		t.Errorf("stored profile name %q, want %q", c.ProfileName, name)
	}
	snap, err := e.Firestore.Collection("tenants").Doc(e.Tenant).Collection("inbound").Doc(wamid).Get(ctx)
	if err != nil {
		t.Fatalf("inbound message %s: %v", wamid, err)
	}
	if got, _ := snap.Data()["text"].(string); got != text {
		t.Errorf("stored text %q, want %q", got, text)
	}
	if got, _ := snap.Data()["profileName"].(string); got != name {
		t.Errorf("stored inbound profile name %q, want %q", got, name)
	}
}
