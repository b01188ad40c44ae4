package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// webhookTimeout bounds one webhook POST. Meta expects an answer within a
// few seconds and treats a slow one as a failure to retry.
const webhookTimeout = 10 * time.Second

// Webhook is one attempt to post a webhook, whatever its outcome.
type Webhook struct {
	At            time.Time `json:"at"`
	Kind          string    `json:"kind"` // "status" or "inbound"
	PhoneNumberID string    `json:"phone_number_id"`
	// WAMID is the message the webhook is about: the send's for a status,
	// the contact's new message for an inbound.
	WAMID string `json:"wamid"`
	// Status is sent, delivered, read or failed; empty for an inbound.
	Status string `json:"status,omitempty"`
	// Contact is a status's recipient or an inbound message's sender.
	Contact      string `json:"contact"`
	CallbackData string `json:"callback_data,omitempty"`
	// Attempt counts from 1; a webhook that failed every attempt was given
	// up on.
	Attempt int `json:"attempt"`
	// HTTPStatus is the receiver's answer, 0 when none arrived; Error says
	// why then. Only 200 counts as delivered, as at Meta.
	HTTPStatus int    `json:"http_status,omitempty"`
	Error      string `json:"error,omitempty"`
	// Body is the webhook exactly as posted, and Signature its
	// X-Hub-Signature-256, so a receiver's verification can be replayed.
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

// webhookTarget is where webhooks go and how they are signed.
type webhookTarget struct {
	url    string
	secret string
}

// SetWebhook sets the URL webhooks are posted to and the app secret that
// signs them, replacing Config.WebhookURL and Config.AppSecret; an empty
// secret means DefaultAppSecret, an empty URL stops webhooks. It applies
// to sends and replies from then on. It is safe for concurrent use.
func (s *Sandbox) SetWebhook(url, appSecret string) {
	if appSecret == "" {
		appSecret = DefaultAppSecret
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = webhookTarget{url: url, secret: appSecret}
}

func (s *Sandbox) webhook() (webhookTarget, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hook, s.hook.url != ""
}

// Webhooks returns a copy of every webhook post attempt, in the order they
// finished.
func (s *Sandbox) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, len(s.webhooks))
	copy(out, s.webhooks)
	return out
}

func (s *Sandbox) recordWebhook(w Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhooks = append(s.webhooks, w)
}

func newWebhookClient() *http.Client {
	// A transport of its own, so Close can drop its idle connections
	// without touching anyone else's.
	return &http.Client{
		Timeout:   webhookTimeout,
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
	}
}

// deliver posts body to the target until it answers 200, at most
// WebhookAttempts times with a doubling back-off, recording every attempt
// as rec.
func (s *Sandbox) deliver(ctx context.Context, to webhookTarget, rec Webhook, body []byte) error {
	sig := sign(body, to.secret)
	rec.Body, rec.Signature = string(body), sig
	backoff := s.cfg.WebhookRetryDelay
	var err error
	for attempt := 1; attempt <= s.cfg.WebhookAttempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, backoff); err != nil {
				return err
			}
			backoff *= 2
		}
		var code int
		code, err = s.post(ctx, to.url, sig, body)
		rec.At, rec.Attempt, rec.HTTPStatus, rec.Error = time.Now(), attempt, code, ""
		if code == 0 && err != nil {
			rec.Error = err.Error()
		}
		s.recordWebhook(rec)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("posting to %s: gave up after %d attempts: %w", to.url, s.cfg.WebhookAttempts, err)
}

// post makes one attempt and returns the receiver's status code, 0 when it
// never answered.
func (s *Sandbox) post(ctx context.Context, url, sig string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// The start of the answer says why a receiver refused; the rest is
	// drained so the connection can be reused.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("the receiver answered %d: %s", resp.StatusCode, bytes.TrimSpace(head))
	}
	return resp.StatusCode, nil
}

// sign is Meta's X-Hub-Signature-256 value for body.
func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// The webhook payload, in Meta's v24.0 shape (REFERENCE §3 and §8).
type (
	envelope struct {
		Object string  `json:"object"`
		Entry  []entry `json:"entry"`
	}
	entry struct {
		ID      string   `json:"id"`
		Changes []change `json:"changes"`
	}
	change struct {
		Field string `json:"field"`
		Value value  `json:"value"`
	}
	value struct {
		MessagingProduct string           `json:"messaging_product"`
		Metadata         metadata         `json:"metadata"`
		Contacts         []contact        `json:"contacts,omitempty"`
		Messages         []inboundMessage `json:"messages,omitempty"`
		Statuses         []statusUpdate   `json:"statuses,omitempty"`
	}
	metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	}
	contact struct {
		Profile profile `json:"profile"`
		// WAID is absent for a user known only by their business-scoped
		// user id.
		WAID   string `json:"wa_id,omitempty"`
		UserID string `json:"user_id,omitempty"`
	}
	profile struct {
		Name string `json:"name"`
	}
	statusUpdate struct {
		ID           string        `json:"id"`
		Status       string        `json:"status"`
		Timestamp    string        `json:"timestamp"`
		RecipientID  string        `json:"recipient_id"`
		CallbackData string        `json:"biz_opaque_callback_data,omitempty"`
		Pricing      *pricing      `json:"pricing,omitempty"`
		Errors       []statusError `json:"errors,omitempty"`
	}
	pricing struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Category     string `json:"category"`
		Type         string `json:"type"`
	}
	statusError struct {
		Code      int             `json:"code"`
		Title     string          `json:"title"`
		Message   string          `json:"message"`
		ErrorData statusErrorData `json:"error_data"`
	}
	statusErrorData struct {
		Details string `json:"details"`
	}
)

// payload wraps v in the envelope of n's WhatsApp Business Account,
// encoded as Meta encodes what it signs.
func payload(n *number, v value) ([]byte, error) {
	v.MessagingProduct = "whatsapp"
	v.Metadata = metadata{DisplayPhoneNumber: n.DisplayPhoneNumber, PhoneNumberID: n.PhoneNumberID}
	return metaJSON(envelope{
		Object: "whatsapp_business_account",
		Entry:  []entry{{ID: n.WABAID, Changes: []change{{Field: "messages", Value: v}}}},
	})
}

// unixString is t as Meta's webhooks write times: unix seconds in a string.
func unixString(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10)
}
