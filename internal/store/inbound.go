package store

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
)

// Inbound is a message a contact sent to one of the tenant's channels.
type Inbound = domain.InboundMessage

// PutInbound is RecordInbound for a caller that needs only to know the
// message is stored.
func (s *Store) PutInbound(ctx context.Context, tenant string, in Inbound) error {
	_, _, err := s.RecordInbound(ctx, tenant, in)
	return err
}

// RecordInbound stores an inbound message, upserts its contact, opens the
// contact's customer-service window on the channel until
// in.At+domain.ServiceWindow, and opens the contact's conversation on the
// channel (counted when it opens) or extends it to the tenant's period
// after the message, in one transaction. It returns the message as stored,
// with the conversation it belongs to.
//
// The contact is the document of its phone when Meta gave one (which then
// also keeps the user id, when given), else the document of its
// business-scoped user id (domain.ContactKey); the same key names its
// conversations. A replayed message (same provider id) changes nothing
// and is returned as first stored, with created false; a late one never
// shortens the window.
func (s *Store) RecordInbound(ctx context.Context, tenant string, in Inbound) (stored Inbound, created bool, err error) {
	key := in.ContactKey()
	if !ValidID(tenant) || !ValidID(in.ID) || (in.Phone == "" && in.UserID == "") || !ValidID(key) {
		return in, false, fmt.Errorf("inbound message from %s: ids Firestore cannot name", who(in))
	}
	inRef, contactRef := s.sub(tenant, "inbound").Doc(in.ID), s.contact(tenant, key)
	convRef := s.conversation(tenant, in.Channel, key)
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		stored, created = in, false
		snap, err := tx.Get(inRef)
		if err == nil {
			if err := snap.DataTo(&stored); err != nil {
				return err
			}
			stored.ID = in.ID
			return nil // a replay
		}
		if !notFound(err) {
			return err
		}
		var c domain.Contact
		snap, err = tx.Get(contactRef)
		switch {
		case err == nil:
			if err := snap.DataTo(&c); err != nil {
				return err
			}
		case !notFound(err):
			return err
		}
		conv, err := readConversation(tx, convRef)
		if err != nil {
			return err
		}
		settings, err := s.tenantIn(tx, tenant)
		if err != nil {
			return err
		}
		period := settings.ConversationPeriod()
		stored.ExpireAt = settings.ExpireAt(in.At)
		until := in.At.Add(domain.ServiceWindow)
		if c.Windows[in.Channel].After(until) {
			until = c.Windows[in.Channel]
		}
		contact := map[string]any{"updatedAt": in.At, "windows": map[string]any{in.Channel: until}}
		if in.Phone != "" {
			contact["phone"] = in.Phone
		}
		if in.UserID != "" {
			contact["userId"] = in.UserID
		}
		if in.ProfileName != "" {
			contact["profileName"] = in.ProfileName
		}
		conv.Channel, conv.Phone = in.Channel, key
		opened, count := conv.OpenBy(NewID(), in.At, period)
		extended := !opened && conv.ExtendTo(in.At.Add(period))
		stored.ConversationID = conv.ID
		if err := tx.Create(inRef, stored); err != nil {
			return err
		}
		created = true
		if err := tx.Set(contactRef, contact, firestore.MergeAll); err != nil {
			return err
		}
		if !opened && !extended {
			return nil
		}
		if err := tx.Set(convRef, conv); err != nil {
			return err
		}
		if count && settings.CountsConversations() {
			ref, v := s.conversationCount(tenant, in.At)
			return tx.Set(ref, v, firestore.MergeAll)
		}
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return in, false, fmt.Errorf("store inbound message from %s: %w", who(in), masked(err))
	}
	return stored, created, nil
}

// who names an inbound message's sender for an error: a masked phone, or
// a fingerprint of the user id.
func who(in Inbound) string {
	if in.Phone != "" {
		return domain.MaskPhone(in.Phone)
	}
	return "user " + logging.Fingerprint(in.UserID)
}
