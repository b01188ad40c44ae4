package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/store"
)

// messagesResolve settles an unknown message by hand: what remains when
// Meta's webhook never said and the automatic resend was not made (the
// tenant's unknown policy is hold) or itself ended unknown. sent records
// what the operator knows Meta delivered; failed ends it without a send;
// resend hands it back to dispatch. Only an unknown message is settled:
// every other state is Meta's word or the gateway's own.
func (c *CLI) messagesResolve(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("messages resolve", "settle an unknown message by hand: sent (Meta has it), failed (it will not be sent) or resend (dispatch sends it again)")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	id := f.fs.String("id", "", "message id (required)")
	as := f.fs.String("as", "", "sent, failed or resend (required)")
	topic := f.fs.String("dispatch-topic", dispatchTopic(), "the dispatch topic a resend is published to (default $DISPATCH_TOPIC, else dispatch)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant", "id", "as", "dispatch-topic"); err != nil {
		return err
	}
	settlement, err := domain.ParseSettlement(*as)
	if err != nil {
		return f.errorf("--as %v", err)
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	m, err := st.Message(ctx, *tenant, *id)
	if errors.Is(err, store.ErrNotFound) {
		return f.errorf("--id: tenant %s has no message %s", *tenant, *id)
	}
	if err != nil {
		return err
	}
	if m.Status != domain.StatusUnknown {
		return f.errorf("--id: message %s is %s; only an unknown message is resolved", *id, m.Status)
	}
	m, err = st.SettleUnknown(ctx, *tenant, *id, settlement, time.Now().UTC())
	if errors.Is(err, store.ErrStale) {
		return f.errorf("--id: message %s moved on meanwhile (Meta's webhook or sweep settled it); see templategw messages get", *id)
	}
	if err != nil {
		return err
	}
	if settlement == domain.SettleResend {
		pub := c.jobPublisher(f.project, *topic)
		defer pub.close()
		if err := pub.publish(ctx, *tenant, []string{*id}); err != nil {
			return fmt.Errorf("message %s is accepted again, but publishing failed (sweep republishes it within SWEEP_ACCEPTED_AFTER): %w", *id, err)
		}
	}
	v := messages.ViewOf(m)
	return emit(out, f.json, v, func(tw *tabwriter.Writer) {
		row(tw, "id", v.ID)
		row(tw, "status", v.Status)
		row(tw, "error", errorText(v.Error))
		row(tw, "updated", stamp(v.UpdatedAt))
	})
}
