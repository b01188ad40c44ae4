package dispatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// Consent records a contact's marketing opt-out and tells the tenant; Meta
// refusing a send with 131050 means its user stopped marketing messages.
type Consent interface {
	SetMarketingOptOut(ctx context.Context, tenant, phone string, out bool, at time.Time, source string) (domain.Contact, bool, error)
}

// ConsentNotifier tells a tenant that a contact's consent changed.
type ConsentNotifier interface {
	NotifyOptOut(ctx context.Context, tenant, url string, c domain.Contact)
}

// stoppedMarketing opts out the recipient of m when Meta failed it with
// 131050. A failure here is logged, not returned: the message's outcome
// is already written, and the next 131050 or the contact's own
// user_preferences webhook records the opt-out again.
func (d *Dispatcher) stoppedMarketing(ctx context.Context, log *slog.Logger, m domain.Message, at time.Time) {
	if d.opt.Consent == nil || m.Status != domain.StatusFailed || m.Error == nil || m.Error.Code != domain.MetaUserStoppedMarketing {
		return
	}
	c, changed, err := d.opt.Consent.SetMarketingOptOut(ctx, m.Tenant, m.PhoneNumber, true, at, domain.OptOutByMeta)
	if err != nil {
		log.Error("could not record the contact's marketing opt-out", "error", err.Error())
		return
	}
	if !changed || d.opt.ConsentNotifier == nil {
		return
	}
	t, err := d.channels.Tenant(ctx, m.Tenant)
	if err != nil || t.CallbackURL == "" {
		return
	}
	d.opt.ConsentNotifier.NotifyOptOut(ctx, m.Tenant, t.CallbackURL, c)
}
