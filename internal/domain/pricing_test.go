package domain_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

func TestNewPricingKeepsWordsOnly(t *testing.T) {
	for _, c := range []struct {
		model, category, typ string
		want                 domain.Pricing
	}{
		{"PMP", "marketing", "regular", domain.Pricing{Category: "marketing", Billable: true, Type: "regular", Model: "PMP"}},
		{"pmp", "UTILITY", "Free_Customer_Service", domain.Pricing{Category: "utility", Billable: true, Type: "free_customer_service", Model: "PMP"}},
		{"", "authentication_international", "", domain.Pricing{Category: "authentication_international", Billable: true}},
		{"PMP", "", "regular", domain.Pricing{Category: domain.CategoryOther, Billable: true, Type: "regular", Model: "PMP"}},
		{"P M P", "mar/keting", "reg.ular", domain.Pricing{Category: domain.CategoryOther, Billable: true}},
		{strings.Repeat("P", 65), strings.Repeat("m", 65), "régular", domain.Pricing{Category: domain.CategoryOther, Billable: true}},
	} {
		if got := domain.NewPricing(true, c.model, c.category, c.typ); got != c.want {
			t.Errorf("NewPricing(%q, %q, %q) = %+v, want %+v", c.model, c.category, c.typ, got, c.want)
		}
	}
}

func TestRecordPricing(t *testing.T) {
	billable := &domain.Pricing{Category: "marketing", Billable: true, Type: "regular", Model: "PMP"}
	free := &domain.Pricing{Category: "utility", Type: "free_customer_service", Model: "PMP"}
	otherBillable := &domain.Pricing{Category: "utility", Billable: true, Type: "regular", Model: "PMP"}
	at := time.Date(2026, 5, 31, 23, 59, 0, 0, time.UTC)
	for _, c := range []struct {
		name             string
		had, p, want     *domain.Pricing
		recorded, billed bool
	}{
		{"none, none", nil, nil, nil, false, false},
		{"first, billable", nil, billable, billable, true, true},
		{"first, free", nil, free, free, true, false},
		{"a status without pricing keeps it", billable, nil, billable, false, false},
		{"the same again", billable, billable, billable, false, false},
		{"billable never changes", billable, otherBillable, billable, false, false},
		{"billable never turns free", billable, free, billable, false, false},
		{"free, then billable: counted once now", free, otherBillable, otherBillable, true, true},
		{"free, again", free, free, free, false, false},
	} {
		m := msgIn(domain.StatusSent)
		if c.had != nil {
			had := *c.had
			m.Pricing = &had
		}
		var p *domain.Pricing
		if c.p != nil {
			cp := *c.p
			p = &cp
		}
		had := m.Usage
		m.ExpireAt = at.Add(24 * time.Hour) // a retention of a day
		recorded, billed := m.RecordPricing(p, at)
		if recorded != c.recorded || billed != c.billed || !reflect.DeepEqual(m.Pricing, c.want) {
			t.Errorf("%s: recorded %v billed %v pricing %+v, want %v %v %+v", c.name, recorded, billed, m.Pricing, c.recorded, c.billed, c.want)
		}
		if billed {
			if want := domain.UsageKey("2026-05", m.Channel, c.want.Category); m.Usage != want {
				t.Errorf("%s: usage %q, want %q", c.name, m.Usage, want)
			}
		} else if m.Usage != had {
			t.Errorf("%s: usage %q changed without billing, was %q", c.name, m.Usage, had)
		}
		if keep := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC); billed && !m.ExpireAt.Equal(keep) || !billed && !m.ExpireAt.Equal(at.Add(24*time.Hour)) {
			t.Errorf("%s: billed %v, expires %s; a billable message is kept until %s", c.name, billed, m.ExpireAt, keep)
		}
		if p != nil && m.Pricing == p {
			t.Errorf("%s: the message holds the update's own pricing, not a copy", c.name)
		}
	}
}

func TestParseMonth(t *testing.T) {
	for _, ok := range []string{"2026-05", "2009-01", "2099-12"} {
		if got, err := domain.ParseMonth("month", ok); err != nil || got != ok {
			t.Errorf("ParseMonth(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{"", "2026-5", "2026-13", "2026-00", "26-05", "2026/05", "2026-05-01", " 2026-05", "май"} {
		_, err := domain.ParseMonth("month", bad)
		if de := domainError(t, err); de.Kind != domain.KindInvalid || !reflect.DeepEqual(de.Fields, []string{"month"}) {
			t.Errorf("ParseMonth(%q) = %+v, want invalid month", bad, de)
		}
	}
}

func TestSumUsage(t *testing.T) {
	u := domain.SumUsage("2026-05", []domain.UsageCount{
		{Channel: "second", Category: "marketing", Count: 1},
		{Channel: "main", Category: "utility", Count: 2},
		{Channel: "main", Category: "marketing", Count: 1},
		{Channel: "main", Category: "utility", Count: 3}, // another shard
		{Channel: "third", Category: "utility", Count: 0},
	})
	want := domain.Usage{
		Month: "2026-05", Billable: 7, Categories: map[string]int{"utility": 5, "marketing": 2},
		Channels: []domain.ChannelUsage{
			{Channel: "main", Billable: 6, Categories: map[string]int{"utility": 5, "marketing": 1}},
			{Channel: "second", Billable: 1, Categories: map[string]int{"marketing": 1}},
		},
	}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("SumUsage = %+v, want %+v", u, want)
	}
	if empty := domain.SumUsage("2026-06", nil); empty.Billable != 0 || empty.Channels == nil || empty.Categories == nil {
		t.Errorf("an empty month = %+v, want zero with empty (not null) lists", empty)
	}
}

func TestEventTimeIsNeverAfterReceipt(t *testing.T) {
	received := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		reported time.Time
		want     time.Time
		problem  bool
	}{
		{"a second ago", received.Add(-time.Second), received.Add(-time.Second), false},
		{"a week ago (Meta's retries)", received.Add(-7 * 24 * time.Hour), received.Add(-7 * 24 * time.Hour), false},
		{"absent", time.Time{}, received, false},
		{"a clock a minute ahead", received.Add(time.Minute), received, false},
		{"an hour ahead", received.Add(time.Hour), received, true},
		{"2^40 seconds", time.Unix(1<<40, 0), received, true},
		{"1970", time.Unix(12, 0), received, true},
		{"2008", time.Date(2008, 12, 31, 23, 59, 59, 0, time.UTC), received, true},
		{"2009", domain.EarliestEventTime, domain.EarliestEventTime, false},
	} {
		at, problem := domain.EventTime(c.reported, received)
		if !at.Equal(c.want) || (problem != "") != c.problem {
			t.Errorf("%s: %s %q, want %s (problem %v)", c.name, at, problem, c.want, c.problem)
		}
		if at.After(received) {
			t.Errorf("%s: %s is after the receipt", c.name, at)
		}
	}
}
