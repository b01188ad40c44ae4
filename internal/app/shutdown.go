package app

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownGrace bounds giving back the leases when the process stops:
// Cloud Run kills an instance 10 s after SIGTERM, and a lease nobody gives
// back expires on its own within seconds anyway.
const shutdownGrace = 3 * time.Second

// Shutdown gives back the leases of the process's Env (Env.Close), if one
// was built; the dev stack's function processes call it as they stop.
func Shutdown(ctx context.Context) error {
	if !built() {
		return nil
	}
	env, err := process()
	if err != nil {
		return nil
	}
	return closeWithin(ctx, env)
}

// closeWithin closes env, waiting at most shutdownGrace.
func closeWithin(ctx context.Context, env *Env) error {
	ctx, cancel := context.WithTimeout(ctx, shutdownGrace)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.Close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeOnTerm, in a deployed function (Cloud Run sets K_SERVICE), gives
// back the process's leases when Cloud Run stops the instance with
// SIGTERM, so that the other instances take the room at their next
// renewal, then lets SIGTERM end the process as it would have.
func closeOnTerm(env *Env) {
	if os.Getenv("K_SERVICE") == "" {
		return
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	stop := func(ctx context.Context) error { return closeWithin(ctx, env) }
	go onSignal(term, stop, func() {
		signal.Reset(syscall.SIGTERM)
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Signal(syscall.SIGTERM)
		}
	})
}

// onSignal waits for a signal on sig, runs stop, and then exit.
func onSignal(sig <-chan os.Signal, stop func(context.Context) error, exit func()) {
	<-sig
	_ = stop(context.Background())
	exit()
}
