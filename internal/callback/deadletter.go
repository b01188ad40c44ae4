package callback

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// recordTimeout bounds a dead letter's write, which runs after the
// delivery used up its own time and must not hold the ack much longer.
const recordTimeout = 5 * time.Second

// maxReason bounds a dead letter's error: the console shows it in a table
// cell, and a receiver's status line can be anything.
const maxReason = 200

// lastAttempt reports whether attempt is the callbacks subscription's last
// before its dead-letter policy takes the job: the dispatch function's
// rule for DISPATCH_MAX_DELIVERIES, counted the same way.
func (d *Deliverer) lastAttempt(attempt int) bool {
	return d.opt.DeadLetters != nil && d.opt.MaxAttempts > 0 && attempt >= d.opt.MaxAttempts
}

// recordDeadLetter keeps j, which Pub/Sub is about to dead-letter, under
// its tenant. It never changes the delivery's outcome: a write that
// fails is logged, and the operator's keep subscription still holds the
// job.
func (d *Deliverer) recordDeadLetter(ctx context.Context, j Job, attempt int, cause error) {
	log := logging.FromContext(ctx).With("tenant", j.Tenant, "eventId", j.Event.ID)
	raw, err := json.Marshal(j)
	if err != nil {
		log.Error("dead letter not recorded: the job cannot be encoded", "error", err.Error())
		return
	}
	// The delivery may have ended with the request's context; the
	// record must still be written.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	// Kept as long as the tenant keeps its messages; a tenant that cannot
	// be read gets the default retention.
	t, err := d.tenants.Tenant(rctx, j.Tenant)
	if err != nil {
		t = domain.Tenant{}
	}
	now := d.opt.Now().UTC()
	dl := store.DeadLetter{
		ID: j.Event.ID, Kind: store.DeadLetterCallback, EventType: j.Event.Type, MessageID: j.Event.MessageID,
		Host: originOf(j.URL), Error: reason(cause), Attempts: attempt, At: now, ExpireAt: t.ExpireAt(now), Job: raw,
	}
	if err := d.opt.DeadLetters.RecordDeadLetter(rctx, j.Tenant, dl); err != nil {
		log.Error("dead letter not recorded; the operator's keep subscription still holds the job", "error", err.Error())
		return
	}
	log.Info("dead letter recorded for the tenant's console", "callbackHost", dl.Host)
}

// originOf is a callback URL's scheme and host: its path and query may
// carry the receiver's own secret.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// reason is what a dead letter says of the last attempt's failure: the
// receiver's side of it, or, when the gateway failed before reaching the
// receiver, that alone, since its own errors can name its internals.
func reason(err error) string {
	var f *failedAttempt
	if !errors.As(err, &f) {
		return "the gateway could not prepare the delivery"
	}
	// A receiver's status line is any bytes; Firestore takes UTF-8 only.
	s := strings.ToValidUTF8(f.err.Error(), "\uFFFD")
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
