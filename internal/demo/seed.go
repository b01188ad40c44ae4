package demo

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/templategw/templategw/internal/domain"
)

// AccessTokenEnv is the environment variable the demo channel's secret
// reference names; the dev stack sets it to AccessToken for dispatch.
const AccessTokenEnv = "TEMPLATEGW_DEMO_ACCESS_TOKEN"

// Writer is where the demo is seeded.
type Writer interface {
	PutTenant(ctx context.Context, t domain.Tenant) error
	PutToken(ctx context.Context, token string, t domain.Token) error
	PutChannel(ctx context.Context, tenant string, c domain.Channel) error
	PutTemplate(ctx context.Context, tenant string, t domain.Template) error
}

// Channel is the demo tenant's one connected default channel.
func Channel() domain.Channel {
	return domain.Channel{
		ID: ChannelID, DisplayNumber: DisplayNumber, PhoneNumberID: PhoneNumberID, WABAID: WABAID,
		Provider: "meta", SecretRef: "env:" + AccessTokenEnv, SenderCode: SenderCode, CountryCode: CountryCode,
		Connected: true, Default: true, MessagesPerSecond: 1000,
	}
}

// Seed writes the demo tenant under tenantID with the given bearer token:
// the tenant, the token's grant, the channel and the templates. Tests seed
// it under their own tenant ids.
func Seed(ctx context.Context, w Writer, tenantID, token string) error {
	if err := w.PutTenant(ctx, domain.Tenant{ID: tenantID, Name: "Demo", CountryCode: CountryCode}); err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	if err := w.PutToken(ctx, token, domain.Token{Tenant: tenantID, Integration: "demo", Groups: []string{"Support"}, DefaultChannel: ChannelID}); err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	ch := Channel()
	if tenantID != TenantID {
		// A Meta number belongs to one channel: the demo's own tenant keeps
		// the sandbox's number, any other gets one of its own.
		ch.PhoneNumberID = phoneNumberIDFor(tenantID)
	}
	if err := w.PutChannel(ctx, tenantID, ch); err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	for _, t := range Templates() {
		if err := w.PutTemplate(ctx, tenantID, t); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	return nil
}

// phoneNumberIDFor makes a stable 15-digit phone-number id for a tenant
// seeded as a copy of the demo.
func phoneNumberIDFor(tenant string) string {
	h := fnv.New64a()
	h.Write([]byte(tenant))
	return fmt.Sprintf("9%014d", h.Sum64()%100000000000000)
}
