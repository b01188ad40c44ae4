package devstack

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/templategw/templategw/emulator"
)

// RestartPubSub takes Pub/Sub away from the running stack for down and
// gives it back where every client points: it stops the Pub/Sub emulator,
// waits, starts a new one on the same host:port and creates the topics and
// push subscriptions again, since the emulator keeps none across a
// restart. The functions' and the sweep ticker's clients reconnect on
// their own; what they failed to publish meanwhile is sweep's to
// republish. It must not run concurrently with Stop.
func (s *Stack) RestartPubSub(ctx context.Context, down time.Duration) error {
	old := s.Emulators.PubSub
	_, p, err := net.SplitHostPort(old.Host)
	if err != nil {
		return fmt.Errorf("pubsub host %q: %w", old.Host, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return fmt.Errorf("pubsub host %q: %w", old.Host, err)
	}
	if err := old.Stop(); err != nil {
		return fmt.Errorf("stop pubsub: %w", err)
	}
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	e, err := emulator.StartPubSub(ctx, emulator.Options{
		Port: port, DataDir: s.opts.DataDir, Project: Project, Stdout: s.opts.Logs, Stderr: s.opts.Logs,
	})
	if err != nil {
		return fmt.Errorf("start pubsub again on %s: %w", old.Host, err)
	}
	s.Emulators.PubSub = e
	return wirePubSub(ctx, s.procs)
}
