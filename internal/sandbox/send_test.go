package sandbox_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/sandbox"
)

func TestSendAccepts(t *testing.T) {
	sb, srv := serve(t, sandbox.Default())
	a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", "m-1"))
	if a.Status != 200 || len(a.Messages) != 1 || !strings.HasPrefix(a.Messages[0].ID, "wamid.") ||
		a.Messages[0].MessageStatus != "accepted" {
		t.Fatalf("answer %+v, want 200 with one accepted wamid", a)
	}
	if len(a.Contacts) != 1 || a.Contacts[0].Input != "5511988887777" || a.Contacts[0].WAID != "5511988887777" {
		t.Errorf("contacts %+v, want the recipient echoed", a.Contacts)
	}
	reqs := sb.Requests()
	if len(reqs) != 1 || reqs[0].WAMID != a.Messages[0].ID || reqs[0].CallbackData != "m-1" || reqs[0].Status != 200 ||
		reqs[0].PhoneNumberID != demo.PhoneNumberID || reqs[0].Template.Name != "welcome" || reqs[0].At.IsZero() {
		t.Errorf("recorded %+v", reqs)
	}
}

// TestSendAcceptsWhatMetaDocuments: fields Meta documents and client
// libraries send are taken, not refused as unknown keys.
func TestSendAcceptsWhatMetaDocuments(t *testing.T) {
	rc := newReceiver(t, 0)
	sb, srv := serve(t, hookConfig(rc.URL))
	const to = "5511988885555"
	if _, err := sb.Reply(context.Background(), "", to, "", "oi"); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"language policy": strings.Replace(welcomeBody(to, ""), `"language":{"code"`, `"language":{"policy":"deterministic","code"`, 1),
		"reply context":   strings.Replace(welcomeBody(to, ""), `"type":"template"`, `"type":"template","context":{"message_id":"wamid.earlier"}`, 1),
		"link preview":    `{"messaging_product":"whatsapp","to":"` + to + `","type":"text","text":{"preview_url":true,"body":"veja https://example.com"}}`,
	} {
		if a := post(t, srv, sendPath(), demo.AccessToken, body); a.Status != 200 {
			t.Errorf("%s refused: %+v", name, a.Error)
		}
	}
	for _, r := range sb.Requests() {
		if r.Status != 200 || (r.Type == "template" && r.Template.Language.Code != "pt_BR") {
			t.Errorf("recorded %+v", r)
		}
	}
}

func TestSendRejects(t *testing.T) {
	valid := welcomeBody("5511988887777", "m-1")
	tests := []struct {
		name    string
		path    string
		token   string
		body    string
		status  int
		code    int
		subcode int
		details string // a fragment the details must contain
	}{
		{"no token", sendPath(), "", valid, 401, 190, 0, "access token"},
		{"wrong token", sendPath(), "nope", valid, 401, 190, 0, "access token"},
		{"unknown number", "/v24.0/999/messages", demo.AccessToken, valid, 400, 100, 33, "phone number id"},
		{"bad version", "/23.0/" + demo.PhoneNumberID + "/messages", demo.AccessToken, valid, 400, 100, 0, "version"},
		{"not JSON", sendPath(), demo.AccessToken, "hello", 400, 100, 0, "not a valid send"},
		{"unknown key", sendPath(), demo.AccessToken, strings.Replace(valid, `"type":"template"`, `"type":"template","typo":1`, 1), 400, 100, 0, "typo"},
		{"wrong product", sendPath(), demo.AccessToken, strings.Replace(valid, `"whatsapp"`, `"sms"`, 1), 400, 100, 0, "messaging_product"},
		{"letters in to", sendPath(), demo.AccessToken, welcomeBody("55119abc", ""), 400, 100, 0, "to must be"},
		{"neither template nor text", sendPath(), demo.AccessToken, strings.Replace(valid, `"type":"template"`, `"type":"image"`, 1), 400, 100, 0, "type must be"},
		{"text type with a template", sendPath(), demo.AccessToken, strings.Replace(valid, `"type":"template"`, `"type":"text"`, 1), 400, 100, 0, "template is only"},
		{"text parameter without text", sendPath(), demo.AccessToken, strings.Replace(valid, `"text":"Maria"`, `"text":""`, 1), 400, 100, 0, "parameters[0]"},
		{"missing parameter", sendPath(), demo.AccessToken, strings.Replace(valid, `,{"type":"text","text":"Loja"}`, "", 1), 400, 132000, 0, "(2)"},
		{"unknown template", sendPath(), demo.AccessToken, strings.Replace(valid, `"welcome"`, `"farewell"`, 1), 404, 132001, 0, "farewell"},
		{"unknown language policy", sendPath(), demo.AccessToken, strings.Replace(valid, `"language":{"code"`, `"language":{"policy":"fallback","code"`, 1), 400, 100, 0, "policy"},
		{"context without message_id", sendPath(), demo.AccessToken, strings.Replace(valid, `"type":"template"`, `"type":"template","context":{}`, 1), 400, 100, 0, "context.message_id"},
		{"callback too long", sendPath(), demo.AccessToken, welcomeBody("5511988887777", strings.Repeat("x", 513)), 400, 100, 0, "biz_opaque_callback_data"},
	}
	sb, srv := serve(t, sandbox.Default())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, srv, tt.path, tt.token, tt.body)
			if a.Status != tt.status || a.Error == nil || a.Error.Code != tt.code || a.Error.Subcode != tt.subcode {
				t.Fatalf("answer %+v (error %+v), want HTTP %d code %d/%d", a, a.Error, tt.status, tt.code, tt.subcode)
			}
			e := a.Error
			if e.Type != "OAuthException" || e.FBTraceID == "" || e.Message == "" || e.ErrorData.MessagingProduct != "whatsapp" {
				t.Errorf("error %+v is not in Meta's shape", e)
			}
			if !strings.Contains(e.ErrorData.Details, tt.details) {
				t.Errorf("details %q do not name %q", e.ErrorData.Details, tt.details)
			}
		})
	}
	if got := len(sb.Requests()); got != len(tests) {
		t.Errorf("recorded %d requests, want every one of the %d calls", got, len(tests))
	}
	if got := sb.CountByCallback("m-1"); got < len(tests)-3 {
		t.Errorf("CountByCallback = %d: rejected calls must be counted too", got)
	}
}

func TestFailureTable(t *testing.T) {
	tests := []struct {
		suffix string
		status int
		code   int
	}{
		{"0001", 400, 131026},
		{"0002", 500, 131000},
		{"0004", 429, 130429},
		{"0005", 400, 131056},
		{"0006", 400, 131047},
		{"0007", 200, 0}, // a revoked token is the number's (token.go), never a recipient's
		{"0008", 503, 131000},
		{"0009", 200, 0},
		{"0010", 500, 131000},
	}
	sb, srv := serve(t, sandbox.Default())
	for _, tt := range tests {
		t.Run(tt.suffix, func(t *testing.T) {
			to := "551190000" + tt.suffix
			for i := range 2 {
				a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody(to, ""))
				status, code := tt.status, tt.code
				if tt.suffix == "0008" && i == 1 {
					status, code = 200, 0 // only the first call fails
				}
				if a.Status != status || a.code() != code {
					t.Errorf("call %d: HTTP %d code %d, want %d %d", i+1, a.Status, a.code(), status, code)
				}
			}
		})
	}
	for _, r := range sb.Requests() {
		if (r.Status == 200) != (r.WAMID != "") {
			t.Errorf("request %+v: a wamid exactly when accepted", r)
		}
		// …0010 is accepted whatever its answer says.
		if strings.HasSuffix(r.To, "0010") && r.Status != 200 {
			t.Errorf("request %+v: …0010 is recorded as accepted", r)
		}
	}
}

func TestHeldAnswerIsRecordedAsAccepted(t *testing.T) {
	cfg := sandbox.Default()
	cfg.TimeoutDelay = time.Hour // only the client's giving up ends the hold
	sb, srv := serve(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+sendPath(), strings.NewReader(welcomeBody("5511900000003", "held")))
	req.Header.Set("Authorization", "Bearer "+demo.AccessToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer (%d), want the sandbox to hold it", resp.StatusCode)
	}
	reqs := sb.Requests()
	if len(reqs) != 1 || reqs[0].WAMID == "" || reqs[0].Status != 200 || sb.CountByCallback("held") != 1 {
		t.Errorf("recorded %+v, want one accepted send", reqs)
	}
}

func TestHeldAnswerArrivesAfterDelay(t *testing.T) {
	cfg := sandbox.Default()
	cfg.TimeoutDelay = 100 * time.Millisecond
	_, srv := serve(t, cfg)
	start := time.Now()
	a := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511900000003", ""))
	if a.Status != 200 || time.Since(start) < 100*time.Millisecond {
		t.Errorf("HTTP %d after %v, want 200 after the 100ms delay", a.Status, time.Since(start))
	}
}

func TestThroughputLimit(t *testing.T) {
	cfg := sandbox.Default()
	cfg.Numbers[0].MessagesPerSecond = 3
	_, srv := serve(t, cfg)
	var codes []int
	for i := range 5 {
		to := "55119888800" + string(rune('1'+i)) + "9" // distinct recipients: only throughput applies
		codes = append(codes, post(t, srv, sendPath(), demo.AccessToken, welcomeBody(to, "")).code())
	}
	if codes[0] != 0 || codes[2] != 0 || codes[3] != 130429 || codes[4] != 130429 {
		t.Errorf("codes %v, want three accepted then 130429", codes)
	}
}

func TestPairRateLimit(t *testing.T) {
	cfg := sandbox.Default()
	cfg.PairBurst, cfg.PairInterval = 2, time.Hour
	sb, srv := serve(t, cfg)
	var codes []int
	for range 3 {
		codes = append(codes, post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", "")).code())
	}
	if codes[0] != 0 || codes[1] != 0 || codes[2] != 131056 {
		t.Errorf("codes %v, want two accepted then 131056", codes)
	}
	if c := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988886666", "")).code(); c != 0 {
		t.Errorf("another recipient got %d, want accepted: the limit is per pair", c)
	}
	sb.Reset()
	if c := post(t, srv, sendPath(), demo.AccessToken, welcomeBody("5511988887777", "")).code(); c != 0 {
		t.Errorf("after Reset got %d, want accepted", c)
	}
}

func TestConcurrentSends(t *testing.T) {
	sb, srv := serve(t, sandbox.Default())
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			to := "55119" + strings.Repeat("7", 4) + string(rune('0'+i%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i/100)) + "9"
			post(t, srv, sendPath(), demo.AccessToken, welcomeBody(to, "c"))
		})
	}
	wg.Wait()
	reqs := sb.Requests()
	if len(reqs) != n || sb.CountByCallback("c") != n {
		t.Fatalf("recorded %d, counted %d; want %d", len(reqs), sb.CountByCallback("c"), n)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		if r.Status != 200 || seen[r.WAMID] {
			t.Fatalf("request %+v: want accepted with a unique wamid", r)
		}
		seen[r.WAMID] = true
	}
}
