package devstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/app"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/devstack"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/store"
)

// logLine is one line a function process wrote: JSON when it came
// through slog, raw text otherwise (the Functions Framework's own lines).
type logLine struct {
	fn   string
	raw  string
	json map[string]any
}

// functionLines splits the stack's log stream into the functions' lines;
// the emulators' own lines are not the gateway's and are left out.
func functionLines(all string) []logLine {
	var out []logLine
	for _, l := range strings.Split(all, "\n") {
		for _, f := range app.Functions {
			rest, ok := strings.CutPrefix(l, "["+f.Name+"] ")
			if !ok {
				continue
			}
			ll := logLine{fn: f.Name, raw: rest}
			_ = json.Unmarshal([]byte(rest), &ll.json)
			out = append(out, ll)
			break
		}
	}
	return out
}

// TestLogsKeepSecretsOut runs a successful send, two failures, a retried
// send and refused requests through the dev stack, and reads every line
// the functions wrote: no bearer token, Meta access token, app secret,
// verify token, callback secret or full recipient number may appear, and
// the access and transition lines must be there with the masked number
// and Meta's code.
//
// The dev stack rather than the handlers built in process: each function
// runs in its own process under the Functions Framework, as in the cloud,
// so the test sees what really reaches stderr — the framework's own lines
// for a CloudEvent function's returned error included — through Pub/Sub
// push into dispatch and callbacks and the sandbox's signed webhooks into
// whatsapp. That costs one more stack start (about 15 s), which an in-process
// build would save at the price of leaving those paths out.
func TestLogsKeepSecretsOut(t *testing.T) {
	// Debug lines reach Cloud Logging too when LOG_LEVEL says so: they
	// must be as clean. The function processes inherit the environment.
	t.Setenv("LOG_LEVEL", "debug")

	const (
		wrongToken     = "wrong-bearer-token-5f2c"
		callbackSecret = "callback-secret-0123456789abcdef0123456789abcdef"
		callbackKey    = "receiver-key-9d41"
	)
	recipients := map[string]string{ // number → what the sandbox does with it
		"5511987654321": "accepted, then sent, delivered, read",
		"5511987650001": "refused with 131026",
		"5511987650009": "accepted, then failed by webhook with 131026",
		"5511987650008": "503 131000 once: unknown, waiting for Meta's webhook",
	}

	// The tenant's callback receiver, with a key of its own in the query.
	var (
		cbMu     sync.Mutex
		cbStatus = map[string][]string{}
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ MessageID, Status string }
		_ = json.NewDecoder(r.Body).Decode(&ev)
		cbMu.Lock()
		cbStatus[ev.MessageID] = append(cbStatus[ev.MessageID], ev.Status)
		cbMu.Unlock()
	}))
	defer receiver.Close()

	st := startStack(t)
	base, logs := st.base, &st.logs
	ctx := context.Background()

	// Before the first request, so no function has the tenant cached yet.
	// Run pointed this process at the stack's emulators.
	fs, err := firestore.NewClient(ctx, devstack.Project)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if err := store.New(fs).PutTenant(ctx, domain.Tenant{
		ID: demo.TenantID, Name: "Demo", CountryCode: demo.CountryCode,
		CallbackURL: receiver.URL + "/hooks?key=" + callbackKey, CallbackSecret: callbackSecret,
	}); err != nil {
		t.Fatal(err)
	}

	ids := map[string]string{} // number → message id
	for phone := range recipients {
		body := `{"templateId":"welcome","phoneNumber":"` + phone + `","firstName":"Maria","params":{"1":"Maria","2":"templategw"}}`
		code, a := devSend(t, base, body, logs)
		if code != http.StatusAccepted || a.Data.MessageID == "" {
			t.Fatalf("send to %s answered %d %+v\n%s", phone, code, a, logs.String())
		}
		ids[phone] = a.Data.MessageID
	}
	// Refused and query-carrying requests: the access line keeps the path only.
	req, _ := http.NewRequest(http.MethodPost, base+"/templates", strings.NewReader(`{"templateId":"welcome","phoneNumber":"5511987654321"}`))
	req.Header.Set("Authorization", "Bearer "+wrongToken)
	req.Header.Set("Content-Type", "application/json")
	if code := doStatus(t, req); code != http.StatusUnauthorized {
		t.Fatalf("wrong token answered %d", code)
	}
	for target, want := range map[string]int{
		"/whatsapp/?hub.mode=subscribe&hub.verify_token=" + devstack.VerifyToken + "&hub.challenge=42": http.StatusOK,
		"/whatsapp/?hub.mode=subscribe&hub.verify_token=" + wrongToken + "&hub.challenge=42":           http.StatusForbidden,
		"/messages/?phone=5511987654321":              http.StatusOK,
		"/wati/demo/api/v1/getMessages/5511987654321": http.StatusOK,
	} {
		req, _ := http.NewRequest(http.MethodGet, base+target, nil)
		req.Header.Set("Authorization", "Bearer e2e-token")
		if code := doStatus(t, req); code != want {
			t.Fatalf("GET %s answered %d, want %d", target, code, want)
		}
	}

	waitStatus(t, base, ids["5511987654321"], "read", logs)
	waitStatus(t, base, ids["5511987650001"], "failed", logs)
	waitStatus(t, base, ids["5511987650009"], "failed", logs)
	waitStatus(t, base, ids["5511987650008"], "unknown", logs)

	// The lines this run must have written, and the failures' callbacks;
	// they arrive through pipes and Pub/Sub, so wait for them.
	type want struct {
		what  string
		match func(logLine) bool
	}
	transition := func(fn, phone string, to domain.Status, code int) want {
		id := ids[phone]
		return want{
			what: fmt.Sprintf("[%s] transition of %s to %s (metaCode %d)", fn, phone, to, code),
			match: func(l logLine) bool {
				j := l.json
				return l.fn == fn && j["message"] == "transition" && j["messageId"] == id && j["to"] == string(to) &&
					j["phone"] == domain.MaskPhone(phone) && j["tenant"] == demo.TenantID && j["channel"] == demo.ChannelID &&
					(code == 0 || j["metaCode"] == float64(code))
			},
		}
	}
	access := func(fn string, status int, path string) want {
		return want{
			what: fmt.Sprintf("[%s] access line %d %s", fn, status, path),
			match: func(l logLine) bool {
				hr, _ := l.json["httpRequest"].(map[string]any)
				return l.fn == fn && l.json["message"] == "request" && hr != nil && hr["status"] == float64(status) &&
					hr["requestUrl"] == path && hr["latency"] != nil
			},
		}
	}
	wants := []want{
		transition("templates", "5511987654321", domain.StatusAccepted, 0),
		transition("dispatch", "5511987654321", domain.StatusDispatching, 0),
		transition("dispatch", "5511987654321", domain.StatusPending, 0),
		transition("whatsapp", "5511987654321", domain.StatusSent, 0),
		transition("whatsapp", "5511987654321", domain.StatusDelivered, 0),
		transition("whatsapp", "5511987654321", domain.StatusRead, 0),
		transition("dispatch", "5511987650001", domain.StatusFailed, 131026),
		transition("whatsapp", "5511987650009", domain.StatusFailed, 131026),
		transition("dispatch", "5511987650008", domain.StatusUnknown, 131000), // a 5xx may have been taken
		access("templates", http.StatusAccepted, "/"),
		access("templates", http.StatusUnauthorized, "/"),
		access("whatsapp", http.StatusOK, "/"),
		access("whatsapp", http.StatusForbidden, "/"),
		access("messages", http.StatusOK, "/"),
		access("wati", http.StatusOK, "/demo/api/v1/getMessages/*********4321"),
		// dispatch, whose outcome the callback tells, makes its first
		// attempt itself.
		{what: "[dispatch] delivery of the failure of …0001", match: func(l logLine) bool {
			return l.fn == "dispatch" && l.json["message"] == "callback delivered" && l.json["messageId"] == ids["5511987650001"]
		}},
	}
	var lines []logLine
	until := time.Now().Add(30 * time.Second)
	for {
		lines = functionLines(logs.String())
		var missing []string
		for _, w := range wants {
			found := false
			for _, l := range lines {
				if l.json != nil && w.match(l) {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, w.what)
			}
		}
		cbMu.Lock()
		for _, phone := range []string{"5511987650001", "5511987650009"} {
			if !slices.Contains(cbStatus[ids[phone]], "failed") {
				missing = append(missing, "the receiver's callback of the failure of "+phone)
			}
		}
		cbMu.Unlock()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(until) {
			t.Fatalf("lines missing:\n  %s\nfunction lines:\n%s", strings.Join(missing, "\n  "), logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Nothing secret, anywhere, JSON or not.
	secrets := map[string]string{
		"the demo bearer token":  "e2e-token",
		"a wrong bearer token":   wrongToken,
		"Meta's access token":    demo.AccessToken,
		"the app secret":         sandbox.DefaultAppSecret,
		"the verify token":       devstack.VerifyToken,
		"the callback secret":    callbackSecret,
		"the receiver's own key": callbackKey,
	}
	digitRuns := regexp.MustCompile(`[0-9]{8,}`)
	for _, l := range lines {
		for what, s := range secrets {
			if strings.Contains(l.raw, s) {
				t.Errorf("%s in [%s] %s", what, l.fn, l.raw)
			}
		}
		for _, run := range digitRuns.FindAllString(l.raw, -1) {
			for phone := range recipients {
				// Eight digits or more of a recipient's number, or a run
				// holding its national part, is a leak; MaskPhone keeps four.
				national := strings.TrimPrefix(phone, demo.CountryCode)
				if strings.Contains(phone, run) || strings.Contains(run, national) {
					t.Errorf("recipient number %s (as %s) in [%s] %s", phone, run, l.fn, l.raw)
				}
			}
		}
	}
	t.Logf("%d function lines checked", len(lines))
}

// doStatus sends req and returns its status code.
func doStatus(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
