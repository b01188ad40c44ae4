package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// WAMIDOf returns the message a provider message id belongs to.
func (s *Store) WAMIDOf(ctx context.Context, wamid string) (WAMID, error) {
	var w WAMID
	err := get(ctx, s.fs.Collection("wamids").Doc(wamid), &w)
	return w, err
}

// ApplyUpdate applies a provider update to a message in one transaction:
// the message moves forward only (domain.Message.Apply), a provider id it
// learns is indexed under wamids/, and a reported conversation opens or
// extends the contact's conversation on the message's channel; a newly
// opened one is counted against the month's plan limit. changed reports
// whether the message's status moved. The conversation is recorded even
// when the status did not move, because the status carrying it ("sent")
// may arrive after a later one ("read"); a duplicate writes nothing.
func (s *Store) ApplyUpdate(ctx context.Context, tenant, id string, u domain.Update) (m domain.Message, changed bool, err error) {
	if !ValidID(tenant) || !ValidID(id) {
		return m, false, fmt.Errorf("update message %q: %w", id, ErrNotFound)
	}
	ref := s.message(tenant, id)
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		changed = false
		var err error
		if m, err = readMessage(tx, ref); err != nil {
			return err
		}
		hadID := m.ProviderMessageID
		var convRef, seenRef *firestore.DocumentRef
		var conv domain.Conversation
		seen := true
		if u.Conversation != nil && u.Conversation.ID != "" && ValidID(u.Conversation.ID) {
			convRef = s.conversation(tenant, m.Channel, m.PhoneNumber)
			if conv, err = readConversation(tx, convRef); err != nil {
				return err
			}
			seenRef = s.sub(tenant, "conversationIds").Doc(u.Conversation.ID)
			if _, err := tx.Get(seenRef); notFound(err) {
				seen = false
			} else if err != nil {
				return err
			}
		}
		if changed, err = m.Apply(u); err != nil || !m.Owns(u) {
			return err
		}
		learnt := convRef != nil && m.ConversationID == "" && m.Status != domain.StatusFailed
		if learnt {
			m.ConversationID = u.Conversation.ID
		}
		if changed || learnt {
			if err := tx.Set(ref, m); err != nil {
				return err
			}
		}
		if hadID == "" && m.ProviderMessageID != "" {
			if err := s.indexWAMID(tx, m); err != nil {
				return err
			}
		}
		if convRef == nil {
			return nil
		}
		next := *u.Conversation
		next.Channel, next.Phone = m.Channel, m.PhoneNumber
		if merged, write := conv.Extend(next, u.At); write {
			if err := tx.Set(convRef, merged); err != nil {
				return err
			}
		}
		if seen {
			return nil
		}
		// Each conversation counts once against the month it was first
		// reported in, however many statuses carry it, even after sweep
		// closed its document.
		if err := tx.Create(seenRef, map[string]any{"at": u.At, "expireAt": u.At.Add(conversationIDTTL)}); err != nil {
			return err
		}
		return tx.Set(s.conversationShard(tenant, domain.MonthKey(u.At)), map[string]any{"count": firestore.Increment(1)}, firestore.MergeAll)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return m, false, fmt.Errorf("update message %s/%s to %s: %w", tenant, id, u.Status, masked(err))
	}
	return m, changed, nil
}

func (s *Store) conversation(tenant, channel, phone string) *firestore.DocumentRef {
	return s.sub(tenant, "conversations").Doc(domain.ConversationKey(channel, phone))
}

// readConversation reads a conversation inside a transaction; a missing
// one is the zero Conversation (closed).
func readConversation(tx *firestore.Transaction, ref *firestore.DocumentRef) (domain.Conversation, error) {
	var c domain.Conversation
	snap, err := tx.Get(ref)
	if notFound(err) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	return c, snap.DataTo(&c)
}

// Conversation returns the contact's conversation on a channel; a missing
// one is the zero Conversation (closed).
func (s *Store) Conversation(ctx context.Context, tenant, channel, phone string) (domain.Conversation, error) {
	var c domain.Conversation
	if err := get(ctx, s.conversation(tenant, channel, phone), &c); err != nil && err != ErrNotFound {
		return c, err
	}
	return c, nil
}

// conversationIDTTL is how long a counted conversation id is remembered
// (a TTL policy on expireAt removes it): far longer than a conversation
// lives and its late webhooks arrive.
const conversationIDTTL = 45 * 24 * time.Hour

// conversationShards spreads the monthly conversation count over several
// documents: one document takes about one sustained write per second.
const conversationShards = 10

func (s *Store) conversationCounter(tenant, month string) *firestore.CollectionRef {
	return s.sub(tenant, "counters").Doc("conversations-" + month).Collection("shards")
}

func (s *Store) conversationShard(tenant, month string) *firestore.DocumentRef {
	return s.conversationCounter(tenant, month).Doc(strconv.Itoa(rand.IntN(conversationShards)))
}

// ConversationsOpened returns how many conversations a tenant opened in a
// month (domain.MonthKey), summing the counter's shards in one query.
func (s *Store) ConversationsOpened(ctx context.Context, tenant, month string) (int, error) {
	docs, err := s.conversationCounter(tenant, month).Documents(ctx).GetAll()
	if err != nil {
		return 0, fmt.Errorf("count conversations of %s in %s: %w", tenant, month, err)
	}
	n := 0
	for _, d := range docs {
		if v, ok := d.Data()["count"].(int64); ok {
			n += int(v)
		}
	}
	return n, nil
}

// Inbound is a message a contact sent to one of the tenant's channels.
type Inbound struct {
	ID          string    `firestore:"-"` // the provider's message id
	Channel     string    `firestore:"channel"`
	Phone       string    `firestore:"phone"`
	ProfileName string    `firestore:"profileName,omitempty"`
	Type        string    `firestore:"type"`
	Text        string    `firestore:"text,omitempty"`
	At          time.Time `firestore:"at"`
}

// PutInbound stores an inbound message, upserts its contact and opens the
// contact's customer-service window on the channel until
// in.At+domain.ServiceWindow, in one transaction. A replayed message (same
// provider id) changes nothing, and a late one never shortens the window.
func (s *Store) PutInbound(ctx context.Context, tenant string, in Inbound) error {
	if !ValidID(in.ID) || !ValidID(in.Phone) {
		return fmt.Errorf("inbound message from %s: ids Firestore cannot name", domain.MaskPhone(in.Phone))
	}
	inRef, contactRef := s.sub(tenant, "inbound").Doc(in.ID), s.sub(tenant, "contacts").Doc(in.Phone)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Get(inRef); err == nil || !notFound(err) {
			return err // nil: a replay
		}
		var c domain.Contact
		snap, err := tx.Get(contactRef)
		switch {
		case err == nil:
			if err := snap.DataTo(&c); err != nil {
				return err
			}
		case !notFound(err):
			return err
		}
		until := in.At.Add(domain.ServiceWindow)
		if c.Windows[in.Channel].After(until) {
			until = c.Windows[in.Channel]
		}
		contact := map[string]any{"phone": in.Phone, "updatedAt": in.At, "windows": map[string]any{in.Channel: until}}
		if in.ProfileName != "" {
			contact["profileName"] = in.ProfileName
		}
		if err := tx.Create(inRef, in); err != nil {
			return err
		}
		return tx.Set(contactRef, contact, firestore.MergeAll)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return fmt.Errorf("store inbound message from %s: %w", domain.MaskPhone(in.Phone), masked(err))
	}
	return nil
}
