package store

import (
	"cmp"
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// wabaIndex is wabas/{wabaId}: the tenants with a channel on a WhatsApp
// Business Account, so Meta's template events (which name the account,
// not a number) reach every tenant that uses its templates without a
// query across tenants.
type wabaIndex struct {
	Tenants []string `firestore:"tenants"`
}

// indexWABA records, in tx, that tenant has a channel on wabaID.
func (s *Store) indexWABA(tx *firestore.Transaction, wabaID, tenant string) error {
	if wabaID == "" || !ValidID(wabaID) {
		return nil
	}
	return tx.Set(s.fs.Collection("wabas").Doc(wabaID), map[string]any{"tenants": firestore.ArrayUnion(tenant)}, firestore.MergeAll)
}

// WABATenants returns the tenants with a channel on a WhatsApp Business
// Account; none when the account is unknown.
func (s *Store) WABATenants(ctx context.Context, wabaID string) ([]string, error) {
	var w wabaIndex
	err := get(ctx, s.fs.Collection("wabas").Doc(wabaID), &w)
	if err == ErrNotFound {
		return nil, nil
	}
	return w.Tenants, err
}

// TemplateChange is what one of Meta's template events says of a
// template: the fields left empty do not change.
type TemplateChange struct {
	Status   string
	Quality  string
	Category string
}

// ChangeTemplate applies a change to every template of the tenant with
// Meta's name (and language, when given) and returns them as changed.
// The catalog's cache on each instance sees the change within its TTL.
func (s *Store) ChangeTemplate(ctx context.Context, tenant, name, language string, c TemplateChange) ([]domain.Template, error) {
	if len(name) > MaxTemplateName || !ValidID(tenant) {
		return nil, nil
	}
	q := s.sub(tenant, "templates").Where("name", "==", name)
	docs, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("templates named %q of %s: %w", name, tenant, err)
	}
	var out []domain.Template
	for _, d := range docs {
		var t domain.Template
		if err := d.DataTo(&t); err != nil {
			return nil, fmt.Errorf("decode %s: %w", d.Ref.Path, err)
		}
		if language != "" && t.Language != language {
			continue
		}
		var ups []firestore.Update
		for path, v := range map[string]string{"status": c.Status, "quality": c.Quality, "category": c.Category} {
			if v != "" {
				ups = append(ups, firestore.Update{Path: path, Value: v})
			}
		}
		if len(ups) == 0 {
			continue
		}
		if _, err := d.Ref.Update(ctx, ups); err != nil {
			return nil, fmt.Errorf("change template %s: %w", d.Ref.Path, err)
		}
		t.ID = d.Ref.ID
		t.Status, t.Quality, t.Category = cmp.Or(c.Status, t.Status), cmp.Or(c.Quality, t.Quality), cmp.Or(c.Category, t.Category)
		out = append(out, t)
	}
	return out, nil
}
