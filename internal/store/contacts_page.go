package store

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// ContactsAfter returns up to limit of a tenant's contacts in phone-number
// order, starting after the phone after; next is the phone to continue
// from, "" on the last page. Unlike ContactsPage's offset, a cursor reads
// only the page however deep it is, and needs no index.
func (s *Store) ContactsAfter(ctx context.Context, tenant, after string, limit int) (_ []domain.Contact, next string, _ error) {
	if !ValidID(tenant) || (after != "" && !ValidID(after)) {
		return nil, "", ErrBadPageToken
	}
	q := s.sub(tenant, "contacts").OrderBy(firestore.DocumentID, firestore.Asc).Limit(limit + 1)
	if after != "" {
		q = q.StartAfter(after)
	}
	list, more, err := page(ctx, q, limit, decodeContact)
	if err != nil {
		return nil, "", fmt.Errorf("list contacts of %s: %w", tenant, masked(err))
	}
	if more {
		next = list[len(list)-1].Phone
	}
	return list, next, nil
}
