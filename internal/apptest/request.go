package apptest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/queue"
)

// Call is one JSON request to h with a bearer token ("" sends none);
// header pairs follow the body.
func Call(t testing.TB, h http.Handler, method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// WatchedPublisher wraps a real publisher: it counts calls, can fail, and
// can hold the first call until released.
type WatchedPublisher struct {
	Next    accept.Publisher
	Err     error         // returned instead of publishing, when set
	Calls   atomic.Int32  // Publish calls so far
	Entered chan struct{} // closed when the first Publish starts, if non-nil
	Release chan struct{} // the first Publish waits for it, if non-nil
}

// Publish counts the call, holds the first one when asked, and fails with
// Err or hands j to Next.
func (p *WatchedPublisher) Publish(ctx context.Context, j queue.Job) error {
	if p.Calls.Add(1) == 1 && p.Release != nil {
		close(p.Entered)
		select {
		case <-p.Release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if p.Err != nil {
		return p.Err
	}
	return p.Next.Publish(ctx, j)
}
