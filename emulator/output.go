//go:build unix

package emulator

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// tailBytes bounds the output kept for error messages.
const (
	tailBytes = 16 << 10
	tailLines = 30
)

// output forwards an emulator's stdout and stderr to the caller's writers
// and keeps the last bytes of both for error messages. One lock serialises
// both streams, since exec copies each in its own goroutine and the
// caller may pass the same non-thread-safe writer twice.
type output struct {
	mu  sync.Mutex
	buf []byte
}

func newOutput() *output { return &output{} }

func (o *output) writer(dst io.Writer) io.Writer {
	if dst == nil {
		dst = io.Discard
	}
	return &stream{o: o, dst: dst}
}

// tail returns the last lines the emulator wrote.
func (o *output) tail() string {
	o.mu.Lock()
	s := string(o.buf)
	o.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "  (no output)"
	}
	return "  " + strings.Join(lines, "\n  ")
}

// contains reports whether the kept output contains s.
func (o *output) contains(s string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Contains(o.buf, []byte(s))
}

type stream struct {
	o   *output
	dst io.Writer
}

func (s *stream) Write(p []byte) (int, error) {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	s.o.buf = append(s.o.buf, p...)
	if n := len(s.o.buf); n > tailBytes {
		s.o.buf = append(s.o.buf[:0], s.o.buf[n-tailBytes:]...)
	}
	// The emulator must keep running even if the caller's writer fails.
	_, _ = s.dst.Write(p)
	return len(p), nil
}
