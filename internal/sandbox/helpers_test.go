package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/sandbox"
)

func serve(t *testing.T, cfg sandbox.Config) (*sandbox.Sandbox, *httptest.Server) {
	t.Helper()
	sb := sandbox.New(cfg)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	// Cleanups run last first: deliveries stop before the server and any
	// receiver made earlier close.
	t.Cleanup(sb.Close)
	return sb, srv
}

// welcomeBody is a valid send of the demo's positional welcome template.
func welcomeBody(to, callback string) string {
	return fmt.Sprintf(`{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"template",
"biz_opaque_callback_data":%q,
"template":{"name":"welcome","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"Maria"},{"type":"text","text":"Loja"}]}]}}`, to, callback)
}

// answer is the union of Meta's success and error answers.
type answer struct {
	Status   int
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
	Contacts []struct {
		Input string `json:"input"`
		WAID  string `json:"wa_id"`
	} `json:"contacts"`
	Error *struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		ErrorData struct {
			MessagingProduct string `json:"messaging_product"`
			Details          string `json:"details"`
		} `json:"error_data"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

func (a answer) code() int {
	if a.Error == nil {
		return 0
	}
	return a.Error.Code
}

func post(t *testing.T, srv *httptest.Server, path, token, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func get(t *testing.T, url, token string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// Every answer to a send, accepted or refused, must have the shape
	// Meta's description gives it.
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/messages") {
		if err := metaSpec(t).ValidateAnswer(resp.StatusCode, raw); err != nil {
			t.Errorf("answer %d %s: %v", resp.StatusCode, raw, err)
		}
	}
	a := answer{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", resp.StatusCode, raw, err)
	}
	return a
}

func sendPath() string { return "/v24.0/" + demo.PhoneNumberID + "/messages" }
