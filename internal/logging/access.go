package logging

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AccessMessage is the message of every access line.
const AccessMessage = "request"

// Middleware puts base into every request's context, with the request's
// trace fields when it has a trace context, and writes one access line per
// request when the handler returns: Cloud Logging's httpRequest object,
// at ERROR for a 5xx answer, WARNING for a 4xx, INFO otherwise.
func Middleware(base *slog.Logger, project string) func(http.Handler) http.Handler {
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
					access(l, r, rw, start)
					panic(p)
				}
				access(l, r, rw, start)
			}()
			next.ServeHTTP(rw, r.WithContext(WithLogger(r.Context(), l)))
		})
	}
}

// access writes the request's access line.
func access(l *slog.Logger, r *http.Request, rw *responseWriter, start time.Time) {
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
	if ip := remoteIP(r); ip != "" {
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

// remoteIP is the client's address: behind Google's front end the first
// X-Forwarded-For hop, else the connection's peer.
func remoteIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if ip := strings.TrimSpace(first); net.ParseIP(ip) != nil {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
