package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/devstack"
)

// syncBuffer is a bytes.Buffer safe for the stack's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stack is one dev stack a test runs, from its own freshly built binary.
type stack struct {
	base      string // the front door
	bin       string
	out, logs syncBuffer
	cancel    context.CancelFunc
	done      chan error
}

// startStack builds the binary and runs the stack until it says it is up;
// a test that does not call stop has it stopped when it ends.
func startStack(t *testing.T) *stack {
	t.Helper()
	st := &stack{bin: filepath.Join(t.TempDir(), "templategw"), done: make(chan error, 1)}
	build := exec.Command("go", "build", "-o", st.bin, "../../cmd/templategw")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build templategw: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	st.base = fmt.Sprintf("http://127.0.0.1:%d", port)

	var ctx context.Context
	ctx, st.cancel = context.WithCancel(context.Background())
	go func() {
		st.done <- devstack.Run(ctx, devstack.Options{Port: port, DemoToken: "e2e-token", Exe: st.bin, Out: &st.out, Logs: &st.logs})
	}()
	t.Cleanup(func() {
		if err := st.stop(); err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(st.out.String(), "dev stack is up") {
		select {
		case err := <-st.done:
			st.done <- err
			t.Fatalf("stack stopped: %v\n%s\n%s", err, st.out.String(), st.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack not up in time:\n%s\n%s", st.out.String(), st.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return st
}

// stop stops the stack (Ctrl-C) and waits for it; later calls do nothing.
func (st *stack) stop() error {
	if st.cancel == nil {
		return nil
	}
	st.cancel()
	st.cancel = nil
	select {
	case err := <-st.done:
		if err != nil {
			return fmt.Errorf("stop: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("stack did not stop")
	}
}

// TestDevStackSendsEndToEnd is the README's promise: the dev stack comes
// up, the printed curl answers 202 Pending, the message reaches read
// through Pub/Sub push, dispatch, the sandbox and its webhooks, a second
// send to the number answers 200 Sent in the conversation the first
// opened, and stopping leaves no process behind.
func TestDevStackSendsEndToEnd(t *testing.T) {
	st := startStack(t)
	out, logs, base := &st.out, &st.logs, st.base
	if !strings.Contains(out.String(), "curl -sS -X POST") {
		t.Fatalf("no curl printed:\n%s", out.String())
	}

	body := `{"templateId":"welcome","phoneNumber":"5511987654321","firstName":"Maria","params":{"1":"Maria","2":"templategw"}}`
	code, first := devSend(t, base, body, logs)
	if code != http.StatusAccepted || first.Message != "Pending" || first.Data.MessageID == "" {
		t.Fatalf("first send answered %d %+v\n%s", code, first, logs.String())
	}
	// The sandbox's webhooks, through the front door's whatsapp function,
	// take it all the way to read.
	msg := waitStatus(t, base, first.Data.MessageID, "read", logs)
	if !strings.HasPrefix(msg.ProviderMessageID, "wamid.") || msg.ConversationID == "" {
		t.Fatalf("read message %+v", msg)
	}
	code, second := devSend(t, base, body, logs)
	if code != http.StatusOK || second.Message != "Sent" || second.Data.ConversationID != msg.ConversationID {
		t.Fatalf("second send answered %d %+v, want 200 Sent in conversation %s\n%s", code, second, msg.ConversationID, logs.String())
	}

	// Seed 002's example, as CloudChat's docs write it, through the front door.
	cc := `{"inbox_id":"main","phone_number":"+5511987654322","template_name":"test_template","header_attachment":"https://cdn.example.com/a.pdf","button_param_0":"A-1","button_param_1":"help","name":"John Doe","email":"john@example.com","custom_code":"12345"}`
	req, _ := http.NewRequest(http.MethodPost, base+"/cloudchat/api/v1/accounts/demo/conversations/create_proactive_whatsapp_conversation", strings.NewReader(cc))
	req.Header.Set("api_access_token", "e2e-token")
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"channel":"Channel::Whatsapp"`) {
		t.Fatalf("cloudchat answered %d %s\n%s", resp.StatusCode, raw, logs.String())
	}

	// Seed 003's 50.01 and 50.02, and Wati's sendTemplateMessage, through
	// the front door: every dialect reaches its function.
	xml := `<main><emkt trans="50.01"><remetente>0bc8f181-3f84-41dc-90f2-a28dd5f90e73</remetente><identificador>E2E1</identificador>` +
		`<namespace>cd551e83_8455_45fd_a2ff_35ef6a51f3c6</namespace><element_name>alerta1</element_name>` +
		`<contact><phone>11987554399</phone><component type="body"><parameter type="text">Maria</parameter></component></contact></emkt></main>`
	if code, raw := devPost(t, base+"/emkt/", "application/xml", xml); code != http.StatusOK || !strings.Contains(raw, "<return>E2E1</return>") {
		t.Fatalf("emkt 50.01 answered %d %s\n%s", code, raw, logs.String())
	}
	until := time.Now().Add(30 * time.Second)
	for {
		code, raw := devPost(t, base+"/emkt/", "application/xml", `<main><emkt trans="50.02"><codigo>E2E1</codigo></emkt></main>`)
		if code == http.StatusOK && strings.Contains(raw, "<telefone>11987554399</telefone><status>read</status>") {
			break
		}
		if time.Now().After(until) {
			t.Fatalf("emkt 50.02 answered %d %s\n%s", code, raw, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Seed 004: the sending number named by channelNumber.
	wati := `{"template_name":"welcome","broadcast_name":"e2e","parameters":[{"name":"1","value":"Maria"},{"name":"2","value":"templategw"}],"channelNumber":"5511999990000"}`
	if code, raw := devPost(t, base+"/wati/demo/api/v1/sendTemplateMessage?whatsappNumber=5511987654323", "application/json", wati); code != http.StatusOK || !strings.Contains(raw, `"result":true`) {
		t.Fatalf("wati answered %d %s\n%s", code, raw, logs.String())
	}
	// Each seed's send reached Meta's side.
	_, rest, _ := strings.Cut(out.String(), "sandbox     ")
	sandboxURL, _, _ := strings.Cut(rest, " ")
	for _, to := range []string{"5511987654322", "5511987554399", "5511987654323"} {
		until := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(sandboxURL + "/_sandbox/requests?to=" + to)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(raw), `"status":200`) {
				break
			}
			if time.Now().After(until) {
				t.Fatalf("the sandbox got no accepted send to %s: %s\n%s", to, raw, logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	metaAsToday(t, base, sandboxURL, first.Data.MessageID, logs)

	if err := st.stop(); err != nil {
		t.Fatal(err)
	}
	if pids := leftovers(st.bin); pids != "" {
		t.Fatalf("function processes left behind: %s", pids)
	}
	for _, key := range []string{"FIRESTORE_EMULATOR_HOST=", "PUBSUB_EMULATOR_HOST="} {
		_, rest, _ := strings.Cut(out.String(), key)
		host, _, _ := strings.Cut(rest, " ")
		_, p, _ := strings.Cut(host, ":")
		if p == "" {
			t.Fatalf("no %s printed", key)
		}
		if pids := leftovers("port=" + p); pids != "" {
			t.Fatalf("emulator on %s left behind: %s", host, pids)
		}
	}
}

type atomAnswer struct {
	Success bool
	Message string
	Data    struct {
		MessageID      string `json:"message_id"`
		ConversationID string `json:"conversation_id"`
	}
}

func devSend(t *testing.T, base, body string, logs *syncBuffer) (int, atomAnswer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/templates", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer e2e-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var a atomAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("send answered %d %s (%v)\n%s", resp.StatusCode, raw, err, logs.String())
	}
	return resp.StatusCode, a
}

// devPost posts body with the demo token and returns the answer.
func devPost(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer e2e-token")
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

type devMessage struct {
	Status            string
	ProviderMessageID string
	ConversationID    string
}

// waitStatus polls the messages API until the message reaches want.
func waitStatus(t *testing.T, base, id, want string, logs *syncBuffer) devMessage {
	t.Helper()
	var msg devMessage
	until := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/messages/"+id, nil)
		req.Header.Set("Authorization", "Bearer e2e-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(raw, &msg)
		if msg.Status == want {
			return msg
		}
		if time.Now().After(until) {
			t.Fatalf("message not %s in time: %s\n%s", want, raw, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leftovers lists processes whose command line contains pattern.
func leftovers(pattern string) string {
	out, _ := exec.Command("pgrep", "-f", pattern).Output()
	return strings.TrimSpace(string(out))
}

// metaAsToday checks, on the running stack, what Meta's API as it is today
// brings: a delivered message shows its pricing category; a contact's
// STOP makes the next MARKETING send to it a 400 while a UTILITY send
// goes; a PAUSED template event makes the next send of that template a
// 400 naming the status (within the dev stack's cache TTL).
func metaAsToday(t *testing.T, base, sandboxURL, readID string, logs *syncBuffer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/messages/"+readID, nil)
	req.Header.Set("Authorization", "Bearer e2e-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `"pricing":{"category":"utility"`) {
		t.Errorf("a read message shows no pricing category: %s", raw)
	}

	const stopper = "5511987654331"
	if code, raw := devPost(t, sandboxURL+"/_sandbox/reply", "application/json", `{"from":"`+stopper+`","name":"Ana","type":"text","text":"STOP"}`); code != http.StatusOK {
		t.Fatalf("sandbox reply answered %d %s", code, raw)
	}
	marketing := `{"templateId":"alerta1","phoneNumber":"` + stopper + `","params":{"1":"Ana"}}`
	if code, raw := devPost(t, base+"/templates", "application/json", marketing); code != http.StatusBadRequest || !strings.Contains(raw, "opted out") {
		t.Errorf("a MARKETING send after STOP answered %d %s, want 400 naming the opt-out\n%s", code, raw, logs.String())
	}
	utility := `{"templateId":"welcome","phoneNumber":"` + stopper + `","params":{"1":"Ana","2":"templategw"}}`
	if code, raw := devPost(t, base+"/templates", "application/json", utility); code/100 != 2 {
		t.Errorf("a UTILITY send after STOP answered %d %s, want 2xx", code, raw)
	}

	event := `{"field":"message_template_status_update","name":"order_update","language":"en_US","event":"PAUSED","reason":"LOW_QUALITY"}`
	if code, raw := devPost(t, sandboxURL+"/_sandbox/templates/events", "application/json", event); code != http.StatusOK {
		t.Fatalf("sandbox template event answered %d %s", code, raw)
	}
	send := `{"templateId":"order_update","phoneNumber":"5511987654332","params":{"first_name":"Ana","order_id":"A-1"}}`
	var (
		code   int
		answer string
	)
	done := false
	defer func() {
		if !done { // wait ended the test
			t.Logf("a send of the paused template answered %d %s, want 400 naming PAUSED\n%s", code, answer, logs.String())
		}
	}()
	// A refused send writes nothing, so polling with sends is harmless;
	// twice a second leaves the stack its CPU.
	wait.UntilEvery(t, 30*time.Second, 500*time.Millisecond, "a send of the paused template to be refused naming PAUSED", func() bool {
		code, answer = devPost(t, base+"/templates", "application/json", send)
		return code == http.StatusBadRequest && strings.Contains(answer, "PAUSED")
	})
	done = true
}
