package logging

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestClientIPIgnoresWhatTheClientWrote: the address is taken where the
// trusted proxies wrote it, counting from the right, so a client that
// sends its own X-Forwarded-For changes nothing but the entries to the
// left of it.
func TestClientIPIgnoresWhatTheClientWrote(t *testing.T) {
	const peer = "192.0.2.10:41234"
	tests := []struct {
		name string
		xff  []string // header lines, in order
		hops int
		want string
	}{
		{"no header", nil, 1, "192.0.2.10"},
		{"front end only", []string{"203.0.113.7"}, 1, "203.0.113.7"},
		{"spoofed first hop", []string{"1.2.3.4, 203.0.113.7"}, 1, "203.0.113.7"},
		{"spoofed hops, no spaces", []string{"127.0.0.1,10.0.0.1,203.0.113.7"}, 1, "203.0.113.7"},
		{"spoofed header line, then the front end's", []string{"1.2.3.4", "203.0.113.7"}, 1, "203.0.113.7"},
		{"spoofed garbage", []string{"<script>, 203.0.113.7"}, 1, "203.0.113.7"},
		{"IPv6", []string{"1.2.3.4, 2001:db8::7"}, 1, "2001:db8::7"},
		{"with a port", []string{"1.2.3.4, [2001:db8::7]:5555"}, 1, "2001:db8::7"},
		{"load balancer: client, then the balancer", []string{"1.2.3.4, 203.0.113.7, 198.51.100.1"}, 2, "203.0.113.7"},
		{"load balancer, no spoofing", []string{"203.0.113.7, 198.51.100.1"}, 2, "203.0.113.7"},
		{"shorter than the hops", []string{"198.51.100.1"}, 2, "192.0.2.10"},
		{"the trusted entry is no address", []string{"1.2.3.4, unknown"}, 1, "192.0.2.10"},
		{"empty header", []string{""}, 1, "192.0.2.10"},
		{"header ignored", []string{"1.2.3.4, 203.0.113.7"}, 0, "192.0.2.10"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientIP(r, tt.hops); got != tt.want {
			t.Errorf("%s: clientIP(%q, %d) = %q, want %q", tt.name, tt.xff, tt.hops, got, tt.want)
		}
	}
}

// TestAccessLineRemoteIPIsTheTrustedHop: the access line's remoteIp is
// the entry the Middleware's hops point at.
func TestAccessLineRemoteIPIsTheTrustedHop(t *testing.T) {
	for hops, want := range map[int]string{0: "192.0.2.10", 1: "198.51.100.1", 2: "203.0.113.7", 3: "6.6.6.6", 4: "192.0.2.10"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.10:41234"
		r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 198.51.100.1")
		var buf bytes.Buffer
		Middleware(New(&buf, "info"), "proj", hops)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
		ls := lines(t, &buf)
		hr, _ := ls[len(ls)-1]["httpRequest"].(map[string]any)
		if hr["remoteIp"] != want {
			t.Errorf("hops %d: remoteIp = %v, want %s", hops, hr["remoteIp"], want)
		}
	}
}
