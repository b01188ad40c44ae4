package wait_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest/wait"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var polls atomic.Int32
	wait.Until(t, time.Minute, "the third poll", func() bool { return polls.Add(1) == 3 })
	if n := polls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
}

// recorder is a testing.TB that records a failure instead of ending the
// test, so the deadline's failure can be seen.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	panic(r)
}

func TestUntilFailsPastTheDeadline(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != r {
				t.Fatalf("recovered %v, want the recorder's failure", p)
			}
		}()
		wait.Until(r, 10*time.Millisecond, "never", func() bool { return false })
	}()
	if r.failed == "" {
		t.Error("a condition that never holds did not fail past the deadline")
	}
}
