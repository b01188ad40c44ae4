package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/sandbox"
)

func TestServeAnswersAndStops(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, l, sandbox.New(sandbox.Default()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()

	base := "http://" + l.Addr().String()
	req, _ := http.NewRequest(http.MethodGet, base+"/v24.0/"+demo.WABAID+"/message_templates", nil)
	req.Header.Set("Authorization", "Bearer "+demo.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"welcome"`) {
		t.Fatalf("template list: %d %s", resp.StatusCode, body)
	}

	// A held answer (…0003) must not keep shutdown waiting for 30s.
	held := make(chan struct{})
	go func() {
		defer close(held)
		body := `{"messaging_product":"whatsapp","to":"5511900000003","type":"template","template":{"name":"welcome","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}}`
		req, _ := http.NewRequest(http.MethodPost, base+"/v24.0/"+demo.PhoneNumberID+"/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+demo.AccessToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("serve did not stop within 4s of cancel")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v, want it not to wait for the held answer", d)
	}
	<-held
}

func TestParseFlags(t *testing.T) {
	addr, cfg, err := parseFlags(nil)
	if err != nil || addr != "127.0.0.1:8090" || cfg.WebhookURL != "" || cfg.AppSecret != sandbox.DefaultAppSecret {
		t.Errorf("defaults: %q %q %q %v", addr, cfg.WebhookURL, cfg.AppSecret, err)
	}
	if len(cfg.Numbers) != 1 || cfg.Numbers[0].PhoneNumberID != demo.PhoneNumberID {
		t.Errorf("numbers %+v, want the demo channel's", cfg.Numbers)
	}
	_, cfg, err = parseFlags([]string{"--webhook", "http://127.0.0.1:8080/whatsapp", "--app-secret", "s3"})
	if err != nil || cfg.WebhookURL != "http://127.0.0.1:8080/whatsapp" || cfg.AppSecret != "s3" {
		t.Errorf("flags: %q %q %v", cfg.WebhookURL, cfg.AppSecret, err)
	}
	for _, args := range [][]string{{"--webhook", "127.0.0.1:8080/whatsapp"}, {"--webhook", "ftp://x/y"}, {"extra"}} {
		if _, _, err := parseFlags(args); err == nil {
			t.Errorf("%q: want an error", args)
		}
	}
}

// TestWebhookFlagSigns proves the flags reach the webhooks: a reply is
// posted to --webhook signed with --app-secret.
func TestWebhookFlagSigns(t *testing.T) {
	got := make(chan string, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte("s3"))
		m.Write(body)
		got <- r.Header.Get("X-Hub-Signature-256") + " " + "sha256=" + hex.EncodeToString(m.Sum(nil))
	}))
	defer rc.Close()
	_, cfg, err := parseFlags([]string{"--webhook", rc.URL, "--app-secret", "s3"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(cfg)
	defer sb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, l, sb, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	defer func() { cancel(); <-done }()

	resp, err := http.Post("http://"+l.Addr().String()+"/_sandbox/reply", "application/json",
		strings.NewReader(`{"from":"5511977776666","text":"oi"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reply: HTTP %d", resp.StatusCode)
	}
	sigs := strings.Fields(<-got)
	if len(sigs) != 2 || sigs[0] != sigs[1] {
		t.Errorf("signature %q, want the body's HMAC with --app-secret", sigs)
	}
}
