package security_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
)

// TestCallbackURLsIntoPrivateNetworksAreRefused: a status-callback URL
// naming a loopback, private, shared, link-local (the metadata server),
// unspecified or multicast address, IPv4 or IPv6 (ULA, loopback, mapped,
// NAT64), or a localhost name, is refused when it is set (CheckURL); a
// public one is not.
func TestCallbackURLsIntoPrivateNetworksAreRefused(t *testing.T) {
	strict := callback.Options{}
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://127.1.2.3:8080/hook", "http://localhost/hook", "http://LocalHost./hook", "http://x.localhost/hook",
		"http://10.0.0.1/hook", "http://172.16.5.4/hook", "http://192.168.0.10/hook", "http://100.64.1.1/hook",
		"http://169.254.169.254/computeMetadata/v1/", "http://169.254.1.1/hook",
		"http://0.0.0.0/hook", "http://224.0.0.251/hook", "http://255.255.255.255/hook",
		"http://[::1]/hook", "http://[fd00::1]/hook", "http://[fc00::abcd]/hook", "http://[fe80::1]/hook", "http://[::]/hook", "http://[ff02::1]/hook",
		"http://[::ffff:169.254.169.254]/hook", "http://[::ffff:10.0.0.1]/hook", "http://[64:ff9b::a9fe:a9fe]/hook",
	} {
		if err := callback.CheckURL(u, strict); !errors.Is(err, callback.ErrRefused) {
			t.Errorf("CheckURL(%s) = %v, want ErrRefused", u, err)
		}
	}
	for _, u := range []string{"https://hooks.example.com/templategw", "http://8.8.8.8/hook", "https://[2001:4860:4860::8888]/hook", "http://172.32.0.1/hook"} {
		if err := callback.CheckURL(u, strict); err != nil {
			t.Errorf("CheckURL(%s) = %v, want nil", u, err)
		}
	}
}

// zone is what the test's DNS server answers: names under security.test
// that resolve to addresses callbacks must never reach.
var zone = map[string][]netip.Addr{
	"loopback.security.test.":   {netip.MustParseAddr("127.0.0.1")},
	"loopback6.security.test.":  {netip.MustParseAddr("::1")},
	"private.security.test.":    {netip.MustParseAddr("10.0.0.1")},
	"shared.security.test.":     {netip.MustParseAddr("100.64.0.1")},
	"metadata.security.test.":   {netip.MustParseAddr("169.254.169.254")},
	"ula.security.test.":        {netip.MustParseAddr("fd00::1")},
	"linklocal6.security.test.": {netip.MustParseAddr("fe80::1")},
	"mapped.security.test.":     {netip.MustParseAddr("::ffff:169.254.169.254")},
	"nat64.security.test.":      {netip.MustParseAddr("64:ff9b::a9fe:a9fe")},
}

// TestCallbacksToNamesResolvingPrivatelyAreRefusedAtDial: a callback URL
// whose host is a name passes CheckURL (it cannot be judged before it
// resolves), and is refused at dial time when the name resolves to a
// refused address: nothing is sent, the callback is dropped (Deliver
// returns nil at once, so Pub/Sub does not retry it), and the log says
// why. The names resolve through a DNS server of the test's own. The
// control: with loopback allowed, the same name delivers, signed so that
// the receiver's callback.Verify accepts it; a redirect from an allowed
// receiver is not followed.
func TestCallbacksToNamesResolvingPrivatelyAreRefusedAtDial(t *testing.T) {
	useDNS(t, zone)
	const secret = "0123456789abcdef0123456789abcdef-tenant-secret"
	tenants := tenantsOf{"acme": {ID: "acme", CallbackSecret: secret}}

	var got atomic.Int32
	var verified error = errors.New("no callback received")
	var mu sync.Mutex
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		verified = callback.Verify(secret, r.Header, body, time.Now(), 0)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	port := receiver.URL[strings.LastIndex(receiver.URL, ":")+1:]

	job := func(host string) callback.Job {
		return callback.Job{Tenant: "acme", URL: "http://" + host + "/hook?key=abc",
			Event: callback.Event{ID: "m1.2", Type: callback.EventType, MessageID: "m1", Status: domain.StatusSent, Timestamp: time.Now().UTC()}}
	}
	strict := callback.NewDeliverer(tenants, callback.Options{Timeout: 3 * time.Second})
	for name := range zone {
		host := strings.TrimSuffix(name, ".") + ":" + port
		if err := callback.CheckURL("http://"+host+"/hook", callback.Options{}); err != nil {
			t.Errorf("CheckURL(%s) = %v: a name is judged when it resolves", host, err)
		}
		var logs bytes.Buffer
		ctx := logging.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))
		start := time.Now()
		err := strict.Deliver(ctx, job(host))
		if err != nil || time.Since(start) > 2*time.Second || !strings.Contains(logs.String(), "resolves to a refused address") {
			t.Errorf("callback to %s: Deliver = %v after %s, logs %s; want it dropped at dial time", host, err, time.Since(start), logs.String())
		}
		if strings.Contains(logs.String(), "key=abc") {
			t.Errorf("callback to %s: the log shows the URL's query: %s", host, logs.String())
		}
	}
	if n := got.Load(); n != 0 {
		t.Fatalf("the receiver on loopback got %d callbacks through refused names", n)
	}

	// The control: loopback allowed, the same name reaches the receiver,
	// and the receiver's check accepts the signature.
	dev := callback.NewDeliverer(tenants, callback.Options{Timeout: 3 * time.Second, AllowLoopback: true})
	if err := dev.Deliver(context.Background(), job("loopback.security.test:"+port)); err != nil || got.Load() != 1 {
		t.Fatalf("with loopback allowed: Deliver = %v, %d callbacks received", err, got.Load())
	}
	mu.Lock()
	if verified != nil {
		t.Errorf("the receiver refused the gateway's signature: %v", verified)
	}
	mu.Unlock()
	// Still no private address with loopback allowed.
	var logs bytes.Buffer
	if err := dev.Deliver(logging.WithLogger(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil))), job("metadata.security.test:"+port)); err != nil ||
		!strings.Contains(logs.String(), "refused address") {
		t.Errorf("metadata with loopback allowed: %v, %s", err, logs.String())
	}

	// A receiver that redirects elsewhere is a failed attempt, and the
	// redirect is not followed.
	var followed atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	t.Cleanup(elsewhere.Close)
	redirector := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/stolen", http.StatusFound))
	t.Cleanup(redirector.Close)
	rport := redirector.URL[strings.LastIndex(redirector.URL, ":")+1:]
	if err := dev.Deliver(context.Background(), job("loopback.security.test:"+rport)); err == nil || followed.Load() != 0 {
		t.Errorf("redirected: Deliver = %v, %d requests followed the redirect", err, followed.Load())
	}
}

// tenantsOf finds callback secrets in a map.
type tenantsOf map[string]domain.Tenant

func (m tenantsOf) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	t, ok := m[id]
	if !ok {
		return t, errors.New("no tenant " + id)
	}
	return t, nil
}

// useDNS makes the process resolve names through a DNS server on
// loopback that answers from zone, for the test's duration. Names in
// /etc/hosts still resolve from there first, as they do in production.
func useDNS(t *testing.T, zone map[string][]netip.Addr) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go serveDNS(pc, zone)
	addr := pc.LocalAddr().String()
	old := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
	t.Cleanup(func() {
		net.DefaultResolver = old
		pc.Close()
	})
}

// serveDNS answers A and AAAA questions from zone until pc is closed:
// the records of the asked type, NOERROR with none for the other type,
// NXDOMAIN for names not in zone.
func serveDNS(pc net.PacketConn, zone map[string][]netip.Addr) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := dnsAnswer(buf[:n], zone); resp != nil {
			_, _ = pc.WriteTo(resp, from)
		}
	}
}

func dnsAnswer(q []byte, zone map[string][]netip.Addr) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels up to the root, then type and class.
	var name strings.Builder
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil
		}
		name.WriteString(strings.ToLower(string(q[i+1:i+1+l])) + ".")
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	addrs, known := zone[name.String()]
	var answers [][]byte
	for _, a := range addrs {
		switch {
		case qtype == 1 && a.Is4():
			answers = append(answers, a.AsSlice())
		case qtype == 28 && a.Is6():
			b := a.As16()
			answers = append(answers, b[:])
		}
	}
	rcode := byte(0)
	if !known {
		rcode = 3
	}
	resp := []byte{q[0], q[1], 0x84 | q[2]&0x01, 0x80 | rcode, 0, 1, 0, byte(len(answers)), 0, 0, 0, 0}
	resp = append(resp, question...)
	for _, rdata := range answers {
		resp = append(resp, 0xc0, 12) // the question's name
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = append(resp, 0, 1, 0, 0, 0, 60)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
	}
	return resp
}
