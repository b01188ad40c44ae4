package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
)

func TestServeAnswersAndStops(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, l, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	base := "http://" + l.Addr().String()
	req, _ := http.NewRequest(http.MethodGet, base+"/v23.0/"+demo.WABAID+"/message_templates", nil)
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
		req, _ := http.NewRequest(http.MethodPost, base+"/v23.0/"+demo.PhoneNumberID+"/messages", strings.NewReader(body))
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
