package devstack_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/batches"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/devstack"
	"github.com/templategw/templategw/internal/domain"
)

// Issue 16's two scenarios at full size, on a real dev stack: emulators,
// every function in its own process, Pub/Sub push, the sandbox for Meta.
// The in-process tests (internal/admin's TestRevokedTokenHoldsThenConnect…
// and internal/batches' TestCancelMidwaySendsEachOnceOrNever) cover the
// same rules with tens or hundreds of messages.

const (
	holdContacts   = 2000
	cancelContacts = 5000
	// cancelAfter is how many accepted sends the cancel waits for.
	cancelAfter = 200
	// phaseLimit bounds each wait: the dev stack's push delivers about two
	// jobs at a time per subscription, on a machine shared with other
	// work.
	phaseLimit = 8 * time.Minute
)

// TestDevStackHoldsABatchThenConnectSendsEachOnce: with the demo number's
// token revoked at the sandbox, a 2,000-contact 50.01 ends all held, none
// failed and none accepted by Meta; once the token is restored, `templategw
// channel connect` releases all 2,000 and each contact is accepted by the
// sandbox exactly once.
func TestDevStackHoldsABatchThenConnectSendsEachOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2,000-contact batch on the whole dev stack takes minutes")
	}
	st := startStack(t)
	env := stackEnvOf(t, st)
	start := time.Now()

	if code, raw := devPost(t, env.sandbox+"/_sandbox/numbers/"+demo.PhoneNumberID+"/token", "application/json", `{"revoked":true}`); code != http.StatusOK {
		t.Fatalf("revoking the demo number's token answered %d %s", code, raw)
	}
	phone := func(i int) string { return national(41, i) }
	const code = "HOLD2000"
	sendBatch(t, st, code, holdContacts, phone)
	posted := time.Now()

	var v batches.View
	poll(t, st, phaseLimit, "every message held", func() (bool, string) {
		v = batchView(t, st, code)
		c := v.Counts
		if c.Failed > 0 || c.Refused > 0 || c.Pending+c.Sent+c.Delivered+c.Read > 0 {
			t.Fatalf("while the token is revoked: %s", countsLine(v))
		}
		return c.Held == holdContacts, countsLine(v)
	})
	held := time.Since(posted)
	calls := sandboxCalls(t, env.sandbox)
	for _, r := range calls {
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("the sandbox answered %d to %s while the token was revoked", r.Status, r.To)
		}
	}
	t.Logf("%d held in %s (%d sandbox calls, all 401); %s", holdContacts, held.Round(time.Second), len(calls), countsLine(v))

	if code, raw := devPost(t, env.sandbox+"/_sandbox/numbers/"+demo.PhoneNumberID+"/token", "application/json", `{"revoked":false}`); code != http.StatusOK {
		t.Fatalf("restoring the demo number's token answered %d %s", code, raw)
	}
	connectAt := time.Now()
	out := env.cli(t, "channel", "connect", "--tenant", demo.TenantID, "--id", demo.ChannelID, "--json")
	var connected struct {
		Connected bool           `json:"connected"`
		Hold      map[string]any `json:"hold"`
		Released  int            `json:"released"`
	}
	if err := json.Unmarshal(out, &connected); err != nil {
		t.Fatalf("channel connect printed %q: %v", out, err)
	}
	if connected.Released != holdContacts || !connected.Connected || connected.Hold != nil {
		t.Fatalf("channel connect = %+v, want %d released, connected, no hold", connected, holdContacts)
	}
	connectTook := time.Since(connectAt)

	poll(t, st, phaseLimit, "every message pending or later", func() (bool, string) {
		v = batchView(t, st, code)
		c := v.Counts
		if c.Failed > 0 || c.Refused > 0 || c.Cancelled > 0 {
			t.Fatalf("after channel connect: %s", countsLine(v))
		}
		return c.Pending+c.Sent+c.Delivered+c.Read == holdContacts, countsLine(v)
	})
	sent := time.Since(connectAt)

	accepted := acceptedByContact(t, sandboxCalls(t, env.sandbox))
	items := statuses(t, st, code)
	if len(items) != holdContacts {
		t.Fatalf("50.02 lists %d contacts, want %d", len(items), holdContacts)
	}
	for i, it := range items {
		if it.Telefone != phone(i) {
			t.Fatalf("50.02 item %d is %s, want %s", i, it.Telefone, phone(i))
		}
		if n := len(accepted[demo.CountryCode+it.Telefone]); n != 1 || !sentOrLater(it.Status) {
			t.Errorf("contact %s: %s after %d accepted calls, want pending or later after exactly 1", it.Telefone, it.Status, n)
		}
	}
	if len(accepted) != holdContacts {
		t.Errorf("the sandbox accepted sends to %d numbers, want the batch's %d", len(accepted), holdContacts)
	}
	t.Logf("scenario took %s: %d held in %s, connect released %d in %s, all pending or later %s after connect; %s",
		time.Since(start).Round(time.Second), holdContacts, held.Round(time.Second), connected.Released,
		connectTook.Round(100*time.Millisecond), sent.Round(time.Second), countsLine(v))
}

// TestDevStackCancelMidwaySendsOnceOrCancels: a 5,000-contact 50.01
// cancelled once 200 sends have reached the sandbox leaves every contact
// either accepted by the sandbox exactly once (and pending or later) or
// cancelled with no call at all, and the batches API and 50.02 agree.
func TestDevStackCancelMidwaySendsOnceOrCancels(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5,000-contact batch on the whole dev stack takes minutes")
	}
	st := startStack(t)
	env := stackEnvOf(t, st)
	start := time.Now()

	phone := func(i int) string { return national(42, i) }
	const code = "CANCEL5000"
	sendBatch(t, st, code, cancelContacts, phone)
	posted := time.Now()

	poll(t, st, phaseLimit, fmt.Sprintf("%d sends to reach the sandbox", cancelAfter), func() (bool, string) {
		n := 0
		for _, r := range sandboxCalls(t, env.sandbox) {
			if r.Status == http.StatusOK {
				n++
			}
		}
		return n >= cancelAfter, fmt.Sprintf("%d accepted by the sandbox", n)
	})
	reached := time.Since(posted)
	status, raw := devPost(t, st.base+"/batches/"+code+"/cancel", "application/json", "")
	var cancelled batches.View
	if status != http.StatusOK || json.Unmarshal([]byte(raw), &cancelled) != nil || cancelled.State != domain.BatchCancelled {
		t.Fatalf("cancel answered %d %s", status, raw)
	}
	cancelAt := time.Now()
	t.Logf("cancelled %s after posting; the answer: %s", reached.Round(time.Second), countsLine(cancelled))

	// The counts are one aggregation per state, not a snapshot: the batch
	// is settled when two polls in a row find nothing left to send.
	var v batches.View
	settledOnce := false
	poll(t, st, phaseLimit, "the cancellation to settle", func() (bool, string) {
		v = batchView(t, st, code)
		c := v.Counts
		settled := c.Accepted+c.Held+c.Dispatching+c.Unknown == 0
		done := settled && settledOnce
		settledOnce = settled
		return done, countsLine(v)
	})
	settle := time.Since(cancelAt)

	calls := sandboxCalls(t, env.sandbox)
	accepted := acceptedByContact(t, calls)
	items := statuses(t, st, code)
	if len(items) != cancelContacts {
		t.Fatalf("50.02 lists %d contacts, want %d", len(items), cancelContacts)
	}
	sent, nCancelled := 0, 0
	for i, it := range items {
		if it.Telefone != phone(i) {
			t.Fatalf("50.02 item %d is %s, want %s", i, it.Telefone, phone(i))
		}
		n := len(accepted[demo.CountryCode+it.Telefone])
		switch {
		case n == 1 && sentOrLater(it.Status):
			sent++
		case n == 0 && it.Status == string(domain.StatusCancelled):
			nCancelled++
		default:
			t.Errorf("contact %s: %s after %d accepted calls, want pending or later after 1, or cancelled after none", it.Telefone, it.Status, n)
		}
	}
	if len(accepted) != sent {
		t.Errorf("the sandbox accepted sends to %d numbers, but 50.02 shows %d sent", len(accepted), sent)
	}
	if sent < cancelAfter || nCancelled == 0 || sent+nCancelled != cancelContacts {
		t.Errorf("%d sent and %d cancelled of %d: the cancel did not land mid-way", sent, nCancelled, cancelContacts)
	}
	c := v.Counts
	if v.State != domain.BatchCancelled || c.Cancelled != nCancelled || c.Pending+c.Sent+c.Delivered+c.Read != sent || c.Failed+c.Refused != 0 {
		t.Errorf("the batches API says %s, want cancelled with %d cancelled and %d pending or later", countsLine(v), nCancelled, sent)
	}
	refusedCalls := len(calls) - sent
	t.Logf("scenario took %s: %d accepted by the sandbox %s after posting; cancel settled in %s; %d sent once, %d cancelled, %d calls refused by the sandbox; %s",
		time.Since(start).Round(time.Second), cancelAfter, reached.Round(time.Second), settle.Round(time.Second),
		sent, nCancelled, refusedCalls, countsLine(v))
}

// stackEnv is what a scenario needs of a running stack beyond its front
// door: the sandbox and the emulators the CLI talks to.
type stackEnv struct {
	sandbox           string
	firestore, pubsub string
	project, bin      string
}

// stackEnvOf reads the sandbox's URL and the emulators' hosts from what
// the stack printed.
func stackEnvOf(t *testing.T, st *stack) stackEnv {
	t.Helper()
	out := st.out.String()
	e := stackEnv{
		sandbox:   printedAfter(out, "sandbox     "),
		firestore: printedAfter(out, "FIRESTORE_EMULATOR_HOST="),
		pubsub:    printedAfter(out, "PUBSUB_EMULATOR_HOST="),
		project:   printedAfter(out, "  project "),
		bin:       st.bin,
	}
	if e.sandbox == "" || e.firestore == "" || e.pubsub == "" || e.project != devstack.Project {
		t.Fatalf("the stack did not print its sandbox, emulators and project (%+v):\n%s", e, out)
	}
	return e
}

// printedAfter is the word after key in out.
func printedAfter(out, key string) string {
	_, rest, ok := strings.Cut(out, key)
	if words := strings.Fields(rest); ok && len(words) > 0 {
		return words[0]
	}
	return ""
}

// cli runs the stack's binary as an operator would against the stack's
// emulators and returns what it printed.
func (e stackEnv) cli(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(),
		"FIRESTORE_EMULATOR_HOST="+e.firestore, "PUBSUB_EMULATOR_HOST="+e.pubsub, "GOOGLE_CLOUD_PROJECT="+e.project)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("templategw %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// national is contact i's national number (DDD, 9, eight digits) in run
// run: its last four digits stay clear of the sandbox's failure suffixes.
func national(run, i int) string {
	return fmt.Sprintf("119%02d%02d%04d", run, i/9000, 1000+i%9000)
}

// sendBatch posts a 50.01 of the demo's alerta1 to n contacts under
// code.
func sendBatch(t *testing.T, st *stack, code string, n int, phone func(int) string) {
	t.Helper()
	var body bytes.Buffer
	if err := demo.EmktBatch(&body, code, n, phone); err != nil {
		t.Fatal(err)
	}
	status, raw := devPost(t, st.base+"/emkt/", "application/xml", body.String())
	if status != http.StatusOK || !strings.Contains(raw, "<return>"+code+"</return>") {
		t.Fatalf("50.01 of %d contacts answered %d %s\n%s", n, status, raw, tail(st.logs.String(), 60))
	}
}

// batchView is GET /batches/{code}.
func batchView(t *testing.T, st *stack, code string) batches.View {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, st.base+"/batches/"+code, nil)
	req.Header.Set("Authorization", "Bearer e2e-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var v batches.View
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &v) != nil || v.Counts == nil {
		t.Fatalf("GET /batches/%s answered %d %s", code, resp.StatusCode, raw)
	}
	return v
}

func countsLine(v batches.View) string {
	if v.Counts == nil {
		return string(v.State) + " (no counts)"
	}
	c := v.Counts
	return fmt.Sprintf("%s: accepted %d held %d dispatching %d pending %d sent %d delivered %d read %d failed %d unknown %d cancelled %d refused %d",
		v.State, c.Accepted, c.Held, c.Dispatching, c.Pending, c.Sent, c.Delivered, c.Read, c.Failed, c.Unknown, c.Cancelled, c.Refused)
}

type emktItem struct {
	Telefone string `xml:"telefone"`
	Status   string `xml:"status"`
	Motivo   string `xml:"motivo"`
}

// statuses is 50.02's answer for code: each contact's state, in the
// request's order.
func statuses(t *testing.T, st *stack, code string) []emktItem {
	t.Helper()
	status, raw := devPost(t, st.base+"/emkt/", "application/xml", `<main><emkt trans="50.02"><codigo>`+code+`</codigo></emkt></main>`)
	var a struct {
		Items []emktItem `xml:"emkt>item"`
	}
	if status != http.StatusOK || xml.Unmarshal([]byte(raw), &a) != nil {
		t.Fatalf("50.02 of %s answered %d %.2000s", code, status, raw)
	}
	return a.Items
}

// sentOrLater says a message reached Meta: pending, sent, delivered or
// read.
func sentOrLater(status string) bool {
	switch domain.Status(status) {
	case domain.StatusPending, domain.StatusSent, domain.StatusDelivered, domain.StatusRead:
		return true
	}
	return false
}

type sandboxCall struct {
	To           string `json:"to"`
	CallbackData string `json:"callback_data"`
	Status       int    `json:"status"`
}

// sandboxCalls is every send call the sandbox received.
func sandboxCalls(t *testing.T, sandboxURL string) []sandboxCall {
	t.Helper()
	resp, err := http.Get(sandboxURL + "/_sandbox/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Requests []sandboxCall `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_sandbox/requests answered %d (%v)", resp.StatusCode, err)
	}
	return a.Requests
}

// acceptedByContact groups the calls the sandbox accepted by recipient,
// each with the gateway's message id it carried; it fails the test if two
// recipients carried the same message id.
func acceptedByContact(t *testing.T, calls []sandboxCall) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	owner := map[string]string{}
	for _, r := range calls {
		if r.Status != http.StatusOK {
			continue
		}
		out[r.To] = append(out[r.To], r.CallbackData)
		if o, ok := owner[r.CallbackData]; ok && o != r.To {
			t.Errorf("message %s was sent to %s and to %s", r.CallbackData, o, r.To)
		}
		owner[r.CallbackData] = r.To
	}
	return out
}

// poll checks cond every second until it holds, logging its progress
// every half minute and failing with the last progress and the stack's
// latest logs once within has passed.
func poll(t *testing.T, st *stack, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	logAt := start.Add(30 * time.Second)
	var progress string
	done := false
	defer func() {
		if !done { // wait ended the test
			t.Logf("last: %s\nthe stack's latest logs:\n%s", progress, tail(st.logs.String(), 80))
		}
	}()
	// Each poll counts thousands of messages on the emulator: once a
	// second is enough.
	wait.UntilEvery(t, within, time.Second, what, func() bool {
		var ok bool
		ok, progress = cond()
		if now := time.Now(); !ok && now.After(logAt) {
			t.Logf("%s after %s: %s", what, now.Sub(start).Round(time.Second), progress)
			logAt = now.Add(30 * time.Second)
		}
		return ok
	})
	done = true
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
