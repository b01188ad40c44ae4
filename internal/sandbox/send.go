package sandbox

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// maxSendBody bounds what the sandbox reads of a send; a template send is a
// few kilobytes.
const maxSendBody = 1 << 20

var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

type sendAnswer struct {
	MessagingProduct string          `json:"messaging_product"`
	Contacts         []answerContact `json:"contacts"`
	Messages         []answerMessage `json:"messages"`
}

type answerContact struct {
	Input string `json:"input"`
	WAID  string `json:"wa_id"`
}

type answerMessage struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status"`
}

// handleSend serves POST /{version}/{phone-number-id}/messages. Every call
// is recorded, whatever its outcome, because tests count attempts.
func (s *Sandbox) handleSend(w http.ResponseWriter, r *http.Request) {
	req := Request{At: time.Now(), Version: r.PathValue("version"), PhoneNumberID: r.PathValue("phoneNumberID")}
	e, hold := s.admit(r, &req)
	if e != nil {
		req.Status, req.ErrorCode = e.status, e.code
		s.record(req)
		writeError(w, e)
		return
	}
	req.Status = http.StatusOK
	req.WAMID = "wamid." + randomID(24)
	// Recorded before any hold: the message is accepted the moment Meta
	// decides so, whether or not the answer ever reaches the client.
	s.record(req)
	s.afterAccept(req)
	if hold {
		s.hold(r)
	}
	if answersError(req.To) {
		writeError(w, metaError(500, 131000, "the sandbox accepted this send, then answered an error"))
		return
	}
	writeMeta(w, http.StatusOK, sendAnswer{
		MessagingProduct: "whatsapp",
		Contacts:         []answerContact{{Input: req.To, WAID: req.To}},
		Messages:         []answerMessage{{ID: req.WAMID, MessageStatus: "accepted"}},
	})
}

// admit decides a send in the order Meta's checks run and fills req with
// what the body says. hold asks for the answer to be held (…0003).
func (s *Sandbox) admit(r *http.Request, req *Request) (e *apiError, hold bool) {
	// The body is read first, even for calls that fail authorisation, so
	// the request log shows who every call was meant for.
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxSendBody))
	req.Body = string(body)
	b, parseErr := parseSend(body)
	if err != nil {
		parseErr = fmt.Errorf("reading the body: %w", err)
	}
	if parseErr == nil {
		req.To, req.CallbackData, req.Type = b.To, b.CallbackData, b.Type
		if b.Template != nil {
			req.Template = b.Template.message()
		}
		if b.Text != nil {
			req.Text = b.Text.Body
		}
	} else {
		req.To, req.CallbackData = salvage(body)
	}

	if !versionPattern.MatchString(req.Version) {
		return &apiError{status: 400, code: 100, message: titles[100],
			details: fmt.Sprintf("unsupported API version %q; the path starts with a version such as v24.0", req.Version)}, false
	}
	n, ok := s.numbers[req.PhoneNumberID]
	if !ok {
		return &apiError{status: 400, code: 100, subcode: 33,
			message: fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", req.PhoneNumberID),
			details: "unknown phone number id"}, false
	}
	if n.revoked.Load() || !authorized(r, n.AccessToken) {
		return tokenError(), false
	}
	if parseErr != nil {
		return &apiError{status: 400, code: 100, message: titles[100], details: parseErr.Error()}, false
	}
	if !n.limiter.Load().Allow() {
		return metaError(429, 130429, fmt.Sprintf("the phone number is over its throughput of %d messages per second", n.MessagesPerSecond)), false
	}
	if e := s.checkContent(n, req); e != nil {
		return e, false
	}
	if e, hold = s.inject(req.To); e != nil {
		return e, false
	}
	if !s.pairs.allow(req.PhoneNumberID, req.To, time.Now()) {
		return metaError(400, 131056, "too many messages to this recipient from this phone number in a short time"), false
	}
	return nil, hold
}

// checkContent checks what the send carries: a template against the
// WABA's templates, a text against the recipient's customer-service window,
// which only the recipient's own message opens (Reply).
func (s *Sandbox) checkContent(n *number, req *Request) *apiError {
	if req.Type == "text" {
		if !s.windows.serviceOpen(pairKey{req.PhoneNumberID, req.To}, time.Now()) {
			return metaError(400, 131047, "more than 24 hours have passed since the recipient last replied to this number: a free-form message needs an open customer-service window")
		}
		return nil
	}
	t, e := s.wabas[n.WABAID].lookup(req.Template.Name, req.Template.Language.Code)
	if e != nil {
		return e
	}
	return checkTemplate(t, req.Template)
}

func authorized(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func tokenError() *apiError {
	return &apiError{status: 401, code: 190, message: titles[190],
		details: "the access token is invalid or has expired"}
}

// hold keeps the answer back for TimeoutDelay, simulating Meta accepting a
// send whose answer never reaches the client. When the request's context
// ends first (the client gave up, or the server is shutting down) the
// connection is dropped with no answer at all: an empty 200 would tell the
// client more than a real timeout does.
func (s *Sandbox) hold(r *http.Request) {
	t := time.NewTimer(s.cfg.TimeoutDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		panic(http.ErrAbortHandler)
	}
}
