// Package wait is the one way tests wait for something to happen: poll a
// condition until it holds or a deadline passes, never a fixed sleep that
// hopes the thing is done. It imports nothing of the project, so unit
// tests of any package can use it.
package wait

import (
	"testing"
	"time"
)

// Until polls cond until it holds, failing t once within has passed.
// The first polls come quickly, so a fast condition costs little time;
// later ones back off to maxInterval, so a slow one costs little CPU.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	UntilEvery(t, within, maxInterval, what, cond)
}

// UntilEvery is Until with the pause between polls backing off to every
// rather than maxInterval: for a condition whose every poll costs the
// system under test real work, such as counting thousands of messages.
func UntilEvery(t testing.TB, within, every time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	interval := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(interval)
		interval = min(2*interval, every)
	}
}

// maxInterval bounds the pause between two polls of Until.
const maxInterval = 50 * time.Millisecond
