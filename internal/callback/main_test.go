package callback_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// logBuffer collects log lines safely from the goroutines of test servers,
// which may still write after a test ended.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logged returns a context whose logger writes into the returned buffer.
func logged() (context.Context, *logBuffer) {
	buf := &logBuffer{}
	return logging.WithLogger(context.Background(), logging.New(buf, "debug")), buf
}

func quiet() context.Context {
	return logging.WithLogger(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// tenants is an in-memory Tenants.
type tenants map[string]domain.Tenant

func (ts tenants) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	t, ok := ts[id]
	if !ok {
		return domain.Tenant{}, store.ErrNotFound
	}
	return t, nil
}
