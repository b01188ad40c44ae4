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
