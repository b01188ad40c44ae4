//go:build unix

package emulator

import (
	"context"
	"errors"
	"sync"
)

// Stack is the Firestore and the Pub/Sub emulator together.
type Stack struct {
	Firestore, PubSub *Emulator
}

// Start starts both emulators in parallel. If either fails it stops the
// other, so an error leaves nothing running.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Port != 0 {
		return nil, errors.New("emulator: Options.Port names one emulator's port; start each emulator on its own")
	}
	var (
		s            Stack
		wg           sync.WaitGroup
		fsErr, psErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); s.Firestore, fsErr = StartFirestore(ctx, opts) }()
	go func() { defer wg.Done(); s.PubSub, psErr = StartPubSub(ctx, opts) }()
	wg.Wait()
	if err := errors.Join(fsErr, psErr); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return &s, nil
}

// Stop stops both emulators in parallel; it is idempotent.
func (s *Stack) Stop() error {
	if s == nil {
		return nil
	}
	var (
		wg           sync.WaitGroup
		fsErr, psErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); fsErr = s.Firestore.Stop() }()
	go func() { defer wg.Done(); psErr = s.PubSub.Stop() }()
	wg.Wait()
	return errors.Join(fsErr, psErr)
}

// Env returns the variables that point the Google Cloud client libraries
// at the stack, for a child process's environment.
func (s *Stack) Env() []string {
	return []string{
		"FIRESTORE_EMULATOR_HOST=" + s.Firestore.Host,
		"PUBSUB_EMULATOR_HOST=" + s.PubSub.Host,
	}
}
