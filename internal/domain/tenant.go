package domain

import (
	"strings"
	"time"
)

// Tenant is a business using the gateway.
type Tenant struct {
	ID                string `firestore:"-" json:"id"`
	Name              string `firestore:"name" json:"name"`
	ConversationLimit int    `firestore:"conversationLimit" json:"conversationLimit"` // per month; 0 = unlimited
	// ConversationHours is how long a conversation lasts from its opening
	// and after each inbound message; 0 means DefaultConversationHours.
	ConversationHours int `firestore:"conversationHours,omitempty" json:"conversationHours,omitempty"`
	// RetentionDays is how long messages, their indexes and inbound
	// messages are kept before Firestore's TTL removes them: nil is
	// DefaultRetentionDays, 0 keeps them.
	RetentionDays *int   `firestore:"retentionDays,omitempty" json:"retentionDays,omitempty"`
	CountryCode   string `firestore:"countryCode" json:"countryCode"`
	CallbackURL   string `firestore:"callbackUrl,omitempty" json:"callbackUrl,omitempty"`
	// CallbackSecret signs status callbacks (HMAC-SHA256); it is shown to
	// the tenant once when set and never served back.
	CallbackSecret string `firestore:"callbackSecret,omitempty" json:"-"`
	// UnknownPolicy says what becomes of a message whose outcome stayed
	// unknown past the wait: resent once ("", UnknownResend) or left for a
	// person (UnknownHold).
	UnknownPolicy UnknownPolicy `firestore:"unknownPolicy,omitempty" json:"unknownPolicy,omitempty"`
	// OptOutKeywords and OptInKeywords are the whole-message texts that
	// opt a contact out of marketing and back in; empty means
	// DefaultOptOutKeywords and DefaultOptInKeywords.
	OptOutKeywords []string `firestore:"optOutKeywords,omitempty" json:"optOutKeywords,omitempty"`
	OptInKeywords  []string `firestore:"optInKeywords,omitempty" json:"optInKeywords,omitempty"`
	// RateLimit is how many requests a second the tenant may make on the
	// send routes, all instances together; 0 is the deployment's
	// TENANT_RATE_LIMIT (RequestLimit).
	RateLimit int `firestore:"rateLimit,omitempty" json:"rateLimit,omitempty"`
}

// MaxRateLimit bounds a tenant's requests per second: far above what one
// integration sends, so a larger value is a typo, not a plan.
const MaxRateLimit = 10_000

// RequestLimit is the tenant's requests per second on the send routes:
// its own setting, else def, the deployment's default.
func (t Tenant) RequestLimit(def int) int {
	if t.RateLimit > 0 {
		return t.RateLimit
	}
	return def
}

// DefaultRetentionDays is how long a tenant that set none keeps its
// messages.
const DefaultRetentionDays = 90

// MaxRetentionDays bounds the setting (ten years).
const MaxRetentionDays = 3650

// ExpireAt is when a message or inbound message made at created expires
// under the tenant's retention; zero when the tenant keeps them.
func (t Tenant) ExpireAt(created time.Time) time.Time {
	days := DefaultRetentionDays
	if t.RetentionDays != nil {
		days = *t.RetentionDays
	}
	if days <= 0 {
		return time.Time{}
	}
	return created.AddDate(0, 0, days)
}

// DefaultConversationHours is Meta's customer-service window, the
// conversation period of a tenant that set none.
const DefaultConversationHours = 24

// MaxConversationHours bounds the setting: a conversation is a window the
// gateway counts per month, and a month is its longest sensible length.
const MaxConversationHours = 31 * 24

// CountsConversations reports whether the tenant's plan limits its
// conversations, and so keeps the month's count of those opened: the
// count is the limit's ledger, which admission reserves against. A tenant
// without a limit keeps none, which spares a write per conversation; a
// limit set during a month counts from then on.
func (t Tenant) CountsConversations() bool { return t.ConversationLimit > 0 }

// ConversationPeriod is how long the tenant's conversations last.
func (t Tenant) ConversationPeriod() time.Duration {
	h := t.ConversationHours
	if h <= 0 {
		h = DefaultConversationHours
	}
	return time.Duration(h) * time.Hour
}

// Token is what a bearer token, an API key (stored only as its sha256),
// grants: one tenant's integration, within its scopes and channels, until
// it expires or is revoked (docs/keys.md).
type Token struct {
	Tenant         string   `firestore:"tenant" json:"tenant"`
	Integration    string   `firestore:"integration" json:"integration"`
	Groups         []string `firestore:"groups,omitempty" json:"groups,omitempty"`
	DefaultChannel string   `firestore:"defaultChannel,omitempty" json:"defaultChannel,omitempty"`
	// PendingCode is the HTTP code of a "Pending" answer: 202 (seed 000,
	// the default) or 200 for clients built on seed 001.
	PendingCode int  `firestore:"pendingCode,omitempty" json:"pendingCode,omitempty"`
	Revoked     bool `firestore:"revoked,omitempty" json:"revoked,omitempty"`
	// CallbackURL, when set, receives this integration's status callbacks
	// instead of the tenant's.
	CallbackURL string `firestore:"callbackUrl,omitempty" json:"callbackUrl,omitempty"`

	// KeyID is the public part of the key (KeyIDOf), so a key seen in a
	// log or a repository can be found and revoked; empty for tokens
	// issued before keys had ids.
	KeyID string `firestore:"keyId,omitempty" json:"keyId,omitempty"`
	// Scopes are what the key may do; nil, as on every token issued
	// before scopes existed, is every scope.
	Scopes []Scope `firestore:"scopes,omitempty" json:"scopes,omitempty"`
	// Channels are the channel ids the key may send from; empty is all
	// of the tenant's.
	Channels []string `firestore:"channels,omitempty" json:"channels,omitempty"`
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt  time.Time `firestore:"expiresAt,omitempty" json:"expiresAt,omitzero"`
	CreatedAt  time.Time `firestore:"createdAt,omitempty" json:"createdAt,omitzero"`
	LastUsedAt time.Time `firestore:"lastUsedAt,omitempty" json:"lastUsedAt,omitzero"`
	// Version is the stored document's update time as read, so a
	// last-used write can be conditioned on nobody having written since.
	Version time.Time `firestore:"-" json:"-"`
}

// Channel is one of a tenant's WhatsApp numbers.
type Channel struct {
	ID                string `firestore:"-" json:"id"`
	DisplayNumber     string `firestore:"displayNumber" json:"displayNumber"`
	PhoneNumberID     string `firestore:"phoneNumberId" json:"phoneNumberId"`
	WABAID            string `firestore:"wabaId" json:"wabaId"`
	Provider          string `firestore:"provider" json:"provider"`
	SecretRef         string `firestore:"secretRef" json:"-"`
	SenderCode        string `firestore:"senderCode,omitempty" json:"senderCode,omitempty"`
	CountryCode       string `firestore:"countryCode,omitempty" json:"countryCode,omitempty"`
	Connected         bool   `firestore:"connected" json:"connected"`
	Default           bool   `firestore:"default" json:"default"`
	MessagesPerSecond int    `firestore:"messagesPerSecond" json:"messagesPerSecond"`
	// Hold, when set, is why Meta refuses the channel as a whole: its
	// messages wait as held until it is reconnected (hold.go).
	Hold *Hold `firestore:"hold,omitempty" json:"hold,omitempty"`
}

// PickChannel chooses the sending channel: the one ref names (by id,
// display number or sender code), else the token's default, else the
// channel flagged default, else the only one. A channel that is not
// connected is refused.
func PickChannel(channels []Channel, ref, tokenDefault string) (Channel, error) {
	find := func(match func(Channel) bool) (Channel, bool) {
		for _, c := range channels {
			if match(c) {
				return c, true
			}
		}
		return Channel{}, false
	}
	var c Channel
	var ok bool
	switch {
	case ref != "":
		digits := strings.TrimPrefix(ref, "+")
		c, ok = find(func(c Channel) bool { return c.ID == ref || c.DisplayNumber == digits || c.SenderCode == ref })
		if !ok {
			return Channel{}, Errorf(KindInvalid, "channelNumber: no channel "+ref+" for this tenant", "channelNumber")
		}
	case tokenDefault != "":
		c, ok = find(func(c Channel) bool { return c.ID == tokenDefault })
	}
	if !ok {
		c, ok = find(func(c Channel) bool { return c.Default })
	}
	if !ok && len(channels) == 1 {
		c, ok = channels[0], true
	}
	if !ok || !c.Connected {
		return Channel{}, Errorf(KindChannelNotConnected, "channel not connected")
	}
	return c, nil
}
