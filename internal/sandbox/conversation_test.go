package sandbox

import (
	"testing"
	"time"
)

func TestConversationsExpireAndFollowTheWindow(t *testing.T) {
	c := newConversations()
	k := pairKey{"1", "5511988887777"}
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

	first := c.forSend(k, "marketing", t0)
	if first.origin != "marketing" || !first.expires.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("first %+v, want marketing until t0+24h", first)
	}
	if got := c.forSend(k, "utility", t0.Add(23*time.Hour)); got != first {
		t.Errorf("inside the 24 h: %+v, want the open %+v", got, first)
	}
	if got := c.forSend(pairKey{"2", k.to}, "utility", t0); got.id == first.id {
		t.Errorf("another phone number shares the conversation %s", got.id)
	}

	// A reply after the first conversation expired makes the next one
	// service; a day later the window has closed again.
	c.inbound(k, t0.Add(25*time.Hour))
	second := c.forSend(k, "marketing", t0.Add(26*time.Hour))
	if second.id == first.id || second.origin != originService || !second.expires.Equal(t0.Add(50*time.Hour)) {
		t.Errorf("after expiry with a reply: %+v, want a new service conversation until t0+50h", second)
	}
	if third := c.forSend(k, "utility", t0.Add(50*time.Hour)); third.id == second.id || third.origin != "utility" {
		t.Errorf("after the window closed: %+v, want a new utility conversation", third)
	}

	c.reset()
	if got := c.forSend(k, "utility", t0.Add(51*time.Hour)); got.origin != "utility" {
		t.Errorf("after reset: %+v", got)
	}
}
