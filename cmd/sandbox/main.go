// Command sandbox serves the Meta WhatsApp Cloud API simulator with the
// demo channel (internal/demo), for trying templategw or any Cloud API
// client without Meta:
//
//	go run ./cmd/sandbox [--addr 127.0.0.1:8090]
//
// See docs/sandbox.md for what it checks and its failure table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	return serve(ctx, l, slog.New(slog.NewTextHandler(os.Stderr, nil)))
}

// serve answers on l until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, l net.Listener, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           sandbox.New(sandbox.Default()).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Requests share ctx, so Ctrl-C also ends the held answers of the
		// …0003 recipients instead of waiting out their 30s delay.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	base := "http://" + l.Addr().String()
	log.Info("Meta Cloud API sandbox listening",
		"url", base,
		"send", fmt.Sprintf("POST %s/v23.0/%s/messages", base, demo.PhoneNumberID),
		"templates", fmt.Sprintf("GET %s/v23.0/%s/message_templates", base, demo.WABAID),
		"requests", base+"/_sandbox/requests",
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
