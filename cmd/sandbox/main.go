// Command sandbox serves the Meta WhatsApp Cloud API simulator with the
// demo channel (internal/demo), for trying templategw or any Cloud API
// client without Meta:
//
//	go run ./cmd/sandbox [--addr 127.0.0.1:8090] [--webhook URL] [--app-secret S]
//
// With --webhook it posts signed status webhooks for every accepted send,
// and POST /_sandbox/reply makes a contact write back. See docs/sandbox.md
// for what it checks, its failure table and its webhooks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/sandbox"
)

// shutdownGrace bounds how long Ctrl-C waits for answers in flight.
const shutdownGrace = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	addr, cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if cfg.WebhookURL != "" {
		// The URL only: the app secret stays out of logs.
		log.Info("posting signed webhooks", "url", cfg.WebhookURL)
	}
	sb := sandbox.New(cfg)
	// Deferred, so it runs after serve's shutdown: no send is accepted
	// while the deliveries are being cancelled.
	defer sb.Close()
	return serve(ctx, l, sb, log)
}

// parseFlags reads the command line into the listen address and the demo
// channel's sandbox configuration.
func parseFlags(args []string) (string, sandbox.Config, error) {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	webhook := fs.String("webhook", "", "URL to post status and inbound-message webhooks to, such as the gateway's whatsapp function; none when empty")
	secret := fs.String("app-secret", sandbox.DefaultAppSecret, "app secret that signs the webhooks (X-Hub-Signature-256)")
	if err := fs.Parse(args); err != nil {
		return "", sandbox.Config{}, err
	}
	if fs.NArg() > 0 {
		return "", sandbox.Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *webhook != "" {
		// Checked here, since a bad URL would otherwise only show as failed
		// deliveries in /_sandbox/webhooks.
		u, err := url.Parse(*webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", sandbox.Config{}, fmt.Errorf("--webhook %q is not an http(s) URL", *webhook)
		}
	}
	cfg := sandbox.Default()
	cfg.WebhookURL, cfg.AppSecret = *webhook, *secret
	return *addr, cfg, nil
}

// serve answers for sb on l until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, l net.Listener, sb *sandbox.Sandbox, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           sb.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Requests share ctx, so Ctrl-C also ends the held answers of the
		// …0003 recipients instead of waiting out their 30s delay.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	base := "http://" + l.Addr().String()
	log.Info("Meta Cloud API sandbox listening",
		"url", base,
		"send", fmt.Sprintf("POST %s/v24.0/%s/messages", base, demo.PhoneNumberID),
		"templates", fmt.Sprintf("GET %s/v24.0/%s/message_templates", base, demo.WABAID),
		"requests", base+"/_sandbox/requests",
		"webhooks", base+"/_sandbox/webhooks",
		"reply", "POST "+base+"/_sandbox/reply",
		"token", fmt.Sprintf(`POST %s/_sandbox/numbers/%s/token {"revoked":true|false}`, base, demo.PhoneNumberID),
	)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
