package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// settings are the tenant settings tenant create and tenant update share,
// with one set of checks, so an update is refused exactly where a create
// with the same values would be.
type settings struct {
	name, countryCode, callbackURL *string
	limit, hours, retention        *int
	rateLimit                      *int
	unknownPolicy                  *string
}

// settingNames are the flags of settings, in the order help lists them.
var settingNames = []string{"name", "country-code", "conversation-limit", "conversation-hours", "callback-url", "unknown-policy", "retention-days", "rate-limit"}

// addSettings declares the settings' flags; create requires a name, and
// update can empty what create may leave empty.
func addSettings(f *flags, create bool) *settings {
	name, cc, cb := "the business's name", "default country code, digits (e.g. 55): prepended to national numbers",
		"URL that receives status callbacks (http or https, no credentials)"
	if create {
		name += " (required)"
	} else {
		cc += `; "" removes it`
		cb += `; "" removes it`
	}
	return &settings{
		name:        f.fs.String("name", "", name),
		countryCode: f.fs.String("country-code", "", cc),
		limit:       f.fs.Int("conversation-limit", 0, "conversations per calendar month the plan allows; 0 is unlimited"),
		hours: f.fs.Int("conversation-hours", 0, fmt.Sprintf("how long a conversation the gateway opens lasts, in hours, up to %d; 0 is %d",
			domain.MaxConversationHours, domain.DefaultConversationHours)),
		callbackURL: f.fs.String("callback-url", "", cb),
		retention: f.fs.Int("retention-days", domain.DefaultRetentionDays, fmt.Sprintf(
			"days messages and inbound messages are kept before Firestore's TTL removes them, up to %d; 0 keeps them", domain.MaxRetentionDays)),
		rateLimit: f.fs.Int("rate-limit", 0, fmt.Sprintf(
			"requests per second the tenant may make on the send routes, all instances together, 1 to %d; 0 is the deployment's TENANT_RATE_LIMIT", domain.MaxRateLimit)),
		unknownPolicy: f.fs.String("unknown-policy", "", fmt.Sprintf(
			"what becomes of a message whose outcome Meta left unknown past UNKNOWN_WAIT: %s (sent again, once; the default) or %s (left for templategw messages resolve)",
			domain.UnknownResend, domain.UnknownHold)),
	}
}

// check refuses the first bad value. A name must not be blank when given;
// the other flags' zero values are valid (unset, unlimited, default).
func (s *settings) check(ctx context.Context, f *flags) error {
	if f.given("name") && strings.TrimSpace(*s.name) == "" {
		return f.errorf("--name: must not be blank")
	}
	if *s.countryCode != "" && !digits(*s.countryCode, 3) {
		return f.errorf("--country-code %q: want 1 to 3 digits, without +", *s.countryCode)
	}
	if *s.limit < 0 {
		return f.errorf("--conversation-limit: must be 0 (unlimited) or more")
	}
	if *s.hours < 0 || *s.hours > domain.MaxConversationHours {
		return f.errorf("--conversation-hours %d: want 1 to %d, or 0 for %d", *s.hours, domain.MaxConversationHours, domain.DefaultConversationHours)
	}
	if *s.retention < 0 || *s.retention > domain.MaxRetentionDays {
		return f.errorf("--retention-days %d: want 0 (keep) to %d", *s.retention, domain.MaxRetentionDays)
	}
	if *s.rateLimit < 0 || *s.rateLimit > domain.MaxRateLimit {
		return f.errorf("--rate-limit %d: want 1 to %d requests per second, or 0 for the deployment's TENANT_RATE_LIMIT", *s.rateLimit, domain.MaxRateLimit)
	}
	if !domain.UnknownPolicy(*s.unknownPolicy).Valid() {
		return f.errorf("--unknown-policy %q: want %s or %s", *s.unknownPolicy, domain.UnknownResend, domain.UnknownHold)
	}
	if *s.callbackURL != "" {
		opt, err := callbackOptions(ctx)
		if err != nil {
			return err
		}
		if err := callback.CheckURL(*s.callbackURL, opt); err != nil {
			return f.errorf("--callback-url: %v", err)
		}
	}
	return nil
}

// apply sets every setting on a new tenant.
func (s *settings) apply(t *domain.Tenant) {
	t.Name, t.CountryCode, t.CallbackURL = strings.TrimSpace(*s.name), *s.countryCode, *s.callbackURL
	t.ConversationLimit, t.ConversationHours = *s.limit, *s.hours
	t.RateLimit = *s.rateLimit
	t.UnknownPolicy = domain.UnknownPolicy(*s.unknownPolicy)
	days := *s.retention
	t.RetentionDays = &days
}

// change is the settings the command line gave, and only those.
func (s *settings) change(f *flags) store.TenantChange {
	var c store.TenantChange
	if f.given("name") {
		name := strings.TrimSpace(*s.name)
		c.Name = &name
	}
	if f.given("country-code") {
		c.CountryCode = s.countryCode
	}
	if f.given("conversation-limit") {
		c.ConversationLimit = s.limit
	}
	if f.given("conversation-hours") {
		c.ConversationHours = s.hours
	}
	if f.given("callback-url") {
		c.CallbackURL = s.callbackURL
	}
	if f.given("unknown-policy") {
		p := domain.UnknownPolicy(*s.unknownPolicy)
		c.UnknownPolicy = &p
	}
	if f.given("retention-days") {
		c.RetentionDays = s.retention
	}
	if f.given("rate-limit") {
		c.RateLimit = s.rateLimit
	}
	return c
}
