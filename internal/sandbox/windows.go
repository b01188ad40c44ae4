package sandbox

import (
	"sync"
	"time"
)

// serviceWindow is how long a contact's message lets the business answer
// freely (the customer-service window), and entryPointWindow how long a
// conversation started from a click-to-WhatsApp ad stays free; both as at
// Meta.
const (
	serviceWindow    = 24 * time.Hour
	entryPointWindow = 72 * time.Hour
)

// windows tracks, per (phone number id, contact), when the contact last
// wrote, when they last came from an ad, and the last message the number
// sent them (what a tapped button or a reaction refers to).
type windows struct {
	mu         sync.Mutex
	lastSeen   map[pairKey]time.Time
	entryPoint map[pairKey]time.Time
	lastSent   map[pairKey]string
}

func newWindows() *windows {
	w := &windows{}
	w.reset()
	return w
}

func (w *windows) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastSeen = map[pairKey]time.Time{}
	w.entryPoint = map[pairKey]time.Time{}
	w.lastSent = map[pairKey]string{}
}

// inbound records that the contact wrote at now, opening the pair's
// customer-service window, and its free entry point window when the
// message came from an ad.
func (w *windows) inbound(k pairKey, now time.Time, fromAd bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastSeen[k] = now
	if fromAd {
		w.entryPoint[k] = now
	}
}

// serviceOpen reports whether the contact wrote to the number within the
// last 24 h at now, which lets the number send it free-form messages.
func (w *windows) serviceOpen(k pairKey, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen, ok := w.lastSeen[k]
	return ok && now.Sub(seen) < serviceWindow
}

// entryPointOpen reports whether the contact came from an ad within the
// last 72 h at now.
func (w *windows) entryPointOpen(k pairKey, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.entryPoint[k]
	return ok && now.Sub(at) < entryPointWindow
}

// sent records wamid as the last message the number sent the contact.
func (w *windows) sent(k pairKey, wamid string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastSent[k] = wamid
}

// lastSentTo is the last message the number sent the contact, if any.
func (w *windows) lastSentTo(k pairKey) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wamid, ok := w.lastSent[k]
	return wamid, ok
}
