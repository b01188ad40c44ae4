package domain

import (
	"strconv"
	"time"
)

// Conversation is the gateway's own window for a contact on a channel: it
// opens when Meta first reports a template to the contact as sent, or when
// the contact writes, and lasts the tenant's conversation period, extended
// after each inbound message. Meta's own conversation object (gone from
// statuses since Graph API v24.0) plays no part.
//
// The same document carries the plan's reservation: a send that would open
// a conversation under a limited plan reserves one at admission, so
// concurrent sends to new contacts can never open more than the plan has
// left.
type Conversation struct {
	// ID is the gateway's id of the open conversation, "" while it is only
	// reserved.
	ID       string    `firestore:"id" json:"id"`
	Channel  string    `firestore:"channel" json:"channel"`
	Phone    string    `firestore:"phone" json:"phone"`
	OpenedAt time.Time `firestore:"openedAt,omitempty" json:"openedAt,omitzero"`
	// ExpiresAt ends the window; for a reservation that never opened it is
	// ReservedUntil, so sweep removes both the same way.
	ExpiresAt time.Time `firestore:"expiresAt" json:"expiresAt"`

	// ReservedBy is the message holding the reservation.
	ReservedBy string `firestore:"reservedBy,omitempty" json:"reservedBy,omitempty"`
	// ReservedMonth and ReservedShard locate the counter shard the
	// reservation took, to give it back.
	ReservedMonth string    `firestore:"reservedMonth,omitempty" json:"reservedMonth,omitempty"`
	ReservedShard int       `firestore:"reservedShard,omitempty" json:"reservedShard,omitempty"`
	ReservedUntil time.Time `firestore:"reservedUntil,omitempty" json:"reservedUntil,omitzero"`
	// Counted is true once the conversation is in its month's count,
	// through a reservation or when it opened without one.
	Counted bool `firestore:"counted,omitempty" json:"counted,omitempty"`
}

// ReservationTTL is how long a reservation holds without its message
// reaching Meta; past it the contact counts again, which only ever errs
// towards refusing.
const ReservationTTL = 24 * time.Hour

// Open reports whether the conversation is still open at now.
func (c Conversation) Open(now time.Time) bool { return c.ID != "" && now.Before(c.ExpiresAt) }

// Reserved reports whether a send holds a reservation for this contact at
// now.
func (c Conversation) Reserved(now time.Time) bool {
	return c.ReservedBy != "" && now.Before(c.ReservedUntil)
}

// NeedsReservation reports whether a send to this contact at now would
// open a new conversation, and so must reserve one under a limited plan: a
// contact with an open or reserved conversation never counts twice.
func (c Conversation) NeedsReservation(now time.Time) bool {
	return !c.Open(now) && !c.Reserved(now)
}

// Reserve records that message took shard's slot of month at now.
func (c *Conversation) Reserve(message, month string, shard int, now time.Time) {
	c.ReservedBy, c.ReservedMonth, c.ReservedShard = message, month, shard
	c.ReservedUntil = now.Add(ReservationTTL)
	if !c.Open(now) {
		c.ID, c.OpenedAt, c.Counted = "", time.Time{}, false
		c.ExpiresAt = c.ReservedUntil
	}
}

// OpenBy opens the conversation at at for period, as Meta reported a
// template sent or the contact wrote, with id for a new one. It changes
// nothing when the conversation is already open (a late or repeated
// status never moves it), and reports whether it opened one that must
// still be counted: a reserved conversation was counted at admission.
func (c *Conversation) OpenBy(id string, at time.Time, period time.Duration) (opened, count bool) {
	if c.Open(at) {
		return false, false
	}
	count = !(c.ReservedBy != "" && c.ReservedMonth != "")
	c.ID, c.OpenedAt, c.ExpiresAt, c.Counted = id, at, at.Add(period), true
	c.ReservedBy, c.ReservedUntil = "", time.Time{}
	return true, count
}

// ExtendTo moves the expiry of an open conversation to until, never
// earlier; an inbound message extends the window this way.
func (c *Conversation) ExtendTo(until time.Time) bool {
	if c.ID == "" || !until.After(c.ExpiresAt) {
		return false
	}
	c.ExpiresAt = until
	return true
}

// Release gives back message's reservation, when its message failed
// before Meta accepted it; ok is false when the reservation is not
// message's (another send holds it, or it opened).
func (c *Conversation) Release(message string) (month string, shard int, ok bool) {
	if c.ReservedBy != message || c.ReservedMonth == "" {
		return "", 0, false
	}
	month, shard = c.ReservedMonth, c.ReservedShard
	c.ReservedBy, c.ReservedMonth, c.ReservedShard, c.ReservedUntil = "", "", 0, time.Time{}
	return month, shard, true
}

// ConversationKey is the document id of the conversation of a contact on a
// channel.
func ConversationKey(channel, phone string) string { return channel + "_" + phone }

// LimitShards is how many counter documents a month's conversation count
// is spread over: one Firestore document takes about one sustained write a
// second, and only sends to new contacts write one.
const LimitShards = 16

// LimitShardCount is how many shards a plan of limit conversations uses:
// never more than the limit, so every shard in use has room for one.
func LimitShardCount(limit int) int { return min(max(limit, 0), LimitShards) }

// ShardCapacity is how many of a month's limit conversations shard i may
// hold. The capacities of all shards add up to limit exactly, so no
// interleaving of reservations across shards can pass it.
func ShardCapacity(limit, i int) int {
	n := LimitShardCount(limit)
	if i < 0 || i >= n {
		return 0
	}
	c := limit / n
	if i < limit%n {
		c++
	}
	return c
}

// ShardID is the document id of counter shard i.
func ShardID(i int) string { return strconv.Itoa(i) }

// PickShard chooses a shard with room for one more conversation, looking
// from start on (a random start spreads writers over the shards); used
// returns shard i's count. With no room anywhere the send is refused.
func PickShard(limit, start int, used func(i int) int) (shard int, err error) {
	n := LimitShardCount(limit)
	for k := range n {
		i := (start + k) % n
		if used(i) < ShardCapacity(limit, i) {
			return i, nil
		}
	}
	return 0, ErrLimitReached()
}

// ErrLimitReached is the refusal of a send that would open a conversation
// the plan has no room for.
func ErrLimitReached() error { return Errorf(KindLimitReached, "conversation limit reached") }
