package logging

import (
	"context"
	"log/slog"

	"github.com/templategw/templategw/internal/domain"
)

// The messages of the transition lines.
const (
	TransitionMessage     = "transition"
	BulkTransitionMessage = "transitions"
)

// Where a transition was committed: the line's source field.
const (
	SourceAccept   = "accept"
	SourceDispatch = "dispatch"
	SourceWebhook  = "webhook"
	SourceSweep    = "sweep"
	SourceFanout   = "fanout"
)

// TransitionFields describe one message's committed state change.
type TransitionFields struct {
	Source  string // what committed it: SourceAccept, SourceDispatch, …
	Tenant  string
	Message string // the message's id
	Channel string
	Phone   string        // the full number: the line carries it masked (domain.MaskPhone)
	From    domain.Status // "" when the message was just created
	To      domain.Status
	// Attempt is how many times dispatch has claimed the message; 0
	// leaves it out.
	Attempt int
	// MetaCode is Meta's error code of a move to failed or unknown, or of
	// a retry (back to accepted); 0 leaves it out.
	MetaCode int
	// Reason is that error's title; its digit runs are masked.
	Reason string
	// Batch is the bulk send the message belongs to, if any.
	Batch string
	// Bulk logs the line at DEBUG: a bulk send creates its messages by the
	// hundred per chunk, and the chunk's BulkTransition is the INFO line.
	Bulk bool
}

// Moved describes m's move from from to its current state, as source
// committed it: the fields are m's own.
func Moved(source string, m domain.Message, from domain.Status) TransitionFields {
	f := TransitionFields{
		Source: source, Tenant: m.Tenant, Message: m.ID, Channel: m.Channel, Phone: m.PhoneNumber,
		From: from, To: m.Status, Attempt: m.Attempts,
	}
	// A claim keeps the error of the attempt before it: only the moves an
	// error explains carry it.
	explained := m.Status == domain.StatusFailed || m.Status == domain.StatusUnknown || m.Status == domain.StatusAccepted ||
		m.Status == domain.StatusHeld
	if m.Error != nil && explained {
		f.MetaCode, f.Reason = m.Error.Code, m.Error.Title
	}
	return f
}

// PreviousStatus is the state m was in before its latest move: every move
// appends one history entry. "" when m has only its first.
func PreviousStatus(m domain.Message) domain.Status {
	if n := len(m.History); n >= 2 {
		return m.History[n-2].Status
	}
	return ""
}

// Transition writes the line of one committed state change. Callers log
// it after the commit succeeded, and never for a change that did not
// happen (a duplicate webhook, a lost claim). failed and unknown are
// WARNING, every other move INFO (DEBUG for f.Bulk).
func Transition(ctx context.Context, f TransitionFields) {
	level := slog.LevelInfo
	switch {
	case f.To == domain.StatusFailed || f.To == domain.StatusUnknown:
		level = slog.LevelWarn
	case f.Bulk:
		level = slog.LevelDebug
	}
	l := FromContext(ctx)
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("source", f.Source),
		slog.String("tenant", f.Tenant),
		slog.String("messageId", f.Message),
		slog.String("channel", f.Channel),
		slog.String("phone", domain.MaskPhone(f.Phone)),
	)
	if f.From != "" {
		attrs = append(attrs, slog.String("from", string(f.From)))
	}
	attrs = append(attrs, slog.String("to", string(f.To)))
	if f.Attempt > 0 {
		attrs = append(attrs, slog.Int("attempt", f.Attempt))
	}
	if f.MetaCode != 0 {
		attrs = append(attrs, slog.Int("metaCode", f.MetaCode))
	}
	if f.Reason != "" {
		attrs = append(attrs, slog.String("reason", f.Reason))
	}
	if f.Batch != "" {
		attrs = append(attrs, slog.String("batch", f.Batch))
	}
	l.LogAttrs(ctx, level, TransitionMessage, attrs...)
}

// BulkTransitionFields describe many messages making the same committed
// move at once: the messages a bulk send's chunk created.
type BulkTransitionFields struct {
	Source  string
	Tenant  string
	Channel string
	Batch   string
	Chunk   int
	From    domain.Status // "" when the messages were just created
	To      domain.Status
	Count   int
}

// BulkTransition writes one INFO line for f.Count messages; nothing when
// there are none (a redelivered chunk whose messages all exist).
func BulkTransition(ctx context.Context, f BulkTransitionFields) {
	if f.Count <= 0 {
		return
	}
	attrs := []slog.Attr{
		slog.String("source", f.Source),
		slog.String("tenant", f.Tenant),
		slog.String("channel", f.Channel),
		slog.String("batch", f.Batch),
		slog.Int("chunk", f.Chunk),
	}
	if f.From != "" {
		attrs = append(attrs, slog.String("from", string(f.From)))
	}
	attrs = append(attrs, slog.String("to", string(f.To)), slog.Int("count", f.Count))
	FromContext(ctx).LogAttrs(ctx, slog.LevelInfo, BulkTransitionMessage, attrs...)
}
