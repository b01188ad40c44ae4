package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// ChatItem is one message of a contact's chat on one channel: one the
// contact sent (Inbound) or one sent to it (Message). Exactly one of the
// two is set.
type ChatItem struct {
	At      time.Time
	Inbound *Inbound
	Message *domain.Message
}

// ID is the item's id: the gateway's message id, or Meta's id of an inbound
// message.
func (c ChatItem) ID() string {
	if c.Message != nil {
		return c.Message.ID
	}
	return c.Inbound.ID
}

// Chat returns the newest n messages exchanged with phone on channel,
// both ways, newest first, and how many there are in all. It reads at most
// n documents of each way, so a deep page costs its depth: callers bound
// n. The queries use the composite indexes (phoneNumber, channel,
// createdAt desc) on messages and (phone, channel, at desc) on inbound.
func (s *Store) Chat(ctx context.Context, tenant, channel, phone string, n int) (_ []ChatItem, total int, _ error) {
	out := make([]ChatItem, 0, 2*n)
	sent := s.sub(tenant, "messages").Where("phoneNumber", "==", phone).Where("channel", "==", channel)
	docs, err := sent.OrderBy("createdAt", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Limit(n).Documents(ctx).GetAll()
	if err != nil {
		return nil, 0, fmt.Errorf("list messages to %s: %w", domain.MaskPhone(phone), masked(err))
	}
	for _, d := range docs {
		var m domain.Message
		if err := d.DataTo(&m); err != nil {
			return nil, 0, fmt.Errorf("decode %s: %w", d.Ref.Path, err)
		}
		m.ID = d.Ref.ID
		out = append(out, ChatItem{At: m.CreatedAt, Message: &m})
	}
	received := s.sub(tenant, "inbound").Where("phone", "==", phone).Where("channel", "==", channel)
	docs, err = received.OrderBy("at", firestore.Desc).OrderBy(firestore.DocumentID, firestore.Desc).Limit(n).Documents(ctx).GetAll()
	if err != nil {
		return nil, 0, fmt.Errorf("list messages from %s: %w", domain.MaskPhone(phone), masked(err))
	}
	for _, d := range docs {
		var in Inbound
		if err := d.DataTo(&in); err != nil {
			return nil, 0, fmt.Errorf("decode %s: %w", d.Ref.Path, err)
		}
		in.ID = d.Ref.ID
		out = append(out, ChatItem{At: in.At, Inbound: &in})
	}
	slices.SortStableFunc(out, func(a, b ChatItem) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmp.Compare(b.ID(), a.ID())
	})
	if len(out) > n {
		out = out[:n]
	}
	nSent, err := aggregateCount(ctx, sent, "messages to "+domain.MaskPhone(phone))
	if err != nil {
		return nil, 0, err
	}
	nReceived, err := aggregateCount(ctx, received, "messages from "+domain.MaskPhone(phone))
	if err != nil {
		return nil, 0, err
	}
	return out, nSent + nReceived, nil
}
