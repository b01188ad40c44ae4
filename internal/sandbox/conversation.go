package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// conversationTTL is how long a conversation stays open, and serviceWindow
// how long a contact's message lets the business answer within the
// customer-service window; both are 24 h at Meta.
const (
	conversationTTL = 24 * time.Hour
	serviceWindow   = 24 * time.Hour
)

// originService is the conversation origin (and pricing category) of a
// conversation opened while the contact's service window is open.
const originService = "service"

// conversation is one conversation-based-pricing conversation, as status
// webhooks report it.
type conversation struct {
	id      string
	expires time.Time
	origin  string // marketing, utility, authentication or service
}

// conversations tracks the open conversation and the last inbound message
// of each (phone number id, contact) pair.
type conversations struct {
	mu       sync.Mutex
	open     map[pairKey]conversation
	lastSeen map[pairKey]time.Time // when the contact last wrote
}

func newConversations() *conversations {
	c := &conversations{}
	c.reset()
	return c
}

func (c *conversations) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open = map[pairKey]conversation{}
	c.lastSeen = map[pairKey]time.Time{}
}

// forSend returns the conversation a send at now belongs to: the pair's
// open one, or a new one whose origin is service when the contact wrote in
// the last 24 h and the template's category otherwise.
func (c *conversations) forSend(k pairKey, category string, now time.Time) conversation {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conv, ok := c.open[k]; ok && now.Before(conv.expires) {
		return conv
	}
	origin := category
	if seen, ok := c.lastSeen[k]; ok && now.Sub(seen) < serviceWindow {
		origin = originService
	}
	conv := conversation{id: conversationID(), expires: now.Add(conversationTTL), origin: origin}
	c.open[k] = conv
	return conv
}

// inbound records that the contact wrote at now, opening the pair's
// customer-service window.
func (c *conversations) inbound(k pairKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastSeen[k] = now
}

// windowOpen reports whether the contact wrote to the number within the
// last 24 h at now, which lets the number send it free-form messages.
func (c *conversations) windowOpen(k pairKey, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen, ok := c.lastSeen[k]
	return ok && now.Sub(seen) < serviceWindow
}

// conversationID is 32 hex digits, the shape of Meta's conversation ids.
func conversationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b)
}
