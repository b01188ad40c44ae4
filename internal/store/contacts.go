package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/templategw/templategw/internal/domain"
)

func (s *Store) contact(tenant, phone string) *firestore.DocumentRef {
	return s.sub(tenant, "contacts").Doc(phone)
}

// decodeContact reads a contact document. CreatedAt is the document's
// creation time, so it holds whichever path first stored the contact (a
// send, an inbound message or a dialect's contact API).
func decodeContact(d *firestore.DocumentSnapshot) (domain.Contact, error) {
	var c domain.Contact
	if err := d.DataTo(&c); err != nil {
		return c, fmt.Errorf("decode contact %s: %w", domain.MaskPhone(d.Ref.ID), masked(err))
	}
	// A contact known only by its user id has no phone to show.
	if c.Phone == "" && !domain.IsUserKey(d.Ref.ID) {
		c.Phone = d.Ref.ID
	}
	c.CreatedAt = d.CreateTime
	return c, nil
}

// Contact returns one of a tenant's contacts, ErrNotFound when there is
// none.
func (s *Store) Contact(ctx context.Context, tenant, phone string) (domain.Contact, error) {
	if !ValidID(tenant) || !ValidID(phone) {
		return domain.Contact{}, ErrNotFound
	}
	snap, err := s.contact(tenant, phone).Get(ctx)
	if notFound(err) {
		return domain.Contact{}, ErrNotFound
	}
	if err != nil {
		return domain.Contact{}, fmt.Errorf("get contact %s of %s: %w", domain.MaskPhone(phone), tenant, masked(err))
	}
	return decodeContact(snap)
}

// contactFields are the contact fields EditContact writes; the others
// (windows, profile name, first and last name) belong to the paths that
// set them and are left as they are.
var contactFields = []firestore.FieldPath{{"phone"}, {"name"}, {"customParams"}, {"chatStatus"}, {"updatedAt"}}

// EditContact reads a tenant's contact in a transaction, lets edit change
// it, and writes back its name, custom params and chat statuses with
// updatedAt now. A contact that does not exist reaches edit with only its
// phone set and exists false, and is created unless edit refuses. An error
// from edit writes nothing and is returned as it is (wrapped). created
// reports whether the contact is new.
func (s *Store) EditContact(ctx context.Context, tenant, phone string, now time.Time, edit func(c *domain.Contact, exists bool) error) (c domain.Contact, created bool, err error) {
	if !ValidID(tenant) || !ValidID(phone) {
		return c, false, fmt.Errorf("edit contact %s: %w", domain.MaskPhone(phone), ErrNotFound)
	}
	ref := s.contact(tenant, phone)
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		switch {
		case notFound(err):
			c, created = domain.Contact{Phone: phone, CreatedAt: now}, true
		case err != nil:
			return err
		default:
			if c, err = decodeContact(snap); err != nil {
				return err
			}
			created = false
		}
		if err := edit(&c, !created); err != nil {
			return err
		}
		c.UpdatedAt = now
		params, chats := c.CustomParams, c.ChatStatus
		if params == nil {
			params = map[string]string{}
		}
		if chats == nil {
			chats = map[string]domain.ChatStatus{}
		}
		return tx.Set(ref, map[string]any{
			"phone": phone, "name": c.Name, "customParams": params, "chatStatus": chats, "updatedAt": now,
		}, firestore.Merge(contactFields...))
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return c, false, fmt.Errorf("edit contact %s of %s: %w", domain.MaskPhone(phone), tenant, masked(err))
	}
	return c, created, nil
}

// ContactsPage returns up to limit of a tenant's contacts in phone-number
// order, after skipping offset of them. Phone order is stable while
// contacts change, so pages neither repeat nor skip a contact that a send
// touched meanwhile, and needs no index.
func (s *Store) ContactsPage(ctx context.Context, tenant string, offset, limit int) ([]domain.Contact, error) {
	q := s.sub(tenant, "contacts").OrderBy(firestore.DocumentID, firestore.Asc).Offset(offset).Limit(limit)
	docs, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list contacts of %s: %w", tenant, masked(err))
	}
	out := make([]domain.Contact, 0, len(docs))
	for _, d := range docs {
		c, err := decodeContact(d)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CountContacts counts a tenant's contacts with one aggregation query.
func (s *Store) CountContacts(ctx context.Context, tenant string) (int, error) {
	return aggregateCount(ctx, s.sub(tenant, "contacts").Query, "contacts of "+tenant)
}

// EachContact calls yield with each of a tenant's contacts in phone-number
// order, reading them a page at a time, until yield answers false or an
// error.
func (s *Store) EachContact(ctx context.Context, tenant string, yield func(domain.Contact) (bool, error)) error {
	it := s.sub(tenant, "contacts").OrderBy(firestore.DocumentID, firestore.Asc).Documents(ctx)
	defer it.Stop()
	for {
		d, err := it.Next()
		if err == iterator.Done {
			return nil
		}
		if err != nil {
			return fmt.Errorf("scan contacts of %s: %w", tenant, masked(err))
		}
		c, err := decodeContact(d)
		if err != nil {
			return err
		}
		more, err := yield(c)
		if err != nil || !more {
			return err
		}
	}
}

// aggregateCount runs a count aggregation of q.
func aggregateCount(ctx context.Context, q firestore.Query, what string) (int, error) {
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", what, err)
	}
	n, ok := res.Data()["n"].(int64)
	if !ok {
		return 0, fmt.Errorf("count %s: the answer has no count", what)
	}
	return int(n), nil
}
