package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ErrUnknownNumber is returned for a phone number id the sandbox does not
// serve.
var ErrUnknownNumber = errors.New("unknown phone number id")

// RevokeToken revokes a number's access token (revoked true) or restores
// it (false). While revoked, Meta answers 190 to every call made with it,
// whoever the recipient: an access token is the business's, not one
// contact's, which is why the gateway holds the whole channel on 190.
func (s *Sandbox) RevokeToken(phoneNumberID string, revoked bool) error {
	n, ok := s.numbers[phoneNumberID]
	if !ok {
		return fmt.Errorf("revoke token of %s: %w", phoneNumberID, ErrUnknownNumber)
	}
	n.revoked.Store(revoked)
	return nil
}

// tokenRevoked reports whether token is the access token of a number whose
// token is revoked; the template list refuses it as sends do.
func (s *Sandbox) tokenRevoked(token string) bool {
	for _, n := range s.numbers {
		if n.AccessToken == token && n.revoked.Load() {
			return true
		}
	}
	return false
}

// tokenBody is what POST /_sandbox/numbers/{id}/token takes; Revoked is a
// pointer so a body without it is refused rather than read as false.
type tokenBody struct {
	Revoked *bool `json:"revoked"`
}

type tokenAnswer struct {
	PhoneNumberID string `json:"phone_number_id"`
	Revoked       bool   `json:"revoked"`
}

// maxTokenBody bounds the body of a token change: one boolean.
const maxTokenBody = 1 << 10

// handleToken serves POST /_sandbox/numbers/{phoneNumberID}/token,
// RevokeToken over HTTP.
func (s *Sandbox) handleToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("phoneNumberID")
	var b tokenBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Revoked == nil {
		if err == nil {
			err = errors.New(`"revoked" is required`)
		}
		writeError(w, &apiError{status: http.StatusBadRequest, code: 100, message: titles[100],
			details: fmt.Sprintf(`body is not {"revoked": true|false}: %v`, err)})
		return
	}
	if err := s.RevokeToken(id, *b.Revoked); err != nil {
		writeError(w, &apiError{status: http.StatusBadRequest, code: 100, subcode: 33, message: titles[100], details: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, tokenAnswer{PhoneNumberID: id, Revoked: *b.Revoked})
}
