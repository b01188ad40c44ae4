package sandbox_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/metaspec"
	"github.com/templategw/templategw/internal/sandbox"
)

const testSecret = "test-app-secret"

// hookConfig is the demo sandbox posting webhooks to url with delays short
// enough for tests.
func hookConfig(url string) sandbox.Config {
	cfg := sandbox.Default()
	cfg.WebhookURL, cfg.AppSecret = url, testSecret
	cfg.WebhookDelay, cfg.WebhookRetryDelay = time.Millisecond, time.Millisecond
	return cfg
}

// receiver is a webhook endpoint that records every post and refuses the
// first few with a 500.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []received
	refuse int
}

type received struct {
	at    time.Time
	body  []byte
	sig   string
	ctype string
}

func newReceiver(t *testing.T, refuse int) *receiver {
	t.Helper()
	rc := &receiver{refuse: refuse}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.posts = append(rc.posts, received{time.Now(), body, r.Header.Get("X-Hub-Signature-256"), r.Header.Get("Content-Type")})
		if len(rc.posts) <= rc.refuse {
			http.Error(w, "refused on purpose", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.posts...)
}

// settle waits for every pending delivery.
func settle(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sb.Idle(ctx); err != nil {
		t.Fatalf("deliveries still pending after 5s: %v", err)
	}
}

// metaHook is Meta's webhook body as a receiver reads it. It is decoded
// strictly, so a field the sandbox misnames fails the test.
type metaHook struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string    `json:"field"`
			Value hookValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type hookValue struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WAID   string `json:"wa_id"`
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []hookMessage `json:"messages"`
	Statuses []hookStatus  `json:"statuses"`
}

// hookMessage is an inbound message; the objects of types other than text
// are kept raw for the tests that look into them.
type hookMessage struct {
	Context    json.RawMessage `json:"context"`
	From       string          `json:"from"`
	FromUserID string          `json:"from_user_id"`
	ID         string          `json:"id"`
	Timestamp  string          `json:"timestamp"`
	Type       string          `json:"type"`
	Text       *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image       json.RawMessage `json:"image"`
	Video       json.RawMessage `json:"video"`
	Audio       json.RawMessage `json:"audio"`
	Document    json.RawMessage `json:"document"`
	Sticker     json.RawMessage `json:"sticker"`
	Button      json.RawMessage `json:"button"`
	Interactive json.RawMessage `json:"interactive"`
	Reaction    json.RawMessage `json:"reaction"`
	Location    json.RawMessage `json:"location"`
	Contacts    json.RawMessage `json:"contacts"`
	Referral    json.RawMessage `json:"referral"`
}

type hookStatus struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Timestamp    string `json:"timestamp"`
	RecipientID  string `json:"recipient_id"`
	CallbackData string `json:"biz_opaque_callback_data"`
	Pricing      *struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Category     string `json:"category"`
		Type         string `json:"type"`
	} `json:"pricing"`
	Errors []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"errors"`
}

// envelopeOf checks what every post must be (signed with secret, encoded
// as Meta encodes, valid against Meta's WebhookPayload, the demo WABA's
// envelope) and returns its value.
func envelopeOf(t *testing.T, p received, secret string) hookValue {
	t.Helper()
	checkMetaEncoded(t, p.body)
	if err := metaSpec(t).Validate(metaspec.Webhook, p.body); err != nil {
		t.Errorf("webhook %s: %v", p.body, err)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(p.body)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(p.sig), []byte(want)) {
		t.Fatalf("signature %q, want %q over the raw body %s", p.sig, want, p.body)
	}
	if p.ctype != "application/json" {
		t.Errorf("Content-Type %q, want application/json", p.ctype)
	}
	var h metaHook
	dec := json.NewDecoder(bytes.NewReader(p.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("body %s: %v", p.body, err)
	}
	if h.Object != "whatsapp_business_account" || len(h.Entry) != 1 || h.Entry[0].ID != demo.WABAID ||
		len(h.Entry[0].Changes) != 1 || h.Entry[0].Changes[0].Field != "messages" {
		t.Fatalf("envelope %s is not Meta's", p.body)
	}
	v := h.Entry[0].Changes[0].Value
	if v.MessagingProduct != "whatsapp" || v.Metadata.PhoneNumberID != demo.PhoneNumberID ||
		v.Metadata.DisplayPhoneNumber != demo.DisplayNumber {
		t.Errorf("value %s: want the demo number's metadata", p.body)
	}
	return v
}

// statuses opens every post and returns their statuses in arrival order.
func statuses(t *testing.T, rc *receiver) []hookStatus {
	t.Helper()
	var out []hookStatus
	for _, p := range rc.received() {
		v := envelopeOf(t, p, testSecret)
		if len(v.Statuses) != 1 || len(v.Messages) != 0 {
			t.Fatalf("post %s: want exactly one status", p.body)
		}
		out = append(out, v.Statuses[0])
	}
	return out
}

// checkTimestamp fails unless ts is unix seconds within [from, now].
func checkTimestamp(t *testing.T, what, ts string, from time.Time) {
	t.Helper()
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n < from.Unix() || n > time.Now().Unix() {
		t.Errorf("%s timestamp %q, want unix seconds between %d and now", what, ts, from.Unix())
	}
}

// alertaBody is a valid send of the demo's MARKETING template alerta1.
func alertaBody(to string) string {
	return `{"messaging_product":"whatsapp","to":"` + to + `","type":"template",
"template":{"name":"alerta1","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"Maria"}]}]}}`
}

func metaSpec(t *testing.T) *metaspec.Spec {
	t.Helper()
	s, err := metaspec.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkMetaEncoded fails unless body is ASCII with every "/" escaped, as
// Meta writes what it signs.
func checkMetaEncoded(t *testing.T, body []byte) {
	t.Helper()
	for i, c := range body {
		if c >= 0x80 || (c == '/' && (i == 0 || body[i-1] != '\\')) {
			t.Errorf("byte %d of %s is %q: Meta escapes non-ASCII characters and slashes", i, body, c)
			return
		}
	}
}
