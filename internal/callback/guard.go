package callback

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Errors for callback URLs the gateway does not deliver to.
var (
	// ErrInvalidURL marks a URL that is not an absolute http(s) URL with
	// a host and without userinfo.
	ErrInvalidURL = errors.New("callback: invalid URL")
	// ErrRefused marks an address in a range the deployment does not
	// allow (loopback, private, link-local, ...).
	ErrRefused = errors.New("callback: address refused")
)

// maxURLLength keeps a callback URL within what every server accepts.
const maxURLLength = 2048

// CheckURL reports whether raw may be set as a callback URL: http or
// https, a host, no userinfo (credentials would travel in every request
// and show in any log of it), and, when the host is a literal IP or a
// localhost name, an address opt allows (docs/callbacks.md lists the
// refused ranges). A host that is a number in another IPv4 notation
// (2852039166, 0xa9fea9fe) is not valid. A host name is checked again on
// every delivery, at dial time, against the address it resolves to then.
// Errors never repeat the URL, which may carry a secret.
func CheckURL(raw string, opt Options) error {
	_, err := parseURL(raw, opt)
	return err
}

func parseURL(raw string, opt Options) (*url.URL, error) {
	if len(raw) > maxURLLength {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrInvalidURL, maxURLLength)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// url.Error repeats the URL; say only what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: scheme must be http or https", ErrInvalidURL)
	case u.Opaque != "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: host is required", ErrInvalidURL)
	case u.User != nil:
		return nil, fmt.Errorf("%w: userinfo is not allowed", ErrInvalidURL)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		// RFC 6761: such names always resolve to loopback, so they are
		// judged as 127.0.0.1.
		if checkAddr(loopbackV4, opt) != nil {
			return nil, fmt.Errorf("%w: %s is loopback", ErrRefused, host)
		}
		return u, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := checkAddr(ip, opt); err != nil {
			return nil, err
		}
		return u, nil
	}
	if numericHost(host) {
		return nil, fmt.Errorf("%w: host is a number but not a dotted-decimal IPv4 address", ErrInvalidURL)
	}
	return u, nil
}

// numericHost reports whether host ends in a number, decimal or 0x hex.
// Browsers' URL parsers and C's inet_aton read such a host as an IPv4
// address in forms net/netip does not (2852039166, 0251.0376.0251.0376,
// 0xa9fea9fe, 169.254.43518 are all 169.254.169.254), and no top-level
// domain is numeric: refusing them leaves no host whose address the check
// could misread.
func numericHost(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	digits := "0123456789"
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		last, digits = hex, "0123456789abcdef"
		if last == "" {
			return true
		}
	}
	return last != "" && strings.Trim(last, digits) == ""
}

// dialControl checks the address a connection is about to be made to,
// after name resolution, so a host name that resolves (or is rebound) to
// a refused address is caught where it matters.
func dialControl(opt Options) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s is not an IP address", ErrRefused, address)
		}
		return checkAddr(ap.Addr(), opt)
	}
}

// newClient is the HTTP client callbacks are sent with.
func newClient(opt Options) *http.Client {
	dialer := &net.Dialer{Timeout: opt.Timeout, KeepAlive: 30 * time.Second, Control: dialControl(opt)}
	tr := &http.Transport{
		// No proxy: the dial check would then see the proxy's address
		// instead of the callback's.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   opt.Timeout,
		ResponseHeaderTimeout: opt.Timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   opt.Timeout,
		// A redirect could lead anywhere, and the receiver is the one
		// that has to answer; a 3xx counts as a failed delivery.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
