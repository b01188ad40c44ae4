package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// usageOf sums a tenant's usage of month.
func usageOf(t *testing.T, s *store.Store, tenant, month string) domain.Usage {
	t.Helper()
	counts, err := s.Usage(context.Background(), tenant, month)
	if err != nil {
		t.Fatal(err)
	}
	return domain.SumUsage(month, counts)
}

// TestPricingIsRecordedAndCountedOnce: each message records Meta's
// pricing; the update that first makes it billable counts it in its
// month, per channel and category, once, whatever is replayed, and
// whatever order concurrent webhooks take. A category the report does not
// name counts as other, and a channel whose id extends another's is
// counted apart.
func TestPricingIsRecordedAndCountedOnce(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for i, c := range []struct{ tenant, channel string }{{"t1", "main"}, {"t1", "second"}, {"t1", "main2"}, {"t2", "main"}} {
		if err := s.PutChannel(ctx, c.tenant, domain.Channel{ID: c.channel, PhoneNumberID: fmt.Sprintf("usage-pn-%d", i), Connected: true}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 5, 31, 23, 59, 0, 0, time.UTC)
	marketing := &domain.Pricing{Category: "marketing", Billable: true, Type: "regular", Model: "PMP"}
	utility := &domain.Pricing{Category: "utility", Billable: true, Type: "regular", Model: "PMP"}
	free := &domain.Pricing{Category: "utility", Billable: false, Type: "free_customer_service", Model: "PMP"}
	pending := func(channel, phone, wamid string) domain.Message {
		m := msg("t1", phone, at.Add(-time.Minute))
		m.Channel, m.Status, m.ProviderMessageID = channel, domain.StatusPending, wamid
		if _, err := s.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone}}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	apply := func(m domain.Message, st domain.Status, p *domain.Pricing, at time.Time) domain.Message {
		t.Helper()
		got, _, err := s.ApplyUpdate(ctx, "t1", m.ID, domain.Update{ProviderMessageID: m.ProviderMessageID, Status: st, At: at, Pricing: p})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	a := pending("main", "5511987650800", "wamid.a")
	apply(a, domain.StatusSent, marketing, at)
	apply(a, domain.StatusSent, marketing, at) // Meta's duplicate
	apply(a, domain.StatusDelivered, marketing, at.Add(time.Second))
	if got := apply(a, domain.StatusRead, nil, at.Add(2*time.Second)); got.Pricing == nil || *got.Pricing != *marketing {
		t.Errorf("a status without pricing left %+v, want the recorded %+v", got.Pricing, marketing)
	}

	// read first without pricing, then the late sent with it: the status
	// does not move, the pricing is still recorded and counted.
	b := pending("main", "5511987650801", "wamid.b")
	apply(b, domain.StatusRead, nil, at)
	if got := apply(b, domain.StatusSent, utility, at); got.Status != domain.StatusRead || got.Pricing == nil || *got.Pricing != *utility {
		t.Errorf("late sent: %s %+v, want read with %+v", got.Status, got.Pricing, utility)
	}

	// Free messages are recorded, never counted.
	c := pending("main", "5511987650802", "wamid.c")
	if got := apply(c, domain.StatusSent, free, at); got.Pricing == nil || got.Pricing.Billable {
		t.Errorf("free message pricing %+v", got.Pricing)
	}

	// Another channel, with its statuses racing each other.
	d := pending("second", "5511987650803", "wamid.d")
	var wg sync.WaitGroup
	for _, st := range []domain.Status{domain.StatusSent, domain.StatusDelivered, domain.StatusSent, domain.StatusDelivered} {
		wg.Go(func() { apply(d, st, marketing, at) })
	}
	wg.Wait()

	// A category Meta added since, on a channel named like main.
	e := pending("main2", "5511987650805", "wamid.e")
	apply(e, domain.StatusSent, &domain.Pricing{Category: "marketing_next", Billable: true, Model: "PMP"}, at)

	// Another tenant's message under the same channel name counts for it.
	o := msg("t2", "5511987650804", at)
	o.Status, o.ProviderMessageID = domain.StatusPending, "wamid.o"
	if _, err := s.Accept(ctx, store.Acceptance{Message: o, Contact: domain.Contact{Phone: o.PhoneNumber}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ApplyUpdate(ctx, "t2", o.ID, domain.Update{ProviderMessageID: "wamid.o", Status: domain.StatusSent, At: at, Pricing: marketing}); err != nil {
		t.Fatal(err)
	}

	got := usageOf(t, s, "t1", "2026-05")
	if got.Billable != 4 || got.Categories["marketing"] != 2 || got.Categories["utility"] != 1 || got.Categories["other"] != 1 || len(got.Channels) != 3 ||
		got.Channels[0].Channel != "main" || got.Channels[0].Billable != 2 || got.Channels[1].Channel != "main2" || got.Channels[1].Categories["other"] != 1 ||
		got.Channels[2].Categories["marketing"] != 1 {
		t.Errorf("usage of t1 in 2026-05: %+v", got)
	}
	if next := usageOf(t, s, "t1", "2026-06"); next.Billable != 0 {
		t.Errorf("usage of the next month: %+v", next)
	}
	if other := usageOf(t, s, "t2", "2026-05"); other.Billable != 1 {
		t.Errorf("usage of t2: %+v", other)
	}
}
