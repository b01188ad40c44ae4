package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// MessageOfWAMID returns the id of tenant's message that Meta knows by
// wamid: a query on the message's own providerMessageId (one billed read,
// on the field's automatic index), where an index document would cost a
// write on every send for the few statuses that lack the callback data
// naming their message.
func (s *Store) MessageOfWAMID(ctx context.Context, tenant, wamid string) (string, error) {
	if !ValidID(tenant) || wamid == "" {
		return "", ErrNotFound
	}
	docs, err := s.sub(tenant, "messages").Where("providerMessageId", "==", wamid).Select().Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return "", fmt.Errorf("find message of a wamid in %s: %w", tenant, masked(err))
	}
	if len(docs) == 0 {
		return "", ErrNotFound
	}
	return docs[0].Ref.ID, nil
}

// ApplyUpdate applies a provider update to a message in one commit: the
// message moves forward only (domain.Message.Apply). The first status
// that proves Meta took a template (sent, or a later one that outran it)
// opens the contact's conversation on the message's channel, the
// gateway's own, for the tenant's conversation period, unless one is
// open; the message records the conversation's id. A conversation the
// send reserved was counted at admission; one that opens without a
// reservation is counted now, when the tenant's plan keeps the count
// (domain.Tenant.CountsConversations). changed reports whether the
// message's status moved. The conversation is recorded even when the
// status did not move, because the status that proves the send ("sent")
// may arrive after a later one ("read"); so is the update's pricing
// (domain.Message.RecordPricing), which makes a billable message count in
// its month's usage by a field of its own, never twice. A duplicate
// writes nothing.
//
// It is not a transaction: the message is read (with, only for the
// status that opens its conversation, the conversation and, when u does
// not carry it, the tenant, in the same call), and the commit is
// conditioned on the update times read, so a writer in between makes it
// read again. A delivered or read status costs two calls, and so does a
// sent status that opens a new contact's conversation under an
// unlimited plan: the conversation is created, not read (applyOnce).
func (s *Store) ApplyUpdate(ctx context.Context, tenant, id string, u domain.Update) (m domain.Message, changed bool, err error) {
	if !ValidID(tenant) || !ValidID(id) {
		return m, false, fmt.Errorf("update message %q: %w", id, ErrNotFound)
	}
	// The first round may create the conversation without reading it
	// (applyOnce); any round after a conflict reads it.
	blind := true
	for range txAttempts {
		m, changed, err = s.applyOnce(ctx, tenant, id, u, blind)
		if !conflict(err) {
			break
		}
		blind = false
	}
	if err != nil {
		return m, false, fmt.Errorf("update message %s/%s to %s: %w", tenant, id, u.Status, masked(err))
	}
	return m, changed, nil
}

// applyOnce is one read and commit of ApplyUpdate; a conflict (another
// writer came between) is for the caller to try again.
//
// With blind, a conversation that is likely not there is created without
// being read: when admission found none open for the message, and the
// tenant, as u carries it, keeps no reservations (an unlimited plan). The
// create fails when one is there after all (the contact wrote, another
// send opened it), and the next round reads it.
func (s *Store) applyOnce(ctx context.Context, tenant, id string, u domain.Update, blind bool) (domain.Message, bool, error) {
	ref := s.message(tenant, id)
	snap, err := ref.Get(ctx)
	if notFound(err) {
		return domain.Message{}, false, ErrNotFound
	}
	if err != nil {
		return domain.Message{}, false, err
	}
	var read domain.Message
	if err := snap.DataTo(&read); err != nil {
		return read, false, err
	}
	read.ID = id
	m := read
	m.History = slices.Clone(read.History)
	opens := u.Status != domain.StatusFailed && m.Type != domain.MessageText && m.ConversationID == "" && m.Status != domain.StatusFailed
	var (
		convRef  *firestore.DocumentRef
		convSnap *firestore.DocumentSnapshot
		conv     domain.Conversation
		settings domain.Tenant
	)
	if opens && m.Owns(u) {
		convRef = s.conversation(tenant, m.Channel, m.PhoneNumber)
		if blind && read.Admitted == nil && u.Tenant != nil && !u.Tenant.CountsConversations() {
			settings = *u.Tenant
		} else if convSnap, conv, settings, err = s.conversationAndTenant(ctx, tenant, convRef, u); err != nil {
			return m, false, err
		}
	}
	changed, err := m.Apply(u)
	if err != nil || !m.Owns(u) {
		return m, changed, err
	}
	priced, _ := m.RecordPricing(u.Pricing, u.At)
	var opened, count bool
	if convRef != nil && m.Status != domain.StatusFailed {
		conv.Channel, conv.Phone = m.Channel, m.PhoneNumber
		opened, count = conv.OpenBy(NewID(), u.At, settings.ConversationPeriod())
		count = count && settings.CountsConversations()
		m.ConversationID = conv.ID
	}
	b := s.fs.Batch() //nolint:staticcheck // one-RPC atomic write, conditioned by preconditions
	writes := 0
	learnt := read.ProviderMessageID == "" && m.ProviderMessageID != ""
	if ups := fieldChanges(read, m); len(ups) > 0 && (changed || priced || learnt || m.ConversationID != "" && convRef != nil) {
		b.Update(ref, ups, firestore.LastUpdateTime(snap.UpdateTime))
		writes++
	}
	if opened {
		if convSnap != nil && convSnap.Exists() {
			b.Update(convRef, conversationUpdates(conv), firestore.LastUpdateTime(convSnap.UpdateTime))
		} else {
			b.Create(convRef, conv)
		}
		writes++
		if count {
			ref, v := s.conversationCount(tenant, u.At)
			b.Set(ref, v, firestore.MergeAll)
		}
	}
	if writes == 0 {
		return m, changed, nil
	}
	res, err := b.Commit(ctx)
	if err != nil {
		return m, false, err
	}
	m.Version = res[0].UpdateTime
	return m, changed, nil
}

// conversationAndTenant reads the conversation at convRef and, when u
// does not carry it, the tenant (whose settings matter only when the
// conversation is not open at u.At, and would be opened), in one call.
func (s *Store) conversationAndTenant(ctx context.Context, tenant string, convRef *firestore.DocumentRef, u domain.Update) (*firestore.DocumentSnapshot, domain.Conversation, domain.Tenant, error) {
	var (
		conv domain.Conversation
		t    domain.Tenant
	)
	if u.Tenant != nil {
		t = *u.Tenant
	}
	refs := []*firestore.DocumentRef{convRef}
	if u.Tenant == nil {
		refs = append(refs, s.tenant(tenant))
	}
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return nil, conv, t, err
	}
	if snaps[0].Exists() {
		if err := snaps[0].DataTo(&conv); err != nil {
			return nil, conv, t, err
		}
	}
	// A tenant that no longer exists has the defaults.
	if u.Tenant == nil && snaps[1].Exists() {
		if err := snaps[1].DataTo(&t); err != nil {
			return nil, conv, t, err
		}
	}
	return snaps[0], conv, t, nil
}

// tenantIn reads a tenant's settings in tx; a tenant that no longer
// exists has the defaults.
func (s *Store) tenantIn(tx *firestore.Transaction, tenant string) (domain.Tenant, error) {
	return readInOrZero[domain.Tenant](tx, s.tenant(tenant))
}

func (s *Store) conversation(tenant, channel, phone string) *firestore.DocumentRef {
	return s.sub(tenant, "conversations").Doc(domain.ConversationKey(channel, phone))
}

// readConversation reads a conversation inside a transaction; a missing
// one is the zero Conversation (closed).
func readConversation(tx *firestore.Transaction, ref *firestore.DocumentRef) (domain.Conversation, error) {
	return readInOrZero[domain.Conversation](tx, ref)
}

// Recipient is what admission reads of a send's contact: the stored
// contact, if there is one, and its conversation on the sending channel.
type Recipient struct {
	Contact      domain.Contact
	Known        bool // the contact is stored
	Conversation domain.Conversation
}

// Recipient reads a send's contact and, when the contact is stored, its
// conversation on channel; a missing conversation is the zero
// Conversation (closed). A contact that is not stored has no
// conversation: every commit that writes a conversation (accept's
// reservation, a broadcast's, an inbound message, the status that opens
// one for a message whose send wrote the contact) writes or follows the
// contact's own write, and contacts are never deleted. So a new contact
// costs one read, a known one two, in two calls.
func (s *Store) Recipient(ctx context.Context, tenant, channel, phone string) (Recipient, error) {
	var r Recipient
	snap, err := s.contact(tenant, phone).Get(ctx)
	switch {
	case notFound(err):
		return r, nil
	case err != nil:
		return r, fmt.Errorf("read recipient %s of %s: %w", domain.MaskPhone(phone), tenant, masked(err))
	}
	if r.Contact, err = decodeContact(snap); err != nil {
		return r, err
	}
	r.Known = true
	if err := get(ctx, s.conversation(tenant, channel, phone), &r.Conversation); err != nil && !errors.Is(err, ErrNotFound) {
		return r, fmt.Errorf("read conversation of %s: %w", domain.MaskPhone(phone), err)
	}
	return r, nil
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

func (s *Store) conversationCounter(tenant, month string) *firestore.CollectionRef {
	return s.sub(tenant, "counters").Doc("conversations-" + month).Collection("shards")
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
