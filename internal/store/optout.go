package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// SetMarketingOptOut opts a tenant's contact out of marketing (out) or back
// in, as of at, from source, in one transaction; a contact not stored yet
// is created. changed is false for a repeat or a stale change (an older
// event arriving late), which writes nothing.
func (s *Store) SetMarketingOptOut(ctx context.Context, tenant, phone string, out bool, at time.Time, source string) (c domain.Contact, changed bool, err error) {
	if !ValidID(tenant) || !ValidID(phone) {
		return c, false, fmt.Errorf("opt-out of %s: %w", domain.MaskPhone(phone), ErrNotFound)
	}
	ref := s.contact(tenant, phone)
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		changed = false
		snap, err := tx.Get(ref)
		switch {
		case notFound(err):
			c = domain.Contact{Phone: phone}
		case err != nil:
			return err
		default:
			if c, err = decodeContact(snap); err != nil {
				return err
			}
		}
		if !c.Marketing.Apply(out, at, source) {
			return nil
		}
		changed = true
		return tx.Set(ref, map[string]any{"phone": phone, "marketing": c.Marketing}, firestore.MergeAll)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return c, false, fmt.Errorf("opt-out of %s of %s: %w", domain.MaskPhone(phone), tenant, masked(err))
	}
	return c, changed, nil
}

// OptedOut reports which of phones opted out of marketing, in one read of
// their contacts.
func (s *Store) OptedOut(ctx context.Context, tenant string, phones []string) (map[string]bool, error) {
	refs := make([]*firestore.DocumentRef, 0, len(phones))
	for _, p := range phones {
		if ValidID(p) {
			refs = append(refs, s.contact(tenant, p))
		}
	}
	out := map[string]bool{}
	if len(refs) == 0 {
		return out, nil
	}
	snaps, err := s.fs.GetAll(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("read opt-outs of %d contacts of %s: %w", len(refs), tenant, masked(err))
	}
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		if v, err := snap.DataAt("marketing.out"); err == nil && v == true {
			out[snap.Ref.ID] = true
		}
	}
	return out, nil
}
