package app

import (
	"context"
	"os"
	"syscall"
	"testing"
)

// TestOnSignalStopsThenExits: the leases are given back before the
// process is let go, and nothing happens before the signal.
func TestOnSignalStopsThenExits(t *testing.T) {
	sig := make(chan os.Signal, 1)
	var order []string
	stopped, exited := make(chan struct{}), make(chan struct{})
	go onSignal(sig,
		func(context.Context) error { order = append(order, "stop"); close(stopped); return nil },
		func() { <-stopped; order = append(order, "exit"); close(exited) })
	select {
	case <-stopped:
		t.Fatal("stopped before any signal")
	default:
	}
	sig <- syscall.SIGTERM
	<-exited
	if len(order) != 2 || order[0] != "stop" || order[1] != "exit" {
		t.Fatalf("order %v, want stop then exit", order)
	}
}

// TestShutdownWithoutAnEnvDoesNothing: a process that never served a
// request has no Env to build just to close it.
func TestShutdownWithoutAnEnvDoesNothing(t *testing.T) {
	if built() {
		t.Skip("this test binary built the process's Env")
	}
	if err := Shutdown(context.Background()); err != nil || built() {
		t.Fatalf("Shutdown = %v, built %v; want nil and no Env built", err, built())
	}
}
