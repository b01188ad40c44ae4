package logging

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// The fields Cloud Logging joins log lines to Cloud Trace by.
const (
	TraceKey        = "logging.googleapis.com/trace"
	SpanKey         = "logging.googleapis.com/spanId"
	TraceSampledKey = "logging.googleapis.com/trace_sampled"
)

// Trace is the trace context of a request or an event.
type Trace struct {
	ID      string // 32 hex digits
	SpanID  string // 16 hex digits, as Cloud Logging wants it; "" when unknown
	Sampled bool
}

// TraceOf reads a request's trace context: W3C traceparent first, else
// Google's X-Cloud-Trace-Context ("TRACE_ID/SPAN_ID;o=1").
func TraceOf(h http.Header) Trace {
	if t, ok := ParseTraceparent(h.Get("traceparent")); ok {
		return t
	}
	return parseCloudTrace(h.Get("X-Cloud-Trace-Context"))
}

// TraceID extracts the trace id of a W3C traceparent header or Google's
// X-Cloud-Trace-Context.
func TraceID(h http.Header) string { return TraceOf(h).ID }

// ParseTraceparent reads a W3C traceparent ("00-TRACE-SPAN-FLAGS"), as a
// header or as a CloudEvent's distributed-tracing extension carries it.
func ParseTraceparent(tp string) (Trace, bool) {
	parts := strings.Split(strings.TrimSpace(tp), "-")
	if len(parts) < 4 || len(parts[1]) != 32 || !isHex(parts[1]) || allZero(parts[1]) {
		return Trace{}, false
	}
	t := Trace{ID: parts[1]}
	if len(parts[2]) == 16 && isHex(parts[2]) && !allZero(parts[2]) {
		t.SpanID = parts[2]
	}
	if flags, err := strconv.ParseUint(parts[3], 16, 8); err == nil && len(parts[3]) == 2 {
		t.Sampled = flags&1 == 1
	}
	return t, true
}

// parseCloudTrace reads X-Cloud-Trace-Context, whose span id is decimal.
func parseCloudTrace(xc string) Trace {
	id, rest, _ := strings.Cut(xc, "/")
	if id == "" || len(id) > 64 || !isHex(id) {
		return Trace{}
	}
	t := Trace{ID: id}
	span, opts, _ := strings.Cut(rest, ";")
	if n, err := strconv.ParseUint(span, 10, 64); err == nil && n != 0 {
		t.SpanID = fmt.Sprintf("%016x", n)
	}
	t.Sampled = opts == "o=1"
	return t
}

// Attrs are t's Cloud Logging fields for project; none without a trace
// id or a project, since the trace field must name the project.
func (t Trace) Attrs(project string) []any {
	if t.ID == "" || project == "" {
		return nil
	}
	attrs := []any{slog.String(TraceKey, "projects/"+project+"/traces/"+t.ID)}
	if t.SpanID != "" {
		attrs = append(attrs, slog.String(SpanKey, t.SpanID))
	}
	if t.Sampled {
		attrs = append(attrs, slog.Bool(TraceSampledKey, true))
	}
	return attrs
}

// WithTrace returns l with t's fields on every line.
func WithTrace(l *slog.Logger, project string, t Trace) *slog.Logger {
	if attrs := t.Attrs(project); attrs != nil {
		return l.With(attrs...)
	}
	return l
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func allZero(s string) bool { return strings.Trim(s, "0") == "" }
