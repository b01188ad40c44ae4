package logging

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
)

// EventContext returns ctx carrying base for handling e, with e's trace
// fields when the event carries the distributed-tracing extension
// (traceparent), as Eventarc's deliveries may.
func EventContext(ctx context.Context, base *slog.Logger, project string, e event.Event) context.Context {
	l := base
	if tp, ok := e.Extensions()["traceparent"].(string); ok {
		if t, ok := ParseTraceparent(tp); ok {
			l = WithTrace(l, project, t)
		}
	}
	return WithLogger(ctx, l)
}
