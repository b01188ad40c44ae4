package callback

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
)

// The types of the callbacks about a tenant's templates and contacts.
const (
	TemplateStatusType = "template.status"
	OptOutType         = "contact.opt_out"
	OptInType          = "contact.opt_in"
)

// TemplateChange is a template.status event's template: Meta's event
// (APPROVED, PAUSED, DISABLED, REINSTATED…) and the status it left.
type TemplateChange struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language"`
	Category string `json:"category,omitempty"`
	Event    string `json:"event"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

// ConsentChange is a contact.opt_out or contact.opt_in event's contact:
// its number, what changed its marketing consent, and when.
type ConsentChange struct {
	Phone  string    `json:"phone"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
}

// NotifyTemplate publishes the template.status callback of a change Meta
// made to t, to url (the tenant's callback URL; "" sends none).
func (n *Notifier) NotifyTemplate(ctx context.Context, tenant, url string, t domain.Template, event, reason string, at time.Time) {
	if n == nil || n.p == nil || url == "" {
		return
	}
	ev := Event{
		ID:   accountEventID("template", t.ID, event, at),
		Type: TemplateStatusType, Timestamp: at.UTC(),
		Template: &TemplateChange{ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category, Event: event, Status: t.Status, Reason: reason},
	}
	n.publishLogged(ctx, Job{Tenant: tenant, URL: url, Event: ev})
}

// NotifyOptOut publishes the contact.opt_out or contact.opt_in callback of
// c's marketing consent, to url.
func (n *Notifier) NotifyOptOut(ctx context.Context, tenant, url string, c domain.Contact) {
	if n == nil || n.p == nil || url == "" {
		return
	}
	typ := OptInType
	if c.Marketing.Out {
		typ = OptOutType
	}
	// The id hashes the number with the change, so a retry carries the
	// same id while logs and headers never carry the number.
	ev := Event{
		ID: accountEventID("consent", c.Phone, typ, c.Marketing.At), Type: typ, Timestamp: c.Marketing.At.UTC(),
		Contact: &ConsentChange{Phone: c.Phone, Source: c.Marketing.Source, At: c.Marketing.At.UTC()},
	}
	n.publishLogged(ctx, Job{Tenant: tenant, URL: url, Event: ev})
}

func (n *Notifier) publishLogged(ctx context.Context, j Job) {
	if err := n.publish(ctx, j); err != nil {
		logging.FromContext(ctx).Error("callback not published", "tenant", j.Tenant, "type", j.Event.Type, "eventId", j.Event.ID, "error", err.Error())
	}
}

// accountEventID is the same for the same change on every retry.
func accountEventID(kind, subject, what string, at time.Time) string {
	sum := sha256.Sum256([]byte(subject + "\x00" + what + "\x00" + strconv.FormatInt(at.UnixNano(), 10)))
	return kind + "." + hex.EncodeToString(sum[:16])
}
