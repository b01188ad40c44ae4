// Package batch sends one template to many recipients (emkt's 50.01, Wati's
// sendTemplateMessages). The request streams its recipients into chunk
// documents of a few hundred in a few commits and publishes one fan-out
// event per chunk, so it answers fast whatever the batch's size; a worker
// turns each chunk into messages idempotently and hands them to dispatch.
//
// Errors that refuse a whole batch are domain errors whose message names
// the problem without naming a request field, and whose Fields name the
// Spec field concerned ("template", "channel", "code", "namespace"), so
// each dialect can say it with its own field names.
package batch

import (
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// Recipient is one contact of a batch, as the dialect parsed it.
type Recipient struct {
	Phone  string            // domain digits-only form; "" when Problem is set
	Raw    string            // as the client wrote it, for reporting
	Params map[string]string // the template's placeholders, as the Atom params
	// Problem, when set, is why this contact cannot be sent (a bad phone, a
	// wrong parameter count): it is recorded failed with this reason and
	// does not sink the batch.
	Problem string
}

// Spec is what every recipient of a batch shares.
type Spec struct {
	Source       string // the dialect: "emkt", "wati"
	Code         string // the client's batch code (emkt identificador); "" → generated
	Name         string // the client's label (Wati broadcast_name)
	TemplateName string // Meta's template name
	Channel      string // channel id, display number or sender code; "" = default
	// Namespace, when set, must be the template's namespace (emkt's
	// namespace, Meta's old per-account template namespace), if the
	// template records one.
	Namespace string
	// National means the recipients' Raw numbers are national (emkt's
	// DDD + number): Create derives Phone from Raw with
	// domain.ParseNational and the channel's country code, else the
	// tenant's. Otherwise Phone must already be set.
	National bool
	// Positional means the recipients' body Params are positional (emkt's
	// parameters in order): "1", "2", … fill {{1}}, {{2}}, … of a
	// POSITIONAL template and a NAMED template's placeholders in order of
	// appearance, and the params must be exactly as many as the template
	// takes (missing or extra ones are a wrong parameter count, refused
	// for that recipient). Otherwise keys the template does not use are
	// ignored, as in the Atom params.
	Positional bool
	// IdempotencyKey, when set, is the request's Idempotency-Key (DESIGN
	// §2): a retry within 24 h with the same RequestHash answers the first
	// batch and stores nothing; the key with another request is
	// KindKeyReused; the key while its first request is still being handled
	// is KindInFlight. RequestHash is called only once next has
	// yielded everything, so it may hash a body as it streams. The key's
	// in-flight state lives in its record, so a retry on any instance
	// sees it.
	IdempotencyKey string
	RequestHash    func() string
	// SendAt, when after the time of the request, schedules the batch:
	// it is stored and answered at once, and sweep starts its fan-out once
	// the time has come. Zero (or a time past) sends at once.
	SendAt time.Time
}

// Batch is an accepted batch.
type Batch struct {
	ID       string
	Code     string // the code the client follows it by
	Accepted int    // recipients queued for sending
	Failed   int    // recipients refused (Recipient.Problem)
	// Duplicates are recipients dropped because an earlier one has the
	// same number (first wins).
	Duplicates int
	// Replayed is true when Code named an existing batch: nothing new was
	// stored (a repeated emkt identificador is idempotent).
	Replayed bool
}

// Item is one recipient's state, for status queries (emkt's 50.02).
type Item struct {
	Phone  string // domain form; "" for a recipient refused for its number
	Raw    string // as the client wrote it
	Status domain.Status
	Reason string // why it failed (its problem, or the provider's error)
	// Refused is true when the gateway refused it before sending, for the
	// plan's limit or the contact's marketing opt-out: it was never handed
	// to Meta.
	Refused bool
}

// Next yields the batch's recipients one at a time, so a dialect can
// stream them from the request body: ok is false after the last one.
type Next func() (r Recipient, ok bool, err error)
