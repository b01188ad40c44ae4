package request_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/request"
)

// Retry-After is whole seconds rounded up, at least 1, and only on an
// error that asks the client to wait.
func TestSetRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{domain.RateLimited(100 * time.Millisecond), "1"},
		{domain.RateLimited(2 * time.Second), "2"},
		{fmt.Errorf("send: %w", domain.RateLimited(2300*time.Millisecond)), "3"},
		{domain.Errorf(domain.KindInvalid, "bad"), ""},
		{errors.New("boom"), ""},
	} {
		w := httptest.NewRecorder()
		request.SetRetryAfter(w, tc.err)
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("%v: Retry-After = %q, want %q", tc.err, got, tc.want)
		}
	}
	if k := domain.KindOf(domain.RateLimited(time.Second)); k != domain.KindRateLimited {
		t.Errorf("RateLimited's kind = %v", k)
	}
}
