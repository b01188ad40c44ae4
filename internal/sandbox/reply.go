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
// number) under the profile name name (empty: from). It opens the pair's
// 24 h customer-service window, so the next conversation opened with the
// contact has origin service, then posts Meta's inbound-message webhook and
// waits for it to be delivered, retrying like a status.
//
// It returns the new message's wamid. When the webhook is not delivered
// the error says why and the wamid is still returned: the contact wrote
// whether or not the receiver took it.
func (s *Sandbox) Reply(ctx context.Context, phoneNumberID, from, name, text string) (string, error) {
	if phoneNumberID == "" && len(s.cfg.Numbers) > 0 {
		phoneNumberID = s.cfg.Numbers[0].PhoneNumberID
	}
	n, ok := s.numbers[phoneNumberID]
	switch {
	case !ok:
		return "", fmt.Errorf("%w: unknown phone number id %q", errInvalidReply, phoneNumberID)
	case !isPhone(from):
		return "", fmt.Errorf("%w: from must be the contact's number in digits, country code first, 5 to 15 digits", errInvalidReply)
	case text == "":
		return "", fmt.Errorf("%w: text is required", errInvalidReply)
	}
	if name == "" {
		name = from
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
	// The window opens before the webhook leaves, so a receiver that
	// answers at once already finds it open, as it would at Meta.
	s.convs.inbound(pairKey{phoneNumberID, from}, now)
	wamid := "wamid." + randomID(24)
	body := payload(n, value{
		Contacts: []contact{{Profile: profile{Name: name}, WAID: from}},
		Messages: []inboundText{{From: from, ID: wamid, Timestamp: unixString(now), Type: "text", Text: textBody{Body: text}}},
	})
	rec := Webhook{Kind: "inbound", PhoneNumberID: phoneNumberID, WAMID: wamid, Contact: from}
	if err := s.deliver(ctx, to, rec, body); err != nil {
		return wamid, fmt.Errorf("delivering the inbound message webhook: %w", err)
	}
	return wamid, nil
}

type replyBody struct {
	From          string `json:"from"`
	Text          string `json:"text"`
	Name          string `json:"name"`
	PhoneNumberID string `json:"phone_number_id"`
}

type replyAnswer struct {
	WAMID string `json:"wamid"`
}

// handleReply serves POST /_sandbox/reply, Reply over HTTP.
func (s *Sandbox) handleReply(w http.ResponseWriter, r *http.Request) {
	var b replyBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReplyBody))
	// Strict like sends, so a misspelt field fails instead of vanishing.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, &apiError{status: http.StatusBadRequest, code: 100, message: titles[100],
			details: fmt.Sprintf("body is not a valid reply: %v", err)})
		return
	}
	wamid, err := s.Reply(r.Context(), b.PhoneNumberID, b.From, b.Name, b.Text)
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
