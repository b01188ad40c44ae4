package config

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

func TestCallbackAllowRanges(t *testing.T) {
	c, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p", "CALLBACK_ALLOW_RANGES": "10.0.0.0/8, fd00::/8,",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Callback.Ranges()
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Ranges() = %v, %v; want %v", got, err, want)
	}

	none, err := (Callback{}).Ranges()
	if err != nil || len(none) != 0 {
		t.Fatalf("Ranges() of nothing = %v, %v; want none", none, err)
	}
}

func TestCallbackAllowRangesNamesEveryBadEntry(t *testing.T) {
	_, err := LoadFrom(context.Background(), envconfig.MapLookuper(map[string]string{
		"GOOGLE_CLOUD_PROJECT":  "p",
		"CALLBACK_ALLOW_RANGES": "192.168.0.0/16,10.1.2.3/8,vpc,::ffff:10.0.0.0/104,172.16.0.0",
		"TRUSTED_PROXY_HOPS":    "-1",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`"10.1.2.3/8"`, "write 10.0.0.0/8", `"vpc"`, `"::ffff:10.0.0.0/104"`, `"172.16.0.0"`, "TRUSTED_PROXY_HOPS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "192.168.0.0/16") {
		t.Errorf("error %q names a good entry", err)
	}
}

func TestTrustedProxyHops(t *testing.T) {
	for env, want := range map[string]int{"": 1, "0": 0, "2": 2} {
		vars := map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}
		if env != "" {
			vars["TRUSTED_PROXY_HOPS"] = env
		}
		c, err := LoadFrom(context.Background(), envconfig.MapLookuper(vars))
		if err != nil {
			t.Fatalf("TRUSTED_PROXY_HOPS=%q: %v", env, err)
		}
		if c.TrustedProxyHops != want {
			t.Errorf("TRUSTED_PROXY_HOPS=%q gives %d, want %d", env, c.TrustedProxyHops, want)
		}
	}
}
