package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// person is one entry of a change's contacts: who wrote.
type person struct {
	name, waID, userID string
}

// readContacts reads a change's contacts, skipping an entry that cannot
// be read.
func readContacts(log *slog.Logger, raws []json.RawMessage) []person {
	out := make([]person, 0, len(raws))
	for _, raw := range raws {
		var c contact
		if err := json.Unmarshal(raw, &c); err != nil {
			log.Warn("unreadable contact of an inbound message ignored", "error", err.Error())
			continue
		}
		out = append(out, person{name: c.Profile.Name, waID: c.WAID, userID: c.UserID})
	}
	return out
}

// readInbound reads one inbound message. When its content cannot be read
// (a field of an odd type), what identifies it still can be, and the
// message is kept with its type alone rather than lost.
func readInbound(log *slog.Logger, raw json.RawMessage) (inbound, bool) {
	var m inbound
	err := json.Unmarshal(raw, &m)
	if err == nil {
		return m, true
	}
	var h inboundHead
	if json.Unmarshal(raw, &h) != nil {
		return inbound{}, false
	}
	log.Warn("inbound message content unreadable; kept without it", "type", domain.Clip(h.Type, 32), "error", err.Error())
	return inbound{From: h.From, FromUserID: h.FromUserID, ID: h.ID, Timestamp: h.Timestamp, Type: h.Type}, true
}

// identify finds who sent m: its number (from, else the contact's wa_id)
// and its business-scoped user id (from_user_id, else the contact's
// user_id), either of which may be absent, and its profile name. The
// contact is the entry matching either id, else the only one given.
func identify(m inbound, people []person) (phone, userID, name string) {
	phone, userID = m.From, m.FromUserID
	var who *person
	for i, p := range people {
		if phone != "" && p.waID == phone || userID != "" && p.userID == userID {
			who = &people[i]
			break
		}
	}
	if who == nil && len(people) == 1 {
		who = &people[0]
	}
	if who != nil {
		if phone == "" {
			phone = who.waID
		}
		if userID == "" {
			userID = who.userID
		}
		name = who.name
	}
	if !isWAID(phone) {
		phone = ""
	}
	userID, _ = domain.ParseUserID(userID)
	return phone, userID, name
}

// isWAID reports whether s is a WhatsApp number as Meta writes it: digits,
// country code first. Meta's word is taken over libphonenumber's, whose
// data may lag behind a country's new numbers.
func isWAID(s string) bool {
	if len(s) < 6 || len(s) > 15 || s[0] == '0' {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// inbound stores one inbound message and forwards it to the tenant. A
// message identified by its sender's business-scoped user id alone is
// stored and forwarded like any other.
func (s *Server) inbound(ctx context.Context, log *slog.Logger, line store.Line, m inbound, people []person, received time.Time) error {
	phone, userID, name := identify(m, people)
	if phone == "" && userID == "" || !store.ValidID(m.ID) {
		log.Warn("inbound message without a usable sender or id ignored", "phone", domain.MaskPhone(m.From))
		return nil
	}
	in := domain.InboundMessage{
		ID: m.ID, Channel: line.Channel, Phone: phone, UserID: userID, ProfileName: name,
		Type: m.Type, At: eventTime(log, m.Timestamp, received),
	}
	content(&in, m)
	in.Bound()
	stored, created, err := s.store.RecordInbound(ctx, line.Tenant, in)
	if err != nil {
		return err
	}
	log.Info("inbound message stored", "phone", domain.MaskPhone(phone), "userHash", logging.Fingerprint(userID),
		"type", stored.Type, "replay", !created)
	if stored.Type == "text" {
		if err := s.keyword(ctx, log, line.Tenant, phone, stored.Text, stored.At); err != nil {
			return err
		}
	}
	return s.forward(ctx, log, line.Tenant, stored)
}

// forward publishes the message.received callback to the tenant's
// callback URL. A replayed message is forwarded again: Meta replays a body
// whose first delivery may have stopped between the store and the
// publish, and receivers deduplicate on the event id, Meta's wamid.
func (s *Server) forward(ctx context.Context, log *slog.Logger, tenant string, in domain.InboundMessage) error {
	if s.notify == nil {
		return nil
	}
	t, err := s.lines.Tenant(ctx, tenant)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("inbound message of a tenant that no longer exists not forwarded")
		return nil
	}
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenant, err)
	}
	if t.CallbackURL != "" {
		s.notify.NotifyReceived(ctx, tenant, t.CallbackURL, in)
	}
	return nil
}

// content fills in the type-specific part of m. Meta's interactive
// replies take their own type (button_reply, list_reply).
func content(in *domain.InboundMessage, m inbound) {
	if m.Context != nil {
		in.Context = m.Context.ID
	}
	if m.Text != nil {
		in.Text = m.Text.Body
	}
	if md := mediaOf(m); md != nil {
		in.Media = &domain.InboundMedia{ID: md.ID, MimeType: md.MimeType, Caption: md.Caption, Filename: md.Filename, SHA256: md.SHA256}
	}
	if b := m.Button; b != nil {
		in.Reply = &domain.InboundReply{ID: b.Payload, Title: b.Text}
	}
	if i := m.Interactive; i != nil {
		row := i.ButtonReply
		if row == nil {
			row = i.ListReply
		}
		if row != nil {
			in.Reply = &domain.InboundReply{ID: row.ID, Title: row.Title, Description: row.Description}
		}
		if i.Type != "" {
			in.Type = i.Type
		}
	}
	if r := m.Reaction; r != nil {
		in.Reaction = &domain.InboundReaction{MessageID: r.MessageID, Emoji: r.Emoji}
	}
	if l := m.Location; l != nil {
		in.Location = &domain.InboundLocation{Latitude: l.Latitude, Longitude: l.Longitude, Name: l.Name, Address: l.Address}
	}
	for i, c := range m.Contacts {
		if i == domain.MaxSharedContacts {
			break
		}
		sc := domain.SharedContact{Name: c.Name.FormattedName}
		for j, p := range c.Phones {
			if j == domain.MaxSharedPhones {
				break
			}
			number := p.WAID
			if number == "" {
				number = p.Phone
			}
			sc.Phones = append(sc.Phones, number)
		}
		in.Contacts = append(in.Contacts, sc)
	}
}

// mediaOf is the media object of m's type, else the first one it has.
func mediaOf(m inbound) *media {
	byType := map[string]*media{"image": m.Image, "video": m.Video, "audio": m.Audio, "document": m.Document, "sticker": m.Sticker}
	if md := byType[m.Type]; md != nil {
		return md
	}
	for _, md := range []*media{m.Image, m.Video, m.Audio, m.Document, m.Sticker} {
		if md != nil {
			return md
		}
	}
	return nil
}
