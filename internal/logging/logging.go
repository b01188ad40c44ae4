// Package logging writes log/slog JSON in the shape Cloud Logging reads
// (severity, message, logging.googleapis.com/trace, httpRequest), carries
// the logger in the context, and holds the gateway's two line families
// every function shares: the access line of an HTTP request and the
// transition line of a message. docs/logs.md describes the fields.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
)

// New returns a JSON logger in Cloud Logging's shape at the given level
// ("debug", "info", "warn", "error"). The message and the free-text
// fields go through Scrub, whatever the caller passed: phone numbers and
// wamids quoted in error strings do not reach the logs whole.
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: cloudKeys}))
}

// freeText are the keys whose values quote text the gateway does not
// control: error strings of Firestore, gRPC and Meta, Meta's error titles
// and details, and request paths (Wati's carry the contact's number).
// Identifiers (messageId, phoneNumberId, batch codes) are left alone: a
// masked id can no longer be searched for.
var freeText = map[string]bool{
	"error": true, "reason": true, "title": true, "details": true, "path": true,
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
		a.Value = slog.StringValue(Scrub(a.Value.String()))
	default:
		if freeText[a.Key] {
			a.Value = maskValue(a.Value)
		}
	}
	return a
}

func maskValue(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(Scrub(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.StringValue(Scrub(err.Error()))
		}
	}
	return v
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
