package store

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/domain"
)

// ErrExists is returned when a document that must be new already exists.
var ErrExists = errors.New("already exists")

// CreateTenant stores a new tenant; ErrExists when the id is taken, so an
// operator never replaces a tenant (and its callback secret) by mistake.
func (s *Store) CreateTenant(ctx context.Context, t domain.Tenant) error {
	if !ValidID(t.ID) {
		return fmt.Errorf("create tenant: invalid id %q", t.ID)
	}
	if _, err := s.tenant(t.ID).Create(ctx, t); err != nil {
		if status.Code(err) == codes.AlreadyExists {
			return fmt.Errorf("tenant %s: %w", t.ID, ErrExists)
		}
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return nil
}

// TenantChange is what UpdateTenant changes: each non-nil field replaces
// the tenant's, the others stay as stored.
type TenantChange struct {
	Name              *string
	CountryCode       *string
	ConversationLimit *int
	// ConversationHours 0 goes back to domain.DefaultConversationHours.
	ConversationHours *int
	// CallbackURL "" removes the URL; the callback secret stays, so a URL
	// set again is signed with it.
	CallbackURL *string
	// UnknownPolicy "" goes back to the default, resend.
	UnknownPolicy *domain.UnknownPolicy
	// RetentionDays 0 keeps messages; it applies to messages made from
	// then on.
	RetentionDays *int
	// RateLimit 0 goes back to the deployment's TENANT_RATE_LIMIT.
	RateLimit *int
}

// UpdateTenant writes only c's fields of an existing tenant and returns
// the tenant as it is afterwards; ErrNotFound for an unknown one, which it
// never creates. Fields other writers own (the secret) are left alone.
func (s *Store) UpdateTenant(ctx context.Context, id string, c TenantChange) (domain.Tenant, error) {
	var t domain.Tenant
	if !ValidID(id) {
		return t, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	ref := s.tenant(id)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var err error
		if t, err = readIn[domain.Tenant](tx, ref); err != nil {
			return err
		}
		t.ID = id
		var ups []firestore.Update
		if c.Name != nil {
			t.Name = *c.Name
			ups = append(ups, firestore.Update{Path: "name", Value: t.Name})
		}
		if c.CountryCode != nil {
			t.CountryCode = *c.CountryCode
			ups = append(ups, firestore.Update{Path: "countryCode", Value: t.CountryCode})
		}
		if c.ConversationLimit != nil {
			t.ConversationLimit = *c.ConversationLimit
			ups = append(ups, firestore.Update{Path: "conversationLimit", Value: t.ConversationLimit})
		}
		if c.ConversationHours != nil {
			t.ConversationHours = *c.ConversationHours
			ups = append(ups, firestore.Update{Path: "conversationHours", Value: orDelete(t.ConversationHours, 0)})
		}
		if c.CallbackURL != nil {
			t.CallbackURL = *c.CallbackURL
			ups = append(ups, firestore.Update{Path: "callbackUrl", Value: orDelete(t.CallbackURL, "")})
		}
		if c.RetentionDays != nil {
			days := *c.RetentionDays
			t.RetentionDays = &days
			ups = append(ups, firestore.Update{Path: "retentionDays", Value: days})
		}
		if c.RateLimit != nil {
			t.RateLimit = *c.RateLimit
			ups = append(ups, firestore.Update{Path: "rateLimit", Value: orDelete(t.RateLimit, 0)})
		}
		if c.UnknownPolicy != nil {
			t.UnknownPolicy = *c.UnknownPolicy
			ups = append(ups, firestore.Update{Path: "unknownPolicy", Value: orDelete(string(t.UnknownPolicy), "")})
		}
		if len(ups) == 0 {
			return nil
		}
		return tx.Update(ref, ups)
	}, firestore.MaxAttempts(txAttempts))
	if errors.Is(err, ErrNotFound) {
		return t, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("update tenant %s: %w", id, err)
	}
	return t, nil
}

// orDelete is v, or a field deletion when v is the field's zero value: the
// fields written with omitempty are absent rather than zero, as a create
// leaves them.
func orDelete[T comparable](v, zero T) any {
	if v == zero {
		return firestore.Delete
	}
	return v
}

// ListTenants returns every tenant by id. It crosses tenants, so only the
// admin CLI calls it, never a function serving a tenant.
func (s *Store) ListTenants(ctx context.Context) ([]domain.Tenant, error) {
	docs, err := s.fs.Collection("tenants").OrderBy(firestore.DocumentID, firestore.Asc).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	out := make([]domain.Tenant, 0, len(docs))
	for _, d := range docs {
		var t domain.Tenant
		if err := d.DataTo(&t); err != nil {
			return nil, fmt.Errorf("decode tenant %s: %w", d.Ref.ID, err)
		}
		t.ID = d.Ref.ID
		out = append(out, t)
	}
	return out, nil
}

// SetDefaultChannel makes one of a tenant's channels its default and
// clears the flag on the others in one transaction, so the tenant never
// has two defaults for PickChannel to choose between.
func (s *Store) SetDefaultChannel(ctx context.Context, tenant, id string) error {
	coll := s.sub(tenant, "channels")
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		docs, err := tx.Documents(coll).GetAll()
		if err != nil {
			return err
		}
		found := false
		for _, d := range docs {
			found = found || d.Ref.ID == id
		}
		if !found {
			return ErrNotFound
		}
		for _, d := range docs {
			want := d.Ref.ID == id
			if def, _ := d.DataAt("default"); def == want {
				continue
			}
			if err := tx.Update(d.Ref, []firestore.Update{{Path: "default", Value: want}}); err != nil {
				return err
			}
		}
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("channel %s/%s: %w", tenant, id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set default channel %s/%s: %w", tenant, id, err)
	}
	return nil
}

// maxBatchWrites is Firestore's limit of writes in one commit.
const maxBatchWrites = 500

// PutTemplates creates or replaces many templates, up to 500 a commit, so
// a sync of a large WABA takes a few round trips instead of one each.
func (s *Store) PutTemplates(ctx context.Context, tenant string, ts []domain.Template) error {
	for _, t := range ts {
		if !ValidID(t.ID) {
			return fmt.Errorf("put templates of %s: invalid id %q", tenant, t.ID)
		}
	}
	for start := 0; start < len(ts); start += maxBatchWrites {
		b := s.fs.Batch() //nolint:staticcheck // blind writes, one round trip per 500
		for _, t := range ts[start:min(start+maxBatchWrites, len(ts))] {
			b.Set(s.sub(tenant, "templates").Doc(t.ID), t)
		}
		if _, err := b.Commit(ctx); err != nil {
			return fmt.Errorf("put templates of %s: %w", tenant, err)
		}
	}
	return nil
}
