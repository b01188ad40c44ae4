// Package batch sends one template to many recipients (emkt's 50.01, Wati's
// sendTemplateMessages). The request streams its recipients into chunk
// documents of a few hundred in a few commits and publishes one fan-out
// event per chunk, so it answers fast whatever the batch's size; a worker
// turns each chunk into messages idempotently and hands them to dispatch.
package batch

import (
	"context"
	"errors"

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
}

// Batch is an accepted batch.
type Batch struct {
	ID       string
	Code     string // the code the client follows it by
	Accepted int    // recipients queued for sending
	Failed   int    // recipients refused (Recipient.Problem)
	// Replayed is true when Code named an existing batch: nothing new was
	// stored (a repeated emkt identificador is idempotent).
	Replayed bool
}

// Item is one recipient's state, for status queries (emkt's 50.02).
type Item struct {
	Phone  string
	Status domain.Status
	Reason string
}

// Next yields the batch's recipients one at a time, so a dialect can
// stream them from the request body: ok is false after the last one.
type Next func() (r Recipient, ok bool, err error)

// ErrNotImplemented is returned until the batch service exists.
var ErrNotImplemented = errors.New("batch: not implemented")

// Service creates batches and reports their recipients.
type Service struct{}

// Create validates spec for the token's tenant (template, channel: a
// domain error refuses the whole batch before anything is stored), then
// stores the recipients next yields as chunks and publishes one fan-out
// event per chunk.
func (s *Service) Create(ctx context.Context, tok domain.Token, spec Spec, next Next) (Batch, error) {
	return Batch{}, ErrNotImplemented
}

// Items calls yield for each recipient of the tenant's batch with this
// code, in the order they were given; store.ErrNotFound (wrapped) when
// there is no such batch.
func (s *Service) Items(ctx context.Context, tenant, code string, yield func(Item) error) error {
	return ErrNotImplemented
}
