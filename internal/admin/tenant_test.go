package admin_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
)

// tenant update changes the settings given and nothing else: not the
// others, not the callback secret, not another tenant. An empty value
// removes what create may leave unset, and is stored as create stores it.
func TestTenantUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other, err := e.Store.Tenant(ctx, demo.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	var created tenantOut
	e.mustJSON(t, &created, "tenant", "create", "--id", "acme", "--name", "Acme", "--country-code", "55",
		"--conversation-limit", "1000", "--callback-url", "https://hooks.example.com/tgw?key=abc")

	var got tenantOut
	raw := e.mustJSON(t, &got, "tenant", "update", "--id", "acme", "--conversation-limit", "50", "--conversation-hours", "72")
	want := created
	want.ConversationLimit, want.ConversationHours, want.CallbackSecret = 50, 72, ""
	if got != want {
		t.Errorf("tenant update --json = %+v, want %+v", got, want)
	}
	if strings.Contains(raw, "key=abc") || strings.Contains(raw, created.CallbackSecret) || strings.Contains(raw, "callbackSecret") {
		t.Errorf("tenant update --json shows the URL's query or the secret: %s", raw)
	}
	stored, err := e.Store.Tenant(ctx, "acme")
	retention := domain.DefaultRetentionDays
	if wantStored := (domain.Tenant{ID: "acme", Name: "Acme", CountryCode: "55", ConversationLimit: 50, ConversationHours: 72, RetentionDays: &retention,
		CallbackURL: "https://hooks.example.com/tgw?key=abc", CallbackSecret: created.CallbackSecret}); err != nil || !reflect.DeepEqual(stored, wantStored) {
		t.Errorf("stored %+v, %v; want %+v", stored, err, wantStored)
	}

	table := e.must(t, "tenant", "update", "--id", "acme", "--callback-url", "", "--country-code", "",
		"--conversation-hours", "0", "--name", "  Acme Two ")
	for key, want := range map[string]string{
		"tenant": "acme", "name": "Acme Two", "country code": "-", "conversation limit": "50",
		"conversation hours": "24", "callback url": "not set",
	} {
		if got := field(t, table, key); got != want {
			t.Errorf("tenant update: %s is %q, want %q", key, got, want)
		}
	}
	if strings.Contains(table, "callback secret") || strings.Contains(table, created.CallbackSecret) {
		t.Errorf("tenant update prints the secret:\n%s", table)
	}
	doc, err := e.Firestore.Collection("tenants").Doc("acme").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := doc.Data()
	_, hours := data["conversationHours"]
	_, url := data["callbackUrl"]
	if hours || url || data["countryCode"] != "" || data["name"] != "Acme Two" || data["conversationLimit"] != int64(50) ||
		data["callbackSecret"] != created.CallbackSecret {
		t.Errorf("stored document %v: want no conversationHours or callbackUrl, the rest as set and the secret kept", data)
	}

	if after, err := e.Store.Tenant(ctx, demo.TenantID); err != nil || !reflect.DeepEqual(after, other) {
		t.Errorf("updating acme changed %s: %+v, was %+v (%v)", demo.TenantID, after, other, err)
	}
}

// tenant update --rate-limit sets the tenant's requests per second, 0 goes
// back to the deployment's default (the field is removed, as create leaves
// it), and anything else is refused naming the flag and its range.
func TestTenantRateLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.must(t, "tenant", "create", "--id", "rated", "--name", "Rated")
	var got tenantOut
	e.mustJSON(t, &got, "tenant", "update", "--id", "rated", "--rate-limit", "5")
	if got.RateLimit != 5 {
		t.Errorf("tenant update --rate-limit 5 shows %d", got.RateLimit)
	}
	if stored, err := e.Store.Tenant(ctx, "rated"); err != nil || stored.RateLimit != 5 || stored.RequestLimit(100) != 5 {
		t.Errorf("stored %+v, %v; want rateLimit 5", stored, err)
	}
	if table := e.must(t, "tenant", "list"); !strings.Contains(table, "5/s") {
		t.Errorf("tenant list does not show the limit:\n%s", table)
	}

	table := e.must(t, "tenant", "update", "--id", "rated", "--rate-limit", "0")
	if got := field(t, table, "rate limit"); !strings.HasPrefix(got, "default") {
		t.Errorf("tenant update --rate-limit 0: rate limit is %q, want the default", got)
	}
	doc, err := e.Firestore.Collection("tenants").Doc("rated").Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Data()["rateLimit"]; ok {
		t.Errorf("rate limit 0 is stored: %v", doc.Data())
	}

	for _, bad := range []string{"-1", "10001"} {
		_, err := e.run("tenant", "update", "--id", "rated", "--rate-limit", bad)
		if err == nil || !strings.Contains(err.Error(), "--rate-limit "+bad+": want 1 to 10000") {
			t.Errorf("--rate-limit %s: err = %v, want it refused with the range", bad, err)
		}
	}
}
