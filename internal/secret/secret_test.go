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

func TestCheckRef(t *testing.T) {
	for _, good := range []string{"env:META_TOKEN_MAIN", "env:_x1"} {
		if err := CheckRef(good); err != nil {
			t.Errorf("CheckRef(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", "META_TOKEN", "env:", "env:1ABC", "env:A-B", "env:A B", "gsm:projects/p/secrets/s", "env:A\n"} {
		if err := CheckRef(bad); err == nil {
			t.Errorf("CheckRef(%q) accepted it", bad)
		}
	}
}
