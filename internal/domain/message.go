package domain

import "time"

// Message is one send, a template or a free-form text, and its life.
type Message struct {
	ID          string `firestore:"-"`
	Tenant      string `firestore:"tenant"`
	Status      Status `firestore:"status"`
	Channel     string `firestore:"channel"`
	PhoneNumber string `firestore:"phoneNumber"`
	// Type is what the message carries; "" (messages stored before text
	// existed) is a template.
	Type       MessageType     `firestore:"type,omitempty"`
	TemplateID string          `firestore:"templateId"`
	Template   TemplateMessage `firestore:"template"`
	// Text is the body of a free-form text message (Type MessageText).
	Text      string `firestore:"text,omitempty"`
	ClientRef string `firestore:"clientRef,omitempty"`
	// Batch is the id of the bulk send (broadcast) the message belongs to,
	// "" for a single send. It is written even when empty: sweep finds the
	// single sends it republishes by batch == "", and leaves a broadcast's
	// messages to the broadcast's own sweep, which knows when it is paused.
	Batch string `firestore:"batch"`
	// CallbackURL receives the message's status changes, chosen at accept
	// (the integration's, else the tenant's); "" sends none.
	CallbackURL    string `firestore:"callbackUrl,omitempty"`
	ConversationID string `firestore:"conversationId,omitempty"`
	// Admitted is the contact's conversation on the channel as admission
	// found it open, nil when none was: dispatch tells sent from pending
	// by it without reading the conversation again.
	Admitted          *AdmittedConversation `firestore:"admitted,omitempty"`
	ProviderMessageID string                `firestore:"providerMessageId,omitempty"`
	Attempts          int                   `firestore:"attempts"`
	Error             *MessageError         `firestore:"error,omitempty"`
	// Pricing is Meta's pricing of the message as its statuses report it
	// (RecordPricing); nil until one does.
	Pricing *Pricing `firestore:"pricing,omitempty"`
	// Usage is, once the message is billable, the month, channel and
	// category it counts in (UsageKey): the usage report counts messages
	// by it, so billing a message writes nothing but the message.
	Usage      string         `firestore:"usage,omitempty"`
	History    []HistoryEntry `firestore:"history"`
	LeaseUntil time.Time      `firestore:"leaseUntil,omitempty"`
	// ReconcileUntil is, while unknown, how long Meta's webhook has to
	// settle the message before sweep resends it; zero leaves it for a
	// person (unknown.go).
	ReconcileUntil time.Time `firestore:"reconcileUntil,omitempty"`
	// ResentAt is when an unknown message was sent again; a message is
	// resent on its own at most once.
	ResentAt  time.Time `firestore:"resentAt,omitempty"`
	CreatedAt time.Time `firestore:"createdAt"`
	UpdatedAt time.Time `firestore:"updatedAt"`
	// ExpireAt is when Firestore's TTL removes the message (the tenant's
	// retention); zero keeps it.
	ExpireAt time.Time `firestore:"expireAt,omitempty"`

	// Version is the stored document's update time as the store last read
	// or wrote it, not stored itself: a later write conditioned on it
	// lands only if no one changed the message in between.
	Version time.Time `firestore:"-" json:"-"`
}

// AdmittedConversation is the open conversation a send was admitted into.
type AdmittedConversation struct {
	ID        string    `firestore:"id"`
	ExpiresAt time.Time `firestore:"expiresAt"`
}

// AdmittedConversation is the contact's conversation as admission found
// it: the zero Conversation (closed) when none was open.
func (m Message) AdmittedConversation() Conversation {
	if m.Admitted == nil {
		return Conversation{}
	}
	return Conversation{ID: m.Admitted.ID, Channel: m.Channel, Phone: m.PhoneNumber, ExpiresAt: m.Admitted.ExpiresAt}
}

// Move changes the message's state when the state machine allows it and
// records the change in its history.
func (m *Message) Move(to Status, at time.Time) error {
	if !CanMove(m.Status, to) {
		return &ErrTransition{From: m.Status, To: to}
	}
	m.Status = to
	m.History = append(m.History, HistoryEntry{Status: to, At: at})
	m.UpdatedAt = at
	if to != StatusDispatching {
		m.LeaseUntil = time.Time{}
	}
	return nil
}

// NewMessage is a message just accepted: its first history entry is
// "accepted".
func NewMessage(id, tenant, channel, phone, templateID string, tpl TemplateMessage, now time.Time) Message {
	return Message{
		ID: id, Tenant: tenant, Status: StatusAccepted, Channel: channel, PhoneNumber: phone,
		TemplateID: templateID, Template: tpl,
		History:   []HistoryEntry{{Status: StatusAccepted, At: now}},
		CreatedAt: now, UpdatedAt: now,
	}
}

// Contact is a recipient as the tenant knows it; contacts are shared by all
// of a tenant's channels.
type Contact struct {
	Phone     string `firestore:"phone" json:"phone"`
	FirstName string `firestore:"firstName,omitempty" json:"firstName,omitempty"`
	LastName  string `firestore:"lastName,omitempty" json:"lastName,omitempty"`
	Name      string `firestore:"name,omitempty" json:"name,omitempty"`
	// ProfileName is the name the contact shows on WhatsApp, from its
	// inbound messages.
	ProfileName string `firestore:"profileName,omitempty" json:"profileName,omitempty"`
	// Windows holds, per channel id, when the customer-service window the
	// contact's last inbound message opened closes.
	Windows map[string]time.Time `firestore:"windows,omitempty" json:"-"`
	// CustomParams are the tenant's own attributes of the contact (Wati's
	// customParams), by name.
	CustomParams map[string]string `firestore:"customParams,omitempty" json:"customParams,omitempty"`
	// ChatStatus holds, per channel id, the state of the contact's chat on
	// that channel (a ChatStatus value).
	ChatStatus map[string]ChatStatus `firestore:"chatStatus,omitempty" json:"-"`
	// Marketing is the contact's marketing opt-out state.
	Marketing OptOut `firestore:"marketing,omitempty" json:"marketing"`
	// CreatedAt is when the contact was first stored, whoever stored it;
	// the store fills it from the document's creation time.
	CreatedAt time.Time `firestore:"-" json:"createdAt"`
	UpdatedAt time.Time `firestore:"updatedAt" json:"updatedAt"`
}

// Learns reports whether a send's contact c tells the stored one
// anything new, known saying whether there is a stored one at all. A send
// merges only its non-empty names, so a contact that already has them is
// not written again: one Firestore write less on every repeat send.
func (c Contact) Learns(stored Contact, known bool) bool {
	if !known {
		return true
	}
	differs := func(sent, have string) bool { return sent != "" && sent != have }
	return differs(c.FirstName, stored.FirstName) || differs(c.LastName, stored.LastName) || differs(c.Name, stored.Name)
}

// WindowOpen reports whether the contact may get free-form messages from
// channel at now: it wrote to that channel within domain.ServiceWindow.
func (c Contact) WindowOpen(channel string, now time.Time) bool {
	return now.Before(c.Windows[channel])
}

// ContactName is the name shown for a send: clientName when given, else
// "firstName lastName", else the phone number (seed 001).
func ContactName(clientName, firstName, lastName, phone string) string {
	if clientName != "" {
		return clientName
	}
	if n := trimJoin(firstName, lastName); n != "" {
		return n
	}
	return phone
}

func trimJoin(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}
