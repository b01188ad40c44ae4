package sandbox

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by Reply once Close has been called.
var ErrClosed = errors.New("sandbox: closed")

// background tracks the work that posts webhooks, so that Close can stop it
// and Idle can wait for it.
type background struct {
	ctx    context.Context // ends when the sandbox closes
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	pending int
	idle    chan struct{} // closed when pending drops to zero; nil while idle
}

func newBackground() *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{ctx: ctx, cancel: cancel}
}

// start counts one piece of work in, or reports false once the sandbox is
// closed. Every start is matched by a done.
func (b *background) start() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	// Adding under the lock close takes first keeps every Add before the
	// Wait, as sync.WaitGroup requires.
	b.wg.Add(1)
	if b.pending == 0 {
		b.idle = make(chan struct{})
	}
	b.pending++
	return true
}

func (b *background) done() {
	b.mu.Lock()
	b.pending--
	if b.pending == 0 {
		close(b.idle)
		b.idle = nil
	}
	b.mu.Unlock()
	b.wg.Done()
}

// do runs f in its own goroutine with a context that ends on close.
func (b *background) do(f func(ctx context.Context)) {
	if !b.start() {
		return
	}
	go func() {
		defer b.done()
		f(b.ctx)
	}()
}

func (b *background) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}

// Idle waits until no webhook delivery is pending: every status of every
// accepted send so far has been posted or given up on. It returns ctx's
// error if ctx ends first.
func (s *Sandbox) Idle(ctx context.Context) error {
	s.bg.mu.Lock()
	idle := s.bg.idle
	s.bg.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels every pending webhook delivery and waits for them to stop.
// The sandbox still answers sends afterwards, but posts no more webhooks.
// Close is safe to call more than once.
func (s *Sandbox) Close() {
	s.bg.close()
	s.client.CloseIdleConnections()
}

// sleep waits for d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
