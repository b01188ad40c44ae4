// Package logging writes log/slog JSON in the shape Cloud Logging reads
// (severity, message, logging.googleapis.com/trace) and carries the logger
// in the context.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
)

// TraceKey is the field Cloud Logging joins log lines to traces by.
const TraceKey = "logging.googleapis.com/trace"

// New returns a JSON logger in Cloud Logging's shape at the given level
// ("debug", "info", "warn", "error").
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: cloudKeys}))
}

func cloudKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		a.Key = "severity"
		if lv, ok := a.Value.Any().(slog.Level); ok && lv == slog.LevelWarn {
			a.Value = slog.StringValue("WARNING")
		}
	case slog.MessageKey:
		a.Key = "message"
	}
	return a
}

type ctxKey struct{}

// WithLogger returns ctx carrying l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

var fallback = New(os.Stderr, "info")

// FromContext returns the context's logger, or a default JSON logger.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}

// Middleware puts base into every request's context, with the request's
// trace id (from traceparent or X-Cloud-Trace-Context) when it has one.
func Middleware(base *slog.Logger, project string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l := base
			if id := TraceID(r.Header); id != "" && project != "" {
				l = l.With(TraceKey, "projects/"+project+"/traces/"+id)
			}
			next.ServeHTTP(w, r.WithContext(WithLogger(r.Context(), l)))
		})
	}
}

// TraceID extracts the trace id of a W3C traceparent header or Google's
// X-Cloud-Trace-Context ("TRACE_ID/SPAN_ID;o=1").
func TraceID(h http.Header) string {
	if tp := h.Get("traceparent"); tp != "" {
		if parts := strings.Split(tp, "-"); len(parts) == 4 && len(parts[1]) == 32 {
			return parts[1]
		}
	}
	if xc := h.Get("X-Cloud-Trace-Context"); xc != "" {
		id, _, _ := strings.Cut(xc, "/")
		if id != "" && len(id) <= 64 {
			return id
		}
	}
	return ""
}
