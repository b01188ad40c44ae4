package callback

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
)

// TestDialRefusesLoopback proves the check runs when the connection is
// made, whatever name led there: a real server on loopback gets nothing.
func TestDialRefusesLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	strict := newClient(Options{Timeout: 5 * time.Second})
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/"} {
		resp, err := strict.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, ErrRefused) {
			t.Errorf("GET %s without AllowLoopback: err = %v, want ErrRefused", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("loopback server got %d requests, want 0", n)
	}

	resp, err := newClient(Options{AllowLoopback: true, Timeout: 5 * time.Second}).Get(srv.URL)
	if err != nil {
		t.Fatalf("with AllowLoopback: %v", err)
	}
	resp.Body.Close()
	if n := hits.Load(); n != 1 {
		t.Fatalf("with AllowLoopback the server got %d requests, want 1", n)
	}
}

func TestDialControlSwitches(t *testing.T) {
	tests := []struct {
		addr string
		opt  Options
		ok   bool
	}{
		{"127.0.0.1:80", Options{}, false},
		{"127.0.0.1:80", Options{AllowLoopback: true}, true},
		{"127.0.0.1:80", Options{AllowPrivate: true}, false},
		{"10.0.0.1:80", Options{AllowLoopback: true}, false},
		{"10.0.0.1:80", Options{AllowPrivate: true}, true},
		{"[fe80::1%eth0]:80", Options{}, false},
		{"[fe80::1%eth0]:80", Options{AllowPrivate: true}, false},
		{"169.254.169.254:80", Options{AllowPrivate: true}, false},
		{"8.8.8.8:443", Options{}, true},
		{"[2001:4860:4860::8888]:443", Options{}, true},
		{"not-an-address", Options{AllowLoopback: true, AllowPrivate: true}, false},
	}
	for _, tt := range tests {
		err := dialControl(tt.opt)("tcp", tt.addr, nil)
		if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("dial %s with %+v: %v, want ok=%v", tt.addr, tt.opt, err, tt.ok)
		}
	}
}

// TestDeliverAcknowledgesARebindToLoopback: a host name that passed
// CheckURL but resolves to loopback when the callback is sent (DNS
// rebinding) is refused at dial, and the callback is dropped, not retried.
func TestDeliverAcknowledgesARebindToLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	opt := Options{Timeout: 5 * time.Second}
	d := NewDeliverer(staticTenant{CallbackSecret: "k"}, opt)
	// The resolver is the only thing replaced: the name now "resolves" to
	// loopback, and the guarded dialer sees the address it would.
	guarded := &net.Dialer{Timeout: opt.Timeout, Control: dialControl(opt)}
	d.client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return guarded.DialContext(ctx, network, strings.Replace(addr, "hooks.example.com", "127.0.0.1", 1))
	}
	j := Job{Tenant: "acme", URL: "http://hooks.example.com:" + port + "/", Event: Event{ID: "m1.3", MessageID: "m1"}}
	if err := CheckURL(j.URL, opt); err != nil {
		t.Fatalf("CheckURL: %v", err)
	}
	if err := d.Deliver(logging.WithLogger(context.Background(), logging.New(io.Discard, "error")), j); err != nil {
		t.Fatalf("Deliver = %v, want nil: a refused address is acknowledged", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("loopback server got %d requests, want 0", n)
	}
}

type staticTenant domain.Tenant

func (s staticTenant) Tenant(context.Context, string) (domain.Tenant, error) {
	return domain.Tenant(s), nil
}
