package secret

import (
	"context"
	"testing"
)

func TestEnvResolve(t *testing.T) {
	t.Setenv("TEMPLATEGW_TEST_SECRET", "s3cret")
	if v, err := (Env{}).Resolve(context.Background(), "env:TEMPLATEGW_TEST_SECRET"); err != nil || v != "s3cret" {
		t.Fatalf("Resolve = %q, %v", v, err)
	}
	for _, bad := range []string{"", "TEMPLATEGW_TEST_SECRET", "env:", "env:TEMPLATEGW_UNSET_SECRET"} {
		if _, err := (Env{}).Resolve(context.Background(), bad); err == nil {
			t.Errorf("Resolve(%q) succeeded", bad)
		}
	}
}
