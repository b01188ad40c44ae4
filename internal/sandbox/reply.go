package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNoWebhook is returned by Reply when no webhook URL is set: the
// contact's message would have nowhere to go.
var ErrNoWebhook = errors.New("sandbox: no webhook URL is set")

// errInvalidReply marks a Reply refused for its arguments.
var errInvalidReply = errors.New("invalid reply")

// maxReplyBody bounds what POST /_sandbox/reply reads.
const maxReplyBody = 64 << 10

// Reply simulates the contact from (digits, country code first) writing
// text to the business number phoneNumberID (empty: the first configured
// number) under the profile name name (empty: from). It is ReplyWith for a
// text message.
func (s *Sandbox) Reply(ctx context.Context, phoneNumberID, from, name, text string) (string, error) {
	return s.ReplyWith(ctx, Inbound{PhoneNumberID: phoneNumberID, From: from, Name: name, Type: "text", Text: text})
}

// ReplyWith simulates a contact's message to a business number. It opens
// the pair's 24 h customer-service window (and, for a contact arriving
// from an ad, the 72 h free entry point window), then posts Meta's
// inbound-message webhook and waits for it to be delivered, retrying like
// a status.
//
// It returns the new message's wamid. When the webhook is not delivered
// the error says why and the wamid is still returned: the contact wrote
// whether or not the receiver took it.
func (s *Sandbox) ReplyWith(ctx context.Context, in Inbound) (string, error) {
	if in.PhoneNumberID == "" && len(s.cfg.Numbers) > 0 {
		in.PhoneNumberID = s.cfg.Numbers[0].PhoneNumberID
	}
	n, ok := s.numbers[in.PhoneNumberID]
	if !ok {
		return "", fmt.Errorf("%w: unknown phone number id %q", errInvalidReply, in.PhoneNumberID)
	}
	if err := in.check(); err != nil {
		return "", err
	}
	to, ok := s.webhook()
	if !ok {
		return "", ErrNoWebhook
	}
	if !s.bg.start() {
		return "", ErrClosed
	}
	defer s.bg.done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.bg.ctx, cancel)()

	now := time.Now()
	contactKey := in.From
	if contactKey == "" {
		contactKey = in.UserID
	}
	k := pairKey{in.PhoneNumberID, contactKey}
	replyTo := in.Context
	if replyTo == "" {
		var sent bool
		if replyTo, sent = s.windows.lastSentTo(k); !sent {
			replyTo = "wamid." + randomID(24)
		}
	}
	// The window opens before the webhook leaves, so a receiver that
	// answers at once already finds it open, as it would at Meta.
	s.windows.inbound(k, now, in.FromAd)
	wamid := "wamid." + randomID(24)
	body, err := payload(n, value{
		Contacts: []contact{{Profile: profile{Name: in.Name}, WAID: in.From, UserID: in.UserID}},
		Messages: []inboundMessage{in.message(n, wamid, replyTo, now)},
	})
	if err != nil {
		return "", fmt.Errorf("%w: %v", errInvalidReply, err)
	}
	rec := Webhook{Kind: "inbound", PhoneNumberID: in.PhoneNumberID, WAMID: wamid, Contact: contactKey}
	if err := s.deliver(ctx, to, rec, body); err != nil {
		return wamid, fmt.Errorf("delivering the inbound message webhook: %w", err)
	}
	return wamid, nil
}

type replyAnswer struct {
	WAMID string `json:"wamid"`
}

// handleReply serves POST /_sandbox/reply, Reply over HTTP.
func (s *Sandbox) handleReply(w http.ResponseWriter, r *http.Request) {
	var b Inbound
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReplyBody))
	// Strict like sends, so a misspelt field fails instead of vanishing.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, &apiError{status: http.StatusBadRequest, code: 100, message: titles[100],
			details: fmt.Sprintf("body is not a valid reply: %v", err)})
		return
	}
	wamid, err := s.ReplyWith(r.Context(), b)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, replyAnswer{WAMID: wamid})
	case errors.Is(err, errInvalidReply), errors.Is(err, ErrNoWebhook):
		writeError(w, &apiError{status: http.StatusBadRequest, code: 100, message: titles[100], details: err.Error()})
	case errors.Is(err, ErrClosed):
		writeError(w, metaError(http.StatusServiceUnavailable, 131000, err.Error()))
	default:
		// The sandbox worked; the receiver did not take the message.
		writeError(w, metaError(http.StatusBadGateway, 131000, fmt.Sprintf("%s (wamid %s)", err, wamid)))
	}
}
