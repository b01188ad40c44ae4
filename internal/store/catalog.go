package store

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/templategw/templategw/internal/domain"
)

// Tenant returns a tenant.
func (s *Store) Tenant(ctx context.Context, id string) (domain.Tenant, error) {
	var t domain.Tenant
	err := get(ctx, s.tenant(id), &t)
	t.ID = id
	return t, err
}

// PutTenant creates or replaces a tenant.
func (s *Store) PutTenant(ctx context.Context, t domain.Tenant) error {
	if _, err := s.tenant(t.ID).Set(ctx, t); err != nil {
		return fmt.Errorf("put tenant %s: %w", t.ID, err)
	}
	return nil
}

// Channels lists a tenant's channels.
func (s *Store) Channels(ctx context.Context, tenant string) ([]domain.Channel, error) {
	docs, err := s.sub(tenant, "channels").Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list channels of %s: %w", tenant, err)
	}
	out := make([]domain.Channel, 0, len(docs))
	for _, d := range docs {
		var c domain.Channel
		if err := d.DataTo(&c); err != nil {
			return nil, fmt.Errorf("decode channel %s: %w", d.Ref.Path, err)
		}
		c.ID = d.Ref.ID
		out = append(out, c)
	}
	return out, nil
}

// ErrPhoneNumberTaken is returned by PutChannel for a Meta phone-number id
// another channel already has: its webhooks would go astray.
var ErrPhoneNumberTaken = errors.New("phone number id belongs to another channel")

// PutChannel creates or replaces a channel, and indexes it under its Meta
// phone-number id in the same transaction, so a webhook finds its tenant in
// one read without a query across tenants. A phone-number id another
// channel has is refused (ErrPhoneNumberTaken, wrapped); the index entry of
// the channel's previous id is removed.
func (s *Store) PutChannel(ctx context.Context, tenant string, c domain.Channel) error {
	ref := s.sub(tenant, "channels").Doc(c.ID)
	lines := s.fs.Collection("phoneNumbers")
	mine := Line{Tenant: tenant, Channel: c.ID}
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var old domain.Channel
		if snap, err := tx.Get(ref); err == nil {
			if err := snap.DataTo(&old); err != nil {
				return err
			}
		} else if !notFound(err) {
			return err
		}
		var oldLine *firestore.DocumentSnapshot
		if old.PhoneNumberID != "" && old.PhoneNumberID != c.PhoneNumberID {
			snap, err := tx.Get(lines.Doc(old.PhoneNumberID))
			if err != nil && !notFound(err) {
				return err
			}
			oldLine = snap
		}
		if c.PhoneNumberID != "" {
			var l Line
			snap, err := tx.Get(lines.Doc(c.PhoneNumberID))
			switch {
			case err == nil:
				if err := snap.DataTo(&l); err != nil {
					return err
				}
				if l != mine {
					return fmt.Errorf("%w: %s is channel %s of tenant %s", ErrPhoneNumberTaken, c.PhoneNumberID, l.Channel, l.Tenant)
				}
			case !notFound(err):
				return err
			}
		}
		if err := tx.Set(ref, c); err != nil {
			return err
		}
		if oldLine != nil && oldLine.Exists() {
			var l Line
			if err := oldLine.DataTo(&l); err == nil && l == mine {
				if err := tx.Delete(oldLine.Ref); err != nil {
					return err
				}
			}
		}
		if err := s.indexWABA(tx, c.WABAID, tenant); err != nil {
			return err
		}
		if c.PhoneNumberID == "" {
			return nil
		}
		return tx.Set(lines.Doc(c.PhoneNumberID), mine)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return fmt.Errorf("put channel %s/%s: %w", tenant, c.ID, err)
	}
	return nil
}

// Line is what a Meta phone-number id belongs to: one tenant's channel.
type Line struct {
	Tenant  string `firestore:"tenant"`
	Channel string `firestore:"channel"`
}

// Line returns the tenant and channel of a Meta phone-number id.
func (s *Store) Line(ctx context.Context, phoneNumberID string) (Line, error) {
	var l Line
	err := get(ctx, s.fs.Collection("phoneNumbers").Doc(phoneNumberID), &l)
	return l, err
}

// SetChannelConnected connects or disconnects a channel, as an operator
// asks (Meta's 190 holds a channel instead: HoldMessage).
func (s *Store) SetChannelConnected(ctx context.Context, tenant, id string, connected bool) error {
	_, err := s.sub(tenant, "channels").Doc(id).Update(ctx, []firestore.Update{{Path: "connected", Value: connected}})
	if err != nil {
		return fmt.Errorf("set channel %s/%s connected=%t: %w", tenant, id, connected, err)
	}
	return nil
}

// Template returns one of a tenant's templates.
func (s *Store) Template(ctx context.Context, tenant, id string) (domain.Template, error) {
	var t domain.Template
	err := get(ctx, s.sub(tenant, "templates").Doc(id), &t)
	t.ID = id
	return t, err
}

// TemplateByName returns the tenant's template with Meta's name (the
// dialects that send by name). With one name in several languages, the
// one with the smallest gateway id wins; ErrNotFound when none has it.
func (s *Store) TemplateByName(ctx context.Context, tenant, name string) (domain.Template, error) {
	var t domain.Template
	if len(name) > MaxTemplateName || !utf8.ValidString(name) || !ValidID(tenant) {
		return t, ErrNotFound
	}
	docs, err := s.sub(tenant, "templates").Where("name", "==", name).OrderBy(firestore.DocumentID, firestore.Asc).Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return t, fmt.Errorf("template named %q of %s: %w", name, tenant, err)
	}
	if len(docs) == 0 {
		return t, ErrNotFound
	}
	if err := docs[0].DataTo(&t); err != nil {
		return t, fmt.Errorf("decode %s: %w", docs[0].Ref.Path, err)
	}
	t.ID = docs[0].Ref.ID
	return t, nil
}

// PutTemplate creates or replaces a template.
func (s *Store) PutTemplate(ctx context.Context, tenant string, t domain.Template) error {
	if _, err := s.sub(tenant, "templates").Doc(t.ID).Set(ctx, t); err != nil {
		return fmt.Errorf("put template %s/%s: %w", tenant, t.ID, err)
	}
	return nil
}

// Templates lists a tenant's templates by id, limit at a time after the id
// after; next is the id to continue from, "" at the end.
func (s *Store) Templates(ctx context.Context, tenant string, limit int, after string) (_ []domain.Template, next string, _ error) {
	q := s.sub(tenant, "templates").OrderBy(firestore.DocumentID, firestore.Asc).Limit(limit + 1)
	if after != "" && !ValidID(after) {
		return nil, "", ErrBadPageToken
	}
	if after != "" {
		q = q.StartAfter(after)
	}
	list, more, err := page(ctx, q, limit, func(d *firestore.DocumentSnapshot) (domain.Template, error) {
		var t domain.Template
		err := d.DataTo(&t)
		t.ID = d.Ref.ID
		return t, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list templates of %s: %w", tenant, err)
	}
	if more {
		next = list[len(list)-1].ID
	}
	return list, next, nil
}

// page reads one page of q, which must be limited to limit+1 documents:
// the extra one only tells whether another page follows.
func page[T any](ctx context.Context, q firestore.Query, limit int, decode func(*firestore.DocumentSnapshot) (T, error)) (list []T, more bool, err error) {
	it := q.Documents(ctx)
	defer it.Stop()
	for {
		d, err := it.Next()
		if err == iterator.Done {
			return list, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if len(list) == limit {
			return list, true, nil
		}
		v, err := decode(d)
		if err != nil {
			return nil, false, fmt.Errorf("decode %s: %w", d.Ref.Path, err)
		}
		list = append(list, v)
	}
}
