package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Ranges parses AllowRanges, naming every entry that is not a CIDR range
// in the form the address guard compares with. Empty entries (a trailing
// comma) are skipped.
func (c Callback) Ranges() ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, raw := range c.AllowRanges {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("CALLBACK_ALLOW_RANGES entry %q is not a CIDR range such as 10.0.0.0/8 or fd00::/8", s))
		case p.Addr().Is4In6():
			// The guard compares IPv4-mapped addresses as IPv4, so such a
			// range would never match.
			errs = append(errs, fmt.Errorf("CALLBACK_ALLOW_RANGES entry %q is IPv4-mapped: write the IPv4 range", s))
		case p != p.Masked():
			// 10.1.2.3/8 is more likely a typo than a way to write 10.0.0.0/8.
			errs = append(errs, fmt.Errorf("CALLBACK_ALLOW_RANGES entry %q has bits set past /%d: write %s", s, p.Bits(), p.Masked()))
		default:
			out = append(out, p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
