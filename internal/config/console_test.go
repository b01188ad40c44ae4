package config

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// The console's sessions last 30 minutes idle and 12 hours at most unless
// set; a session key shorter than MinSessionKey, or a longest session
// shorter than the idle expiry, is refused naming the variable.
func TestConsoleSettings(t *testing.T) {
	c, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Console.SessionIdle != 30*time.Minute || c.Console.SessionMax != 12*time.Hour || c.Console.SessionKey != "" {
		t.Errorf("console defaults: %+v", c.Console)
	}
	vars := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "CONSOLE_SESSION_KEY": "short", "CONSOLE_SESSION_IDLE": "13h"}
	_, err = LoadFrom(context.Background(), envconfig.MapLookuper(vars))
	for _, want := range []string{"CONSOLE_SESSION_KEY", "CONSOLE_SESSION_IDLE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	key := strings.Repeat("k", MinSessionKey)
	if _, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "CONSOLE_SESSION_KEY": key})); err != nil {
		t.Errorf("a %d-byte key: %v", MinSessionKey, err)
	}
}
