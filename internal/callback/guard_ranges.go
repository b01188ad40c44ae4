package callback

import (
	"fmt"
	"net/netip"
)

// opener is the switch that lets callbacks into a refused range.
type opener int

const (
	// onlyNamed ranges open only when Options.AllowRanges names them.
	onlyNamed opener = iota
	// loopbackSwitch ranges also open with Options.AllowLoopback.
	loopbackSwitch
	// privateSwitch ranges also open with Options.AllowPrivate.
	privateSwitch
)

// special is one refused range.
type special struct {
	prefix netip.Prefix
	kind   string
	opener opener
}

func refuse(prefix, kind string, o opener) special {
	return special{netip.MustParsePrefix(prefix), kind, o}
}

// specials are the addresses of IANA's IPv4 and IPv6 special-purpose
// address registries that are not global unicast, and the rest of the
// address space that is not either: a callback reaches none of them
// unless a switch opens it. Narrower ranges come before the ranges that
// hold them, so an address is named by the most precise entry.
//
// Not here, because they are judged by the IPv4 address inside them:
// ::ffff:0:0/96 (IPv4-mapped), ::/96 (IPv4-compatible) and 64:ff9b::/96
// (NAT64). See checkAddr.
var specials = []special{
	// IPv4.
	refuse("0.0.0.0/8", "this network (a dial reaches the local host)", onlyNamed),
	refuse("10.0.0.0/8", "private (RFC 1918)", privateSwitch),
	refuse("100.64.0.0/10", "shared address space (carrier-grade NAT)", privateSwitch),
	refuse("127.0.0.0/8", "loopback", loopbackSwitch),
	refuse("169.254.0.0/16", "link-local", onlyNamed),
	refuse("172.16.0.0/12", "private (RFC 1918)", privateSwitch),
	refuse("192.0.0.0/24", "IETF protocol assignments", onlyNamed),
	refuse("192.0.2.0/24", "documentation", onlyNamed),
	refuse("192.88.99.0/24", "6to4 relay anycast", onlyNamed),
	refuse("192.168.0.0/16", "private (RFC 1918)", privateSwitch),
	refuse("198.18.0.0/15", "benchmarking", onlyNamed),
	refuse("198.51.100.0/24", "documentation", onlyNamed),
	refuse("203.0.113.0/24", "documentation", onlyNamed),
	refuse("224.0.0.0/4", "multicast", onlyNamed),
	refuse("255.255.255.255/32", "broadcast", onlyNamed),
	refuse("240.0.0.0/4", "reserved", onlyNamed),

	// IPv6.
	refuse("::1/128", "loopback", loopbackSwitch),
	refuse("::/128", "unspecified (a dial reaches the local host)", onlyNamed),
	refuse("100::/64", "discard-only", onlyNamed),
	refuse("64:ff9b:1::/48", "local-use NAT64", onlyNamed),
	refuse("2001::/32", "Teredo", onlyNamed),
	refuse("2001:2::/48", "benchmarking", onlyNamed),
	refuse("2001:10::/28", "ORCHID", onlyNamed),
	refuse("2001:20::/28", "ORCHIDv2", onlyNamed),
	refuse("2001:db8::/32", "documentation", onlyNamed),
	refuse("2001::/23", "IETF protocol assignments", onlyNamed),
	refuse("2002::/16", "6to4", onlyNamed),
	refuse("3fff::/20", "documentation", onlyNamed),
	refuse("5f00::/16", "segment routing (SRv6) SIDs", onlyNamed),
	refuse("fc00::/7", "unique local (private)", privateSwitch),
	refuse("fe80::/10", "link-local", onlyNamed),
	refuse("fec0::/10", "site-local", onlyNamed),
	refuse("ff00::/8", "multicast", onlyNamed),
	// All of IPv6 but 2000::/3, the only block IANA allocates for global
	// unicast.
	refuse("::/3", "reserved", onlyNamed),
	refuse("4000::/2", "reserved", onlyNamed),
	refuse("8000::/1", "reserved", onlyNamed),
}

// lookup is the most precise refused range holding a.
func lookup(a netip.Addr) (special, bool) {
	for _, s := range specials {
		if s.prefix.Contains(a) {
			return s, true
		}
	}
	return special{}, false
}

var (
	ipv4Compatible = netip.MustParsePrefix("::/96")          // RFC 4291, deprecated
	nat64          = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215
	sixToFour      = netip.MustParsePrefix("2002::/16")      // RFC 3056
	teredo         = netip.MustParsePrefix("2001::/32")      // RFC 4380
)

// loopbackV4 stands for the names that always resolve to loopback.
var loopbackV4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// The metadata server, which hands out the deployment's credentials. No
// switch opens it.
var (
	metadataV4 = netip.MustParseAddr("169.254.169.254")
	metadataV6 = netip.MustParseAddr("fd20:ce::254") // Compute Engine's, on IPv6-only networks
)

// checkAddr refuses an address opt does not allow.
func checkAddr(a netip.Addr, opt Options) error {
	a = a.WithZone("").Unmap()
	if isMetadata(a) {
		return fmt.Errorf("%w: %s is the metadata server", ErrRefused, a)
	}
	for _, p := range opt.AllowRanges {
		if p.Contains(a) {
			return nil
		}
	}
	if judgedByIPv4(a) {
		// A translator forwards to the IPv4 address inside: judge that.
		b := a.As16()
		if err := checkAddr(netip.AddrFrom4([4]byte(b[12:])), opt); err != nil {
			return fmt.Errorf("%w (inside %s)", err, a)
		}
		return nil
	}
	s, ok := lookup(a)
	if !ok {
		return nil
	}
	switch {
	case s.opener == loopbackSwitch && opt.AllowLoopback, s.opener == privateSwitch && opt.AllowPrivate:
		return nil
	}
	return fmt.Errorf("%w: %s is %s", ErrRefused, a, s.kind)
}

// judgedByIPv4 reports whether a is an IPv6 form of an IPv4 address that
// is judged as that IPv4 address (IPv4-mapped addresses are unmapped
// before). :: and ::1 have their own entries.
func judgedByIPv4(a netip.Addr) bool {
	return nat64.Contains(a) || ipv4Compatible.Contains(a) && !a.IsUnspecified() && !a.IsLoopback()
}

// isMetadata reports whether a reaches the metadata server, directly or
// through any IPv6 form a translator or tunnel would forward to it, so
// that no range an operator opens can include it.
func isMetadata(a netip.Addr) bool {
	if a == metadataV4 || a == metadataV6 {
		return true
	}
	for _, v4 := range embedded(a) {
		if v4 == metadataV4 {
			return true
		}
	}
	return false
}

// embedded is every IPv4 address an IPv6 address may carry to a
// translator or tunnel.
func embedded(a netip.Addr) []netip.Addr {
	if !a.Is6() {
		return nil
	}
	b := a.As16()
	v4 := func(p0, p1, p2, p3 byte) netip.Addr { return netip.AddrFrom4([4]byte{p0, p1, p2, p3}) }
	switch {
	case ipv4Compatible.Contains(a), nat64.Contains(a):
		return []netip.Addr{v4(b[12], b[13], b[14], b[15])}
	case nat64Local.Contains(a):
		// The operator picks the prefix length inside the /48; RFC 6052
		// places the address differently for each (bits 64-71 stay zero).
		return []netip.Addr{
			v4(b[6], b[7], b[9], b[10]),    // /48
			v4(b[7], b[9], b[10], b[11]),   // /56
			v4(b[9], b[10], b[11], b[12]),  // /64
			v4(b[12], b[13], b[14], b[15]), // /96
		}
	case sixToFour.Contains(a):
		return []netip.Addr{v4(b[2], b[3], b[4], b[5])}
	case teredo.Contains(a):
		// The server, and the client, whose address is stored inverted.
		return []netip.Addr{v4(b[4], b[5], b[6], b[7]), v4(^b[12], ^b[13], ^b[14], ^b[15])}
	}
	return nil
}
