package callback

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/logging"
)

// guardCase is one address and what the strict guard says of it: the
// words its refusal names, or "" when it is global and allowed.
type guardCase struct {
	host string // as written in a URL
	kind string
}

// guardTable has at least one address of every refused range (checked by
// TestGuardTableCoversEveryRange), the edges next to some, and global
// addresses the guard must let through.
var guardTable = []guardCase{
	// IPv4.
	{"0.0.0.0", "this network"},
	{"0.1.2.3", "this network"},
	{"10.1.2.3", "private"},
	{"100.64.0.1", "shared address space"},
	{"100.127.255.254", "shared address space"},
	{"127.0.0.1", "loopback"},
	{"127.9.9.9", "loopback"},
	{"169.254.169.254", "metadata server"},
	{"169.254.1.1", "link-local"},
	{"172.16.0.1", "private"},
	{"172.31.255.255", "private"},
	{"192.0.0.1", "IETF protocol assignments"},
	{"192.0.0.170", "IETF protocol assignments"},
	{"192.0.2.1", "documentation"},
	{"192.88.99.1", "6to4 relay"},
	{"192.168.1.10", "private"},
	{"198.18.0.1", "benchmarking"},
	{"198.19.255.255", "benchmarking"},
	{"198.51.100.7", "documentation"},
	{"203.0.113.7", "documentation"},
	{"224.0.0.1", "multicast"},
	{"239.255.255.250", "multicast"},
	{"240.0.0.1", "reserved"},
	{"255.255.255.254", "reserved"},
	{"255.255.255.255", "broadcast"},

	// IPv6, and IPv4 inside IPv6.
	{"[::1]", "loopback"},
	{"[::]", "unspecified"},
	{"[::ffff:169.254.169.254]", "metadata server"},
	{"[::ffff:10.0.0.1]", "private"},
	{"[::ffff:127.0.0.1]", "loopback"},
	{"[::a9fe:a9fe]", "metadata server"},
	{"[::a00:1]", "private"},
	{"[::7f00:1]", "loopback"},
	{"[::2]", "this network"},
	{"[64:ff9b::a9fe:a9fe]", "metadata server"},
	{"[64:ff9b::a00:1]", "private"},
	{"[64:ff9b::c612:1]", "benchmarking"},
	{"[64:ff9b:1::1]", "local-use NAT64"},
	{"[64:ff9b:1::a9fe:a9fe]", "metadata server"},     // a /96 inside the /48
	{"[64:ff9b:1:a9fe:a9:fe00::]", "metadata server"}, // the /48 itself
	{"[100::1]", "discard-only"},
	{"[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "Teredo"},
	{"[2001:0:4136:e378:8000:63bf:5601:5601]", "metadata server"}, // client 169.254.169.254, inverted
	{"[2001:1::1]", "IETF protocol assignments"},
	{"[2001:2::1]", "benchmarking"},
	{"[2001:10::1]", "ORCHID"},
	{"[2001:20::1]", "ORCHIDv2"},
	{"[2001:db8::1]", "documentation"},
	{"[2002:a9fe:a9fe::1]", "metadata server"},
	{"[2002:808:808::1]", "6to4"},
	{"[3fff::1]", "documentation"},
	{"[5f00::1]", "segment routing"},
	{"[fc00::1]", "unique local"},
	{"[fd12:3456::1]", "unique local"},
	{"[fd20:ce::254]", "metadata server"},
	{"[fe80::1]", "link-local"},
	{"[fe80::1%25eth0]", "link-local"},
	{"[fec0::1]", "site-local"},
	{"[ff02::1]", "multicast"},
	{"[1000::1]", "reserved"},
	{"[4000::1]", "reserved"},
	{"[8000::1]", "reserved"},

	// Global.
	{"8.8.8.8", ""},
	{"1.1.1.1", ""},
	{"172.32.0.1", ""},  // past 172.16/12
	{"100.128.0.1", ""}, // past 100.64/10
	{"198.20.0.1", ""},  // past 198.18/15
	{"192.0.1.1", ""},   // before 192.0.2/24, past 192.0.0/24
	{"223.255.255.255", ""},
	{"[2001:4860:4860::8888]", ""},
	{"[2a00:1450:4001::1]", ""},
	{"[2001:200::1]", ""}, // past 2001::/23
	{"[::ffff:8.8.8.8]", ""},
	{"[64:ff9b::808:808]", ""}, // NAT64 of 8.8.8.8
	{"[::808:808]", ""},        // IPv4-compatible 8.8.8.8
}

// addrOf is the address a dialer would be handed for a URL host.
func addrOf(t *testing.T, host string) netip.Addr {
	t.Helper()
	h := strings.Replace(strings.Trim(host, "[]"), "%25", "%", 1)
	a, err := netip.ParseAddr(h)
	if err != nil {
		t.Fatalf("table host %s: %v", host, err)
	}
	return a
}

func wantRefusal(t *testing.T, where string, err error, kind string) {
	t.Helper()
	switch {
	case kind == "" && err != nil:
		t.Errorf("%s = %v, want allowed", where, err)
	case kind != "" && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), kind)):
		t.Errorf("%s = %v, want ErrRefused naming %q", where, err, kind)
	}
}

// TestGuardTable judges every address twice, as CheckURL sees it in a
// URL and as the dialer's Control sees it once resolved: both must say
// the same.
func TestGuardTable(t *testing.T) {
	for _, tt := range guardTable {
		err := CheckURL("http://"+tt.host+"/hook", Options{})
		wantRefusal(t, "CheckURL(http://"+tt.host+"/hook)", err, tt.kind)

		addr := net.JoinHostPort(addrOf(t, tt.host).String(), "443")
		err = dialControl(Options{})("tcp", addr, nil)
		wantRefusal(t, "dial "+addr, err, tt.kind)
	}
}

// TestGuardTableCoversEveryRange keeps the table honest: each refused
// range, and each IPv6 form judged by its IPv4 address, has an address in
// it.
func TestGuardTableCoversEveryRange(t *testing.T) {
	covered := map[netip.Prefix]bool{}
	for _, tt := range guardTable {
		a := addrOf(t, tt.host).WithZone("")
		if s, ok := lookup(a.Unmap()); ok {
			covered[s.prefix] = true
		}
		for _, p := range []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/96"), ipv4Compatible, nat64} {
			if p.Contains(a) && !a.IsLoopback() && !a.IsUnspecified() {
				covered[p] = true
			}
		}
	}
	want := []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/96"), ipv4Compatible, nat64}
	for _, s := range specials {
		want = append(want, s.prefix)
	}
	for _, p := range want {
		if !covered[p] {
			t.Errorf("no address of %s in the table", p)
		}
	}
}

// TestGuardNumericHosts: hosts that other parsers read as IPv4 in
// notations net/netip does not are invalid, whatever they denote.
func TestGuardNumericHosts(t *testing.T) {
	lax := Options{AllowLoopback: true, AllowPrivate: true}
	for _, host := range []string{
		"2852039166", "0251.0376.0251.0376", "0xa9fea9fe", "0XA9FEA9FE", "0xa9.0xfe.0xa9.0xfe",
		"169.254.43518", "169.16689662", "127.1", "0177.0.0.1", "010.0.0.1", "017700000001",
		"0", "0x", "1.2.3.4.5", "134744072", "hooks.example.8", "hooks.0xbad",
	} {
		if err := CheckURL("http://"+host+"/hook", lax); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("CheckURL(http://%s/hook) = %v, want ErrInvalidURL", host, err)
		}
	}
	for _, host := range []string{"8.8.8.8", "8.8.8.8.", "hooks.example.com", "123.example.com", "0x1.example.com", "hooks.0xbeg", "api.v2"} {
		if err := CheckURL("http://"+host+"/hook", Options{}); err != nil {
			t.Errorf("CheckURL(http://%s/hook) = %v, want nil", host, err)
		}
	}
}

// TestGuardSwitches: each switch opens its ranges and no other; no switch
// or range opens the metadata server, in any form.
func TestGuardSwitches(t *testing.T) {
	prefixes := func(ps ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range ps {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}
	loopback := Options{AllowLoopback: true}
	private := Options{AllowPrivate: true}
	named := Options{AllowRanges: prefixes("169.254.0.0/16", "fe80::/10", "2002::/16", "2001::/32", "64:ff9b:1::/48", "198.18.0.0/15", "fd20::/16")}
	everything := Options{AllowLoopback: true, AllowPrivate: true, AllowRanges: prefixes("0.0.0.0/0", "::/0")}
	metadata := []string{
		"169.254.169.254", "[::ffff:169.254.169.254]", "[::a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]",
		"[64:ff9b:1::a9fe:a9fe]", "[64:ff9b:1:a9fe:a9:fe00::]", "[64:ff9b:1:a9:fe:a9fe::]", "[64:ff9b:1:0:a9:fea9:fe00:0]",
		"[2002:a9fe:a9fe::1]", "[2001:0:4136:e378:8000:63bf:5601:5601]", "[2001:0:a9fe:a9fe::1]", "[fd20:ce::254]",
	}
	tests := []struct {
		opt     Options
		allowed []string
		refused []string
	}{
		{loopback,
			[]string{"127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "[::7f00:1]", "8.8.8.8"},
			[]string{"10.0.0.1", "0.0.0.0", "[::]", "169.254.1.1", "[fe80::1]", "[fc00::1]"}},
		{private,
			[]string{"10.0.0.1", "172.16.0.1", "192.168.0.1", "100.64.0.1", "[fc00::1]", "[fd12::1]", "[::ffff:10.0.0.1]", "[64:ff9b::a00:1]"},
			[]string{"127.0.0.1", "[::1]", "169.254.1.1", "[fe80::1]", "[fe80::1%25eth0]", "0.0.0.0", "[::]", "224.0.0.1", "255.255.255.255", "198.18.0.1", "[fec0::1]"}},
		{named,
			[]string{"169.254.1.1", "[fe80::1]", "[2002:808:808::1]", "[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "[64:ff9b:1::1]", "198.18.0.1", "[fd20:ce::253]"},
			[]string{"10.0.0.1", "127.0.0.1", "240.0.0.1", "[fc00::1]"}},
		{everything,
			[]string{"10.0.0.1", "127.0.0.1", "0.0.0.0", "240.0.0.1", "169.254.169.253", "[fe80::1]", "[ff02::1]", "[2001:db8::1]"},
			nil},
	}
	for _, tt := range tests {
		for _, host := range tt.allowed {
			if err := CheckURL("http://"+host+"/", tt.opt); err != nil {
				t.Errorf("CheckURL(%s) with %+v = %v, want allowed", host, tt.opt, err)
			}
			if err := dialControl(tt.opt)("tcp", net.JoinHostPort(addrOf(t, host).String(), "80"), nil); err != nil {
				t.Errorf("dial %s with %+v = %v, want allowed", host, tt.opt, err)
			}
		}
		for _, host := range append(tt.refused, metadata...) {
			if err := CheckURL("http://"+host+"/", tt.opt); !errors.Is(err, ErrRefused) {
				t.Errorf("CheckURL(%s) with %+v = %v, want ErrRefused", host, tt.opt, err)
			}
			if err := dialControl(tt.opt)("tcp", net.JoinHostPort(addrOf(t, host).String(), "80"), nil); !errors.Is(err, ErrRefused) {
				t.Errorf("dial %s with %+v = %v, want ErrRefused", host, tt.opt, err)
			}
		}
	}
}

// TestGuardLocalhostNames: localhost names are judged as the loopback
// address they always resolve to.
func TestGuardLocalhostNames(t *testing.T) {
	tests := []struct {
		opt  Options
		want error
	}{
		{Options{}, ErrRefused},
		{Options{AllowPrivate: true, AllowRanges: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, ErrRefused},
		{Options{AllowLoopback: true}, nil},
		{Options{AllowRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil},
	}
	for _, tt := range tests {
		for _, u := range []string{"http://localhost:8080/", "http://api.localhost./"} {
			if err := CheckURL(u, tt.opt); !errors.Is(err, tt.want) {
				t.Errorf("CheckURL(%s) with %+v = %v, want %v", u, tt.opt, err, tt.want)
			}
		}
	}
}

// errWouldConnect stands for a connection the test never makes.
var errWouldConnect = errors.New("test: the dial passed the guard")

// TestGuardDeliverDialsThroughTheTable delivers to a name that an
// injected resolver points at each address of the table, through the
// Deliverer's HTTP client: a refused address is dropped before the
// connection (Deliver returns nil and logs it), a global one reaches the
// connect, which the test's own Control stops there, so no packet leaves.
func TestGuardDeliverDialsThroughTheTable(t *testing.T) {
	opt := Options{Timeout: 5 * time.Second}
	d := NewDeliverer(staticTenant{CallbackSecret: "k"}, opt)
	var resolved netip.Addr
	guarded := &net.Dialer{Timeout: opt.Timeout, Control: func(network, address string, c syscall.RawConn) error {
		if err := dialControl(opt)(network, address, c); err != nil {
			return err
		}
		return errWouldConnect
	}}
	d.client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return guarded.DialContext(ctx, network, net.JoinHostPort(resolved.String(), port))
	}
	for _, tt := range guardTable {
		resolved = addrOf(t, tt.host)
		var logs bytes.Buffer
		ctx := logging.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))
		err := d.Deliver(ctx, Job{Tenant: "acme", URL: "http://hooks.example.com/", Event: Event{ID: "m1.3", MessageID: "m1"}})
		if tt.kind == "" {
			if !errors.Is(err, errWouldConnect) {
				t.Errorf("%s: Deliver = %v, want it to reach the connect", tt.host, err)
			}
			continue
		}
		if err != nil || !strings.Contains(logs.String(), "refused address") || !strings.Contains(logs.String(), tt.kind) {
			t.Errorf("%s: Deliver = %v, logs %s; want it dropped as %s", tt.host, err, logs.String(), tt.kind)
		}
	}
}
