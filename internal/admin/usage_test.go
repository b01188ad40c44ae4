package admin_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/store"
)

// TestUsageAndPricing: messages get and list show Meta's pricing, and
// usage sums the month's billable messages per channel and category.
func TestUsageAndPricing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	priced := func(phone, category string, billable bool) string {
		m := domain.NewMessage(store.NewID(), e.Tenant, demo.ChannelID, phone, "welcome", domain.TemplateMessage{Name: "welcome"}, now)
		m.Status, m.ProviderMessageID = domain.StatusPending, "wamid."+phone
		if _, err := e.Store.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone}}); err != nil {
			t.Fatal(err)
		}
		p := domain.NewPricing(billable, "PMP", category, "regular")
		if _, _, err := e.Store.ApplyUpdate(ctx, e.Tenant, m.ID, domain.Update{ProviderMessageID: m.ProviderMessageID, Status: domain.StatusSent, At: now, Pricing: &p}); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	id := priced("5511987651100", "marketing", true)
	priced("5511987651101", "marketing", true)
	priced("5511987651102", "utility", true)
	priced("5511987651103", "service", false)

	var v messages.View
	e.mustJSON(t, &v, "messages", "get", "--tenant", e.Tenant, "--id", id)
	if v.Pricing == nil || v.Pricing.Category != "marketing" || !v.Pricing.Billable {
		t.Errorf("messages get --json pricing %+v", v.Pricing)
	}
	if table := e.must(t, "messages", "get", "--tenant", e.Tenant, "--id", id); !strings.Contains(table, "marketing billable regular PMP") {
		t.Errorf("messages get table lacks the pricing:\n%s", table)
	}
	if table := e.must(t, "messages", "list", "--tenant", e.Tenant); !strings.Contains(table, "PRICING") || !strings.Contains(table, "service (free)") {
		t.Errorf("messages list lacks the pricing:\n%s", table)
	}

	var u domain.Usage
	e.mustJSON(t, &u, "usage", "--tenant", e.Tenant)
	if u.Month != domain.MonthKey(now) || u.Billable != 3 || u.Categories["marketing"] != 2 || u.Categories["utility"] != 1 ||
		len(u.Channels) != 1 || u.Channels[0].Channel != demo.ChannelID {
		t.Errorf("usage --json = %+v", u)
	}
	table := e.must(t, "usage", "--tenant", e.Tenant, "--month", domain.MonthKey(now))
	for _, want := range []string{`(?m)^main +marketing +2$`, `(?m)^main +utility +1$`, `(?m)^all +marketing +2$`, `: 3 billable messages`} {
		if !regexp.MustCompile(want).MatchString(table) {
			t.Errorf("usage table lacks %s:\n%s", want, table)
		}
	}
	if table := e.must(t, "usage", "--tenant", e.Tenant, "--month", "2020-01"); !strings.Contains(table, "2020-01: 0 billable messages") {
		t.Errorf("an empty month:\n%s", table)
	}
	for _, bad := range [][]string{{"usage", "--tenant", e.Tenant, "--month", "2026-13"}, {"usage"}, {"usage", "--tenant", "nobody"}} {
		if out, err := e.run(bad...); err == nil {
			t.Errorf("%v succeeded: %s", bad, out)
		}
	}
}
