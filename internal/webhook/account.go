package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// The account-level fields the gateway acts on: Meta's template events
// (entry[].id is the WABA; there is no phone-number id) and marketing
// preferences.
const (
	fieldTemplateStatus   = "message_template_status_update"
	fieldTemplateQuality  = "message_template_quality_update"
	fieldTemplateCategory = "template_category_update"
	fieldUserPreferences  = "user_preferences"
)

// AccountStore applies what Meta's account-level webhooks say.
type AccountStore interface {
	WABATenants(ctx context.Context, wabaID string) ([]string, error)
	ChangeTemplate(ctx context.Context, tenant, name, language string, c store.TemplateChange) ([]domain.Template, error)
	SetMarketingOptOut(ctx context.Context, tenant, phone string, out bool, at time.Time, source string) (domain.Contact, bool, error)
}

// AccountNotifier tells a tenant that one of its templates or contacts
// changed.
type AccountNotifier interface {
	NotifyTemplate(ctx context.Context, tenant, url string, t domain.Template, event, reason string, at time.Time)
	NotifyOptOut(ctx context.Context, tenant, url string, c domain.Contact)
}

// WithAccount lets the server act on template events, user preferences,
// opt-out keywords and 131050 failures.
func (s *Server) WithAccount(st AccountStore, n AccountNotifier) *Server {
	s.account, s.accountNotify = st, n
	return s
}

// templateValue is the value of the three template events.
type templateValue struct {
	Event    string `json:"event"`
	Reason   string `json:"reason"`
	Name     string `json:"message_template_name"`
	Language string `json:"message_template_language"`
	Quality  string `json:"new_quality_score"`
	Category string `json:"new_category"`
}

// preferencesValue is the value of a user_preferences change.
type preferencesValue struct {
	Metadata    metadata `json:"metadata"`
	Preferences []struct {
		WAID      string   `json:"wa_id"`
		Category  string   `json:"category"`
		Value     string   `json:"value"`
		Timestamp unixTime `json:"timestamp"`
	} `json:"user_preferences"`
}

// accountChange applies one account-level change; handled is false for a
// field the gateway does not act on.
func (s *Server) accountChange(ctx context.Context, log *slog.Logger, wabaID, field string, raw json.RawMessage, received time.Time) (handled bool, err error) {
	if s.account == nil {
		return false, nil
	}
	switch field {
	case fieldTemplateStatus, fieldTemplateQuality, fieldTemplateCategory:
		return true, s.templateEvent(ctx, log.With("waba", domain.Clip(wabaID, 64), "field", field), wabaID, field, raw, received)
	case fieldUserPreferences:
		return true, s.userPreferences(ctx, log, raw, received)
	}
	return false, nil
}

// templateEvent changes the template's status, quality or category in
// every tenant with a channel on the WABA, at once (each instance's cache
// sees it within its TTL), and tells each tenant of a status change.
func (s *Server) templateEvent(ctx context.Context, log *slog.Logger, wabaID, field string, raw json.RawMessage, received time.Time) error {
	var v templateValue
	if err := json.Unmarshal(raw, &v); err != nil || v.Name == "" {
		log.Warn("template event without a template name ignored")
		return nil
	}
	var c store.TemplateChange
	switch field {
	case fieldTemplateStatus:
		c.Status = templateStatus(v.Event)
	case fieldTemplateQuality:
		c.Quality = strings.ToUpper(v.Quality)
	case fieldTemplateCategory:
		c.Category = strings.ToUpper(v.Category)
	}
	if c == (store.TemplateChange{}) || !store.ValidID(wabaID) {
		log.Warn("template event without a change ignored")
		return nil
	}
	tenants, err := s.account.WABATenants(ctx, wabaID)
	if err != nil {
		return fmt.Errorf("tenants of WABA %s: %w", wabaID, err)
	}
	for _, tenant := range tenants {
		changed, err := s.account.ChangeTemplate(ctx, tenant, v.Name, v.Language, c)
		if err != nil {
			return err
		}
		for _, t := range changed {
			log.Info("template changed by Meta", "tenant", tenant, "template", t.ID, "status", t.Status, "quality", t.Quality, "category", t.Category)
			if field == fieldTemplateStatus && s.accountNotify != nil {
				if url := s.callbackURL(ctx, log, tenant); url != "" {
					s.accountNotify.NotifyTemplate(ctx, tenant, url, t, strings.ToUpper(v.Event), domain.Clip(v.Reason, 256), received)
				}
			}
		}
	}
	return nil
}

// templateStatus is the catalog status an event leaves a template in: a
// reinstated template is approved again.
func templateStatus(event string) string {
	e := strings.ToUpper(strings.TrimSpace(event))
	if e == "REINSTATED" || e == "UNARCHIVED" {
		return domain.TemplateApproved
	}
	return e
}

// userPreferences opts a contact out of marketing (stop) or back in
// (resume).
func (s *Server) userPreferences(ctx context.Context, log *slog.Logger, raw json.RawMessage, received time.Time) error {
	var v preferencesValue
	if err := json.Unmarshal(raw, &v); err != nil {
		log.Warn("user_preferences change not understood, ignored")
		return nil
	}
	line, err := s.lines.Line(ctx, v.Metadata.PhoneNumberID)
	if errors.Is(err, store.ErrNotFound) || v.Metadata.PhoneNumberID == "" {
		log.Warn("user_preferences for an unknown phone number id ignored")
		return nil
	}
	if err != nil {
		return fmt.Errorf("phone number id of user_preferences: %w", err)
	}
	for _, p := range v.Preferences {
		if p.Category != "" && p.Category != "marketing_messages" {
			continue
		}
		if p.Value != "stop" && p.Value != "resume" {
			continue
		}
		at := eventTime(log, p.Timestamp, received)
		if err := s.optOut(ctx, log, line.Tenant, p.WAID, p.Value == "stop", at, domain.OptOutByPreference); err != nil {
			return err
		}
	}
	return nil
}

// optOut sets a contact's marketing state and tells the tenant when it
// changed.
func (s *Server) optOut(ctx context.Context, log *slog.Logger, tenant, phone string, out bool, at time.Time, source string) error {
	if _, err := domain.ParsePhone(phone); err != nil {
		log.Warn("opt-out for an unusable number ignored", "phone", domain.MaskPhone(phone))
		return nil
	}
	c, changed, err := s.account.SetMarketingOptOut(ctx, tenant, phone, out, at, source)
	if err != nil {
		return err
	}
	if changed {
		log.Info("contact's marketing consent changed", "tenant", tenant, "phone", domain.MaskPhone(phone), "optedOut", out, "source", source)
		if url := s.callbackURL(ctx, log, tenant); url != "" && s.accountNotify != nil {
			s.accountNotify.NotifyOptOut(ctx, tenant, url, c)
		}
	}
	return nil
}

// keyword opts the writer of an inbound text out or in when the whole
// text is one of the tenant's keywords.
func (s *Server) keyword(ctx context.Context, log *slog.Logger, tenant, phone, text string, at time.Time) error {
	if s.account == nil || phone == "" || text == "" || len(text) > 64 {
		return nil
	}
	t, err := s.lines.Tenant(ctx, tenant)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenant, err)
	}
	out, ok := t.KeywordChange(text)
	if !ok {
		return nil
	}
	return s.optOut(ctx, log, tenant, phone, out, at, domain.OptOutByKeyword)
}

// stoppedMarketing opts out the recipient of a message Meta failed with
// 131050: the user stopped marketing from this business.
func (s *Server) stoppedMarketing(ctx context.Context, log *slog.Logger, m domain.Message, at time.Time) error {
	if s.account == nil || m.Error == nil || m.Error.Code != domain.MetaUserStoppedMarketing {
		return nil
	}
	return s.optOut(ctx, log, m.Tenant, m.PhoneNumber, true, at, domain.OptOutByMeta)
}

// callbackURL is the tenant's callback URL, "" when it has none or cannot
// be read (the change is stored either way; only its callback is lost,
// and logged).
func (s *Server) callbackURL(ctx context.Context, log *slog.Logger, tenant string) string {
	t, err := s.lines.Tenant(ctx, tenant)
	if err != nil {
		log.Warn("tenant not read; its callback is not sent", "tenant", tenant, "error", err.Error())
		return ""
	}
	return t.CallbackURL
}
