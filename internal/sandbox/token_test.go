package sandbox_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/sandbox"
)

// setToken posts a token change and returns the answer.
func setToken(t *testing.T, srv *httptest.Server, phoneNumberID, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/_sandbox/numbers/"+phoneNumberID+"/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// TestRevokedTokenRefusesEverySend: while a number's token is revoked,
// every send through it gets 190, whoever the recipient and whatever the
// failure table would say; restored, the same sends go through.
func TestRevokedTokenRefusesEverySend(t *testing.T) {
	sb, srv := serve(t, sandbox.Default())
	recipients := []string{"5511987650000", "5511900000001", "5511900000009", "5511900000010"}
	if a := setToken(t, srv, demo.PhoneNumberID, `{"revoked":true}`); a.Status != http.StatusOK {
		t.Fatalf("revoke: %+v", a)
	}
	for _, to := range recipients {
		a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody(to, "m-"+to))
		if a.Status != http.StatusUnauthorized || a.code() != 190 || a.Error.Type != "OAuthException" {
			t.Errorf("send to …%s while revoked: HTTP %d code %d, want 401 190", to[len(to)-4:], a.Status, a.code())
		}
	}
	if a := get(t, srv.URL+"/v24.0/"+demo.WABAID+"/message_templates", demo.AccessToken); a.Status != http.StatusUnauthorized || a.code() != 190 {
		t.Errorf("template list while revoked: HTTP %d code %d, want 401 190", a.Status, a.code())
	}
	for _, r := range sb.Requests() {
		if r.WAMID != "" || r.Status != http.StatusUnauthorized {
			t.Errorf("request %+v accepted while the token was revoked", r)
		}
	}

	if a := setToken(t, srv, demo.PhoneNumberID, `{"revoked":false}`); a.Status != http.StatusOK {
		t.Fatalf("restore: %+v", a)
	}
	if a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511987650000", "again")); a.Status != http.StatusOK || len(a.Messages) != 1 {
		t.Errorf("send after restore: %+v, want accepted", a)
	}
	if a := get(t, srv.URL+"/v24.0/"+demo.WABAID+"/message_templates", demo.AccessToken); a.Status != http.StatusOK {
		t.Errorf("template list after restore: HTTP %d", a.Status)
	}
}

// TestResetRestoresTokens: Reset forgets a revocation like any other
// failure state.
func TestResetRestoresTokens(t *testing.T) {
	sb, srv := serve(t, sandbox.Default())
	if err := sb.RevokeToken(demo.PhoneNumberID, true); err != nil {
		t.Fatal(err)
	}
	if a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511987650000", "")); a.code() != 190 {
		t.Fatalf("send while revoked: code %d, want 190", a.code())
	}
	sb.Reset()
	if a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511987650000", "")); a.Status != http.StatusOK {
		t.Errorf("send after Reset: HTTP %d code %d, want accepted", a.Status, a.code())
	}
}

func TestTokenControlRejects(t *testing.T) {
	sb, srv := serve(t, sandbox.Default())
	for _, tc := range []struct{ id, body, details string }{
		{demo.PhoneNumberID, `{}`, `"revoked" is required`},
		{demo.PhoneNumberID, `{"revoked":"yes"}`, "revoked"},
		{demo.PhoneNumberID, `{"revoked":true,"token":"x"}`, "unknown field"},
		{demo.PhoneNumberID, `not json`, "body is not"},
		{"999", `{"revoked":true}`, "unknown phone number id"},
	} {
		a := setToken(t, srv, tc.id, tc.body)
		if a.Status != http.StatusBadRequest || a.code() != 100 || !strings.Contains(a.Error.ErrorData.Details, tc.details) {
			t.Errorf("%s %s: HTTP %d code %d details %q, want 400 100 naming %q", tc.id, tc.body, a.Status, a.code(), a.Error.ErrorData.Details, tc.details)
		}
	}
	if err := sb.RevokeToken("999", true); !errors.Is(err, sandbox.ErrUnknownNumber) {
		t.Errorf("RevokeToken of an unknown number: %v", err)
	}
	// Nothing above revoked the demo's token.
	if a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511987650000", "")); a.Status != http.StatusOK {
		t.Errorf("send: HTTP %d code %d, want accepted", a.Status, a.code())
	}
}

// TestAcceptedThenAnswered500: …0010 is accepted (one call recorded with
// a wamid, statuses posted for it) but answered 500, so the sender cannot
// know Meta took it.
func TestAcceptedThenAnswered500(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511900000010", "m-0010"))
	if a.Status != http.StatusInternalServerError || a.code() != 131000 || len(a.Messages) != 0 {
		t.Fatalf("answer %+v, want 500 131000 without a wamid", a)
	}
	settle(t, sb)
	reqs := sb.Requests()
	if len(reqs) != 1 || reqs[0].WAMID == "" || reqs[0].Status != http.StatusOK || sb.CountByCallback("m-0010") != 1 {
		t.Fatalf("recorded %+v, want one accepted call", reqs)
	}
	sts := statuses(t, rc)
	if got := statusNames(sts); got != "sent delivered read" {
		t.Fatalf("statuses %q, want sent delivered read", got)
	}
	for _, st := range sts {
		if st.ID != reqs[0].WAMID || st.CallbackData != "m-0010" {
			t.Errorf("%s: id %q callback %q, want the accepted call's", st.Status, st.ID, st.CallbackData)
		}
	}
}
