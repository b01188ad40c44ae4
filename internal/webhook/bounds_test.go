package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/webhook"
)

// absurdTimestamps are signed timestamps no event can have: each is
// answered 200 and recorded as the time the webhook arrived.
var absurdTimestamps = map[string]any{
	"2^40 seconds":             "1099511627776",
	"year 5138":                "99999999999",
	"an hour ahead":            "", // filled in per run
	"1970":                     "12",
	"negative":                 "-5",
	"overflowing int64":        "99999999999999999999",
	"a float":                  1.5,
	"an object":                map[string]any{"seconds": 1},
	"a boolean":                true,
	"a word":                   "yesterday",
	"a huge number, unquoted":  1e300,
	"an empty string (absent)": "",
}

func timestampsFor(now time.Time) map[string]any {
	out := map[string]any{}
	for k, v := range absurdTimestamps {
		out[k] = v
	}
	out["an hour ahead"] = fmt.Sprint(now.Add(time.Hour).Unix())
	return out
}

// within fails t unless at lies between the moments before and after the
// webhook was posted (Firestore keeps microseconds).
func within(t *testing.T, what string, at, before, after time.Time) {
	t.Helper()
	if at.Before(before.Add(-time.Millisecond)) || at.After(after) {
		t.Errorf("%s: recorded %s, want the receive time, between %s and %s", what, at, before, after)
	}
}

// TestAbsurdStatusTimestampsAreClamped: a status whose timestamp is no
// time moves the message at the receive time, answers 200, and opens a
// conversation that ends one period after now, never later.
func TestAbsurdStatusTimestampsAreClamped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	i := 0
	for name, ts := range timestampsFor(time.Now()) {
		i++
		m := f.pending(t, fmt.Sprintf("55119876502%02d", i))
		before := time.Now()
		body := statusBody(m.ProviderMessageID, "sent", before, map[string]any{"timestamp": ts})
		if code := f.post(t, body, webhook.Sign(appSecret, []byte(body))); code != http.StatusOK {
			t.Errorf("%s: answered %d, want 200", name, code)
			continue
		}
		after := time.Now()
		got := f.load(t, m.ID)
		if got.Status != domain.StatusSent {
			t.Errorf("%s: status %s, want sent", name, got.Status)
			continue
		}
		within(t, name, got.History[len(got.History)-1].At, before, after)
		c, err := f.Store.Conversation(ctx, f.Tenant, demo.ChannelID, m.PhoneNumber)
		if err != nil || c.ID == "" || c.ExpiresAt.After(after.Add(24*time.Hour)) {
			t.Errorf("%s: conversation %+v (%v), want one ending within 24 h of now", name, c, err)
		}
	}
}

// TestAbsurdInboundTimestampsAreClamped: an inbound message whose
// timestamp is no time is stored at the receive time, and the service
// window and conversation it opens end 24 h after now at the latest.
func TestAbsurdInboundTimestampsAreClamped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	i := 0
	for name, ts := range timestampsFor(time.Now()) {
		i++
		phone := fmt.Sprintf("55119876503%02d", i)
		before := time.Now()
		body := envelope(map[string]any{
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Maria"}, "wa_id": phone}},
			"messages": []any{map[string]any{"from": phone, "id": "wamid.clamp" + phone, "timestamp": ts, "type": "text", "text": map[string]any{"body": "oi"}}},
		})
		if code := f.post(t, body, webhook.Sign(appSecret, []byte(body))); code != http.StatusOK {
			t.Errorf("%s: answered %d, want 200", name, code)
			continue
		}
		after := time.Now()
		snap, err := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("inbound").Doc("wamid.clamp" + phone).Get(ctx)
		if err != nil {
			t.Errorf("%s: inbound not stored: %v", name, err)
			continue
		}
		var in domain.InboundMessage
		if err := snap.DataTo(&in); err != nil {
			t.Fatal(err)
		}
		within(t, name, in.At, before, after)
		c, err := f.Store.Contact(ctx, f.Tenant, phone)
		if err != nil || !c.WindowOpen(demo.ChannelID, after) || c.Windows[demo.ChannelID].After(after.Add(domain.ServiceWindow)) {
			t.Errorf("%s: window %v (%v), want open and ending within 24 h of now", name, c.Windows, err)
		}
		conv, err := f.Store.Conversation(ctx, f.Tenant, demo.ChannelID, phone)
		if err != nil || !conv.Open(after) || conv.ExpiresAt.After(after.Add(24*time.Hour)) {
			t.Errorf("%s: conversation %+v (%v)", name, conv, err)
		}
	}
}

// TestAbsurdSignedInputIsAcknowledged: huge ids, odd types and
// unreadable items are logged and acknowledged with 200, change nothing
// they name, and never stop the rest of the body.
func TestAbsurdSignedInputIsAcknowledged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.pending(t, "5511987650400")
	huge := strings.Repeat("9", 2000)
	good := map[string]any{"id": m.ProviderMessageID, "status": "delivered", "timestamp": fmt.Sprint(time.Now().Unix())}
	for name, body := range map[string]string{
		"a huge wamid naming the message by callback data": statusBody(strings.Repeat("w", 2000), "read", time.Now(), map[string]any{"biz_opaque_callback_data": m.ID}),
		"a huge callback data":                             statusBody("wamid.nobody", "read", time.Now(), map[string]any{"biz_opaque_callback_data": huge}),
		"a huge inbound id":                                envelope(map[string]any{"messages": []any{map[string]any{"from": "5511987650401", "id": huge, "type": "text"}}}),
		"a huge sender":                                    envelope(map[string]any{"messages": []any{map[string]any{"from": huge, "id": "wamid.h1", "type": "text"}}}),
		"a huge user id":                                   envelope(map[string]any{"messages": []any{map[string]any{"from_user_id": "BR." + huge, "id": "wamid.h2", "type": "text"}}}),
		"a huge phone number id":                           envelope(map[string]any{"metadata": map[string]any{"phone_number_id": huge}, "statuses": []any{good}}),
		"statuses that are no items":                       envelope(map[string]any{"statuses": []any{1, "x", nil, true}}),
		"a status id of odd type":                          envelope(map[string]any{"statuses": []any{map[string]any{"id": 5, "status": "read"}}}),
		"statuses as an object":                            envelope(map[string]any{"statuses": map[string]any{"id": "x"}}),
		"metadata as a string":                             envelope(map[string]any{"metadata": "x"}),
		"an error code as a string":                        envelope(map[string]any{"errors": []any{map[string]any{"code": "x"}}}),
		"a contact of odd type":                            envelope(map[string]any{"contacts": []any{5}, "messages": []any{map[string]any{"from": "5511987650402", "id": "wamid.h3", "type": "text", "text": map[string]any{"body": "oi"}}}}),
	} {
		if code := f.post(t, body, webhook.Sign(appSecret, []byte(body))); code != http.StatusOK {
			t.Errorf("%s: answered %d, want 200", name, code)
		}
	}
	if got := f.load(t, m.ID); got.Status != domain.StatusPending || got.ProviderMessageID != m.ProviderMessageID {
		t.Errorf("absurd statuses moved the message to %s with wamid %.40q", got.Status, got.ProviderMessageID)
	}
	if _, err := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("inbound").Doc("wamid.h3").Get(ctx); err != nil {
		t.Errorf("the message beside an unreadable contact was not stored: %v", err)
	}

	// An odd item does not stop the good one beside it; odd pricing and
	// errors lose only themselves.
	body := envelope(map[string]any{"statuses": []any{
		map[string]any{"id": 7},
		map[string]any{"id": m.ProviderMessageID, "status": "delivered", "timestamp": "yesterday",
			"pricing": map[string]any{"billable": "yes"}, "errors": "none"},
	}})
	f.postSigned(t, body)
	if got := f.load(t, m.ID); got.Status != domain.StatusDelivered || got.Pricing != nil || got.Error != nil {
		t.Errorf("good status beside an odd one: %s pricing %+v error %+v", got.Status, got.Pricing, got.Error)
	}

	// A message whose content cannot be read is still stored, by type.
	f.postSigned(t, envelope(map[string]any{"messages": []any{map[string]any{"from": "5511987650403", "id": "wamid.h4", "type": "location",
		"location": map[string]any{"latitude": "north"}}}}))
	snap, err := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("inbound").Doc("wamid.h4").Get(ctx)
	if err != nil || snap.Data()["type"] != "location" {
		t.Errorf("unreadable location: %v (%v)", snap.Data(), err)
	}

	// A long error title is cut, not refused by Firestore.
	n := f.pending(t, "5511987650404")
	f.postSigned(t, statusBody(n.ProviderMessageID, "failed", time.Now(), map[string]any{
		"errors": []any{map[string]any{"code": 131026, "title": strings.Repeat("t", 2_000_000)}},
	}))
	got := f.load(t, n.ID)
	if got.Status != domain.StatusFailed || got.Error == nil || len(got.Error.Title) != 512 {
		t.Errorf("failed with a huge title: %s %+.40v", got.Status, got.Error)
	}
}
