package memory

import (
	"context"
	"time"
)

// RefuseAll is a tenant request limiter every request is over: each is
// told to retry after RetryAfter.
type RefuseAll struct{ RetryAfter time.Duration }

// Allow refuses.
func (r RefuseAll) Allow(context.Context, string, int) (bool, time.Duration, error) {
	return false, r.RetryAfter, nil
}
