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
		c.SendWait != 5*time.Second || c.Callback.Topic != "callbacks" || c.Callback.AllowLoopback || c.Sweep.Topic != "sweep" {
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
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"GOOGLE_CLOUD_PROJECT", "META_BASE_URL", "DISPATCH_MAX_ATTEMPTS", "LOG_LEVEL", "SEND_WAIT", "CALLBACK_MAX_ATTEMPTS", "SWEEP_BATCH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
