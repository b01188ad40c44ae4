package config

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

func TestLoadDefaults(t *testing.T) {
	c, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DispatchTopic != "dispatch" || c.Meta.APIVersion != "v24.0" || c.Dispatch.MaxAttempts != 10 ||
		c.Dispatch.MaxDeliveries != 50 || c.Dispatch.HoldLimit != 24*time.Hour || c.Dispatch.UnknownWait != 10*time.Minute ||
		c.SendWait != 5*time.Second || c.Callback.Topic != "callbacks" || c.Callback.AllowLoopback || c.Sweep.Topic != "sweep" ||
		c.DispatchBulkTopic != "dispatch-bulk" || c.Dispatch.PaceWait != 10*time.Second {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

// Defaults are what Load gives with only the project set, so code that
// reads them sees what an unconfigured function runs with.
func TestDefaultsAreWhatLoadApplies(t *testing.T) {
	loaded, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if d.ProjectID != "" {
		t.Errorf("Defaults has project %q; none has a default", d.ProjectID)
	}
	d.ProjectID = loaded.ProjectID
	if !reflect.DeepEqual(d, *loaded) {
		t.Errorf("Defaults() = %+v\nLoad gives %+v", d, *loaded)
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	_, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{
		"META_BASE_URL": "ftp://x", "DISPATCH_MAX_ATTEMPTS": "0", "LOG_LEVEL": "loud",
		"SEND_WAIT": "0s", "CALLBACK_MAX_ATTEMPTS": "3", "SWEEP_BATCH": "0",
		"DISPATCH_MAX_DELIVERIES": "4", "HOLD_LIMIT": "0s", "CALLBACK_INLINE_TIMEOUT": "11s",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"GOOGLE_CLOUD_PROJECT", "META_BASE_URL", "DISPATCH_MAX_ATTEMPTS", "LOG_LEVEL", "SEND_WAIT", "CALLBACK_MAX_ATTEMPTS", "SWEEP_BATCH",
		"DISPATCH_MAX_DELIVERIES", "HOLD_LIMIT", "CALLBACK_INLINE_TIMEOUT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// A dispatch subscription without a dead-letter policy counts no
// deliveries: 0 turns the last-delivery rule off and is valid.
func TestMaxDeliveriesOff(t *testing.T) {
	c, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p", "DISPATCH_MAX_DELIVERIES": "0", "HOLD_LIMIT": "2h", "UNKNOWN_WAIT": "30s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Dispatch.MaxDeliveries != 0 || c.Dispatch.HoldLimit != 2*time.Hour || c.Dispatch.UnknownWait != 30*time.Second {
		t.Errorf("dispatch = %+v", c.Dispatch)
	}
}

// The pace wait is spent before the claim, inside the delivery: one as
// long as the lease would outlive the claim it precedes.
func TestPaceWaitStaysBelowTheLease(t *testing.T) {
	for _, w := range []string{"0s", "60s", "2m"} {
		_, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DISPATCH_PACE_WAIT": w}))
		if err == nil || !strings.Contains(err.Error(), "DISPATCH_PACE_WAIT") {
			t.Errorf("DISPATCH_PACE_WAIT=%s: err = %v, want it refused", w, err)
		}
	}
}

// A tenant's default request limit is a limit: neither off nor past what
// the CLI lets a tenant set.
func TestTenantRateLimitIsBounded(t *testing.T) {
	if d := Defaults(); d.TenantRateLimit != 100 {
		t.Errorf("TENANT_RATE_LIMIT default = %d, want 100", d.TenantRateLimit)
	}
	for _, v := range []string{"0", "-1", "10001"} {
		_, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "TENANT_RATE_LIMIT": v}))
		if err == nil || !strings.Contains(err.Error(), "TENANT_RATE_LIMIT") {
			t.Errorf("TENANT_RATE_LIMIT=%s: err = %v, want it refused", v, err)
		}
	}
}
