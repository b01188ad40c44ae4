package logging

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// AccessMessage is the message of every access line.
const AccessMessage = "request"

// Middleware puts base into every request's context, with the request's
// trace fields when it has a trace context, and writes one access line per
// request when the handler returns: Cloud Logging's httpRequest object,
// at ERROR for a 5xx answer, WARNING for a 4xx, INFO otherwise. proxyHops
// is how many proxies append to X-Forwarded-For (see clientIP).
func Middleware(base *slog.Logger, project string, proxyHops int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			l := WithTrace(base, project, TraceOf(r.Header))
			rw := &responseWriter{ResponseWriter: w}
			defer func() {
				if p := recover(); p != nil {
					// The runtime answers a panic with 500; say so, then let
					// it see the panic.
					rw.status = http.StatusInternalServerError
					access(l, r, rw, start, proxyHops)
					panic(p)
				}
				access(l, r, rw, start, proxyHops)
			}()
			next.ServeHTTP(rw, r.WithContext(WithLogger(r.Context(), l)))
		})
	}
}

// access writes the request's access line.
func access(l *slog.Logger, r *http.Request, rw *responseWriter, start time.Time, proxyHops int) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK // what net/http answers for a handler that wrote nothing
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	ctx := r.Context()
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("requestMethod", r.Method),
		// The path only: a query may carry a verify token, a phone number
		// or a receiver's key, and a path may name a contact's number
		// (Wati's), so its digit runs are masked too.
		slog.String("requestUrl", MaskDigits(r.URL.Path)),
		slog.Int("status", status),
		// Int64 fields are strings in LogEntry's JSON.
		slog.String("responseSize", strconv.FormatInt(rw.size, 10)),
		slog.String("latency", strconv.FormatFloat(time.Since(start).Seconds(), 'f', 9, 64)+"s"),
		slog.String("protocol", r.Proto),
	}
	if r.ContentLength > 0 {
		attrs = append(attrs, slog.String("requestSize", strconv.FormatInt(r.ContentLength, 10)))
	}
	if ip := clientIP(r, proxyHops); ip != "" {
		attrs = append(attrs, slog.String("remoteIp", ip))
	}
	if ua := r.UserAgent(); ua != "" {
		if len(ua) > 256 {
			ua = ua[:256]
		}
		attrs = append(attrs, slog.String("userAgent", ua))
	}
	l.LogAttrs(ctx, level, AccessMessage, slog.Attr{Key: "httpRequest", Value: slog.GroupValue(attrs...)})
}

// clientIP is the address of the client that sent r. Each proxy in front
// of the function appends the address it was reached from to
// X-Forwarded-For, and anything to the left of what the proxies appended
// is the client's to write: so the client is proxyHops entries from the
// right (1: the entry Google's front end appended). With proxyHops 0, or
// a header shorter than proxyHops, or an entry that is no address, it is
// the connection's peer.
func clientIP(r *http.Request, proxyHops int) string {
	if proxyHops > 0 {
		// Repeated header lines are one comma-separated list, in order.
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		if len(hops) >= proxyHops {
			if a, ok := parseHop(hops[len(hops)-proxyHops]); ok {
				return a.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// parseHop reads one X-Forwarded-For entry: an address, or an address
// and a port, which some proxies write.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone(""), true
	}
	return netip.Addr{}, false
}

// responseWriter records the status and size of an answer. It keeps
// http.Flusher (emkt streams its 50.02 answer) and unwraps for
// http.ResponseController.
type responseWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += int64(n)
	return n, err
}

// Flush sends what was written so far, when the underlying writer can.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap is the writer underneath, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
