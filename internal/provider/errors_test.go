package provider

import (
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		status, code int
		want         Class
	}{
		// Throughput: not now, never taken.
		{429, 130429, Retryable},
		{400, 131056, Retryable},
		{400, 80007, Retryable},
		{400, 4, Retryable},
		{500, 130429, Retryable}, // the code decides, not the status
		// General codes: a refusal outside 5xx, ambiguous inside it.
		{400, 131000, Retryable},
		{400, 1, Retryable},
		{503, 2, Unknown},
		{500, 131000, Unknown},
		{503, 131000, Unknown},
		{500, 1, Unknown},
		// 5xx without a known code: Meta may have taken the message.
		{500, 0, Unknown},
		{502, 0, Unknown},
		{503, 99999, Unknown},
		{429, 0, Retryable},
		{408, 0, Retryable},
		// The channel's, not the recipient's.
		{401, 190, HoldChannel},
		{400, 190, HoldChannel},
		{500, 190, HoldChannel},
		{400, 131031, HoldChannel},
		{400, 368, HoldChannel},
		{400, 131048, HoldChannel},
		// The recipient's or the message's: permanent, never a hold.
		{400, 131026, Permanent},
		{400, 131047, Permanent},
		{400, 131049, Permanent},
		{400, 131050, Permanent},
		{400, 131051, Permanent},
		{400, 100, Permanent},
		{400, 132000, Permanent},
		{404, 132001, Permanent},
		{400, 132012, Permanent},
		{400, 132015, Permanent},
		{400, 132016, Permanent},
		{400, 133010, Permanent},
		{500, 132001, Permanent}, // the code decides, not the status
		{400, 99999, Permanent},
		{404, 0, Permanent},
		{401, 0, Permanent},
		{200, 0, Unknown},
		{302, 0, Unknown},
		{0, 0, Unknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.code); got != tt.want {
			t.Errorf("Classify(%d, %d) = %v, want %v", tt.status, tt.code, got, tt.want)
		}
	}
}

func TestDecodeError(t *testing.T) {
	body := `{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","type":"OAuthException","code":131056,"error_subcode":2494055,"error_data":{"messaging_product":"whatsapp","details":"slow down"},"fbtrace_id":"A1"}}`
	e := decodeError(400, []byte(body))
	if e.Code != 131056 || e.Subcode != 2494055 || e.Details != "slow down" || e.Class != Retryable || e.RetryAfter != 6*time.Second {
		t.Errorf("decodeError = %+v", e)
	}
	if s := e.Error(); !strings.Contains(s, "131056") || !strings.Contains(s, "retryable") {
		t.Errorf("Error() = %q, want the code and the class", s)
	}
	e = decodeError(502, []byte("<html>\n\x00bad gateway</html>"))
	if e.Code != 0 || e.Class != Unknown || strings.ContainsAny(e.Details, "\n\x00") {
		t.Errorf("decodeError of HTML = %+v", e)
	}
}

// FuzzDecodeError feeds arbitrary answers to the error parser: it must
// never panic and must always give a class consistent with Classify.
func FuzzDecodeError(f *testing.F) {
	seeds := []string{
		`{"error":{"message":"(#132001) Template name does not exist in the translation","type":"OAuthException","code":132001,"error_data":{"messaging_product":"whatsapp","details":"template name (x) does not exist in pt_BR"},"fbtrace_id":"AbC"}}`,
		`{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"x"}}`,
		`{"error":{"code":130429}}`,
		`{"error":{"code":"131000"}}`,
		`{"error":null}`,
		`<html>502 Bad Gateway</html>`,
		``,
		`{"error":{"code":1e3}}`,
	}
	for _, s := range seeds {
		f.Add(400, []byte(s))
		f.Add(500, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeError(status, body)
		if e == nil {
			t.Fatal("decodeError returned nil")
		}
		if want := Classify(status, e.Code); e.Class != want {
			t.Errorf("class %v, Classify says %v", e.Class, want)
		}
		if len(e.Details) > 4*maxSnippet && e.Code == 0 {
			t.Errorf("details of an unparseable body are %d bytes long", len(e.Details))
		}
		_ = e.Error()
	})
}
