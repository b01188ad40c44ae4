package sandbox

import "strings"

// inject applies the failure table keyed by the recipient's last four
// digits (documented in docs/sandbox.md). A nil error with hold set means
// accept but hold the answer.
func (s *Sandbox) inject(to string) (e *apiError, hold bool) {
	if len(to) < 4 {
		return nil, false
	}
	switch to[len(to)-4:] {
	case "0001":
		return metaError(400, 131026, "message undeliverable: the recipient is not on WhatsApp, uses an old app or has not accepted the terms"), false
	case "0002":
		return metaError(500, 131000, "the sandbox fails every send to this recipient"), false
	case "0003":
		return nil, true
	case "0004":
		return metaError(429, 130429, "the sandbox rate-limits every send to this recipient"), false
	case "0005":
		return metaError(400, 131056, "too many messages to this recipient from this phone number in a short time"), false
	case "0006":
		return metaError(400, 131047, "more than 24 hours have passed since the recipient last replied to this number"), false
	case "0008":
		if s.firstCall(to) {
			return metaError(503, 131000, "service unavailable; the sandbox fails the first send to this recipient"), false
		}
	case "0009":
		// Accepted here; failsLater makes its webhook report it failed.
	case "0010":
		// Accepted here; answersError makes the answer a 500.
	}
	return nil, false
}

// failsLater reports whether an accepted send to to is reported failed
// (131026) by webhook instead of sent, delivered and read: Meta accepts a
// send before it learns the recipient cannot get it.
func failsLater(to string) bool {
	return strings.HasSuffix(to, "0009")
}

// firstCall reports whether this is the first …0008 call to reach the
// injection for to, and remembers that it happened.
func (s *Sandbox) firstCall(to string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failedOnce[to] {
		return false
	}
	s.failedOnce[to] = true
	return true
}

// answersError reports whether an accepted send to to is answered 500
// (131000) all the same: Meta took the message, and its statuses follow,
// but the answer says it failed, so the sender cannot know.
func answersError(to string) bool {
	return strings.HasSuffix(to, "0010")
}
