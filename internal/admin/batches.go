package admin

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/batches"
	"github.com/templategw/templategw/internal/config"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// broadcasts is the batch service the batches function runs, over the
// CLI's store; fanout, for resume and cancel, publishes the chunks they
// hand back (nil leaves them to the next sweep, which publishes every
// chunk not done).
func broadcasts(st *store.Store, fanout batch.Publisher) *batch.Service {
	return batch.New(nil, st, fanout, batch.Options{})
}

// fanoutTopic is the fan-out topic the functions are configured with.
func fanoutTopic() string {
	if t := os.Getenv("FANOUT_TOPIC"); t != "" {
		return t
	}
	return config.Defaults().FanoutTopic
}

func (c *CLI) batchesList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("batches list", "list a tenant's broadcasts (bulk sends), newest first")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	limit := f.fs.Int("limit", 20, "broadcasts per page, 1 to 100")
	pageToken := f.fs.String("page-token", "", "continue after the page that printed this token")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant"); err != nil {
		return err
	}
	if *limit < 1 || *limit > 100 {
		return f.errorf("--limit %d: want 1 to 100", *limit)
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	list, next, err := broadcasts(st, nil).List(ctx, *tenant, *limit, *pageToken)
	if domain.KindOf(err) == domain.KindInvalid {
		return f.errorf("--page-token: not a token this command printed")
	}
	if err != nil {
		return err
	}
	views := make([]batches.View, len(list))
	for i, p := range list {
		views[i] = batches.ViewOf(p)
	}
	return emit(out, f.json, batches.ListView{Batches: views, NextPageToken: next}, func(tw *tabwriter.Writer) {
		row(tw, "ID", "STATE", "SOURCE", "NAME", "TEMPLATE", "CHANNEL", "RECIPIENTS", "CREATED", "SEND AT")
		for _, v := range views {
			row(tw, v.ID, v.State, v.Source, v.Name, v.TemplateID, v.Channel, v.Recipients, stamp(v.CreatedAt), stampOf(v.SendAt))
		}
		if next != "" {
			fmt.Fprintf(tw, "\nMore: --page-token %s\n", next)
		}
	})
}

// batchesGet shows one broadcast with its counts.
func (c *CLI) batchesGet(ctx context.Context, args []string, out io.Writer) error {
	return c.batchCommand(ctx, args, out, "get", "show a broadcast: state, counts per state, rate and ETA", false, (*batch.Service).Progress)
}

// What pause, resume and cancel do, for the group's usage and their own.
const (
	batchesPauseSummary  = "stop a broadcast from sending until it is resumed"
	batchesResumeSummary = "let a paused broadcast send again"
	batchesCancelSummary = "cancel for good what a broadcast has not sent yet"
)

func (c *CLI) batchesPause(ctx context.Context, args []string, out io.Writer) error {
	return c.batchCommand(ctx, args, out, "pause", batchesPauseSummary, false, (*batch.Service).Pause)
}

func (c *CLI) batchesResume(ctx context.Context, args []string, out io.Writer) error {
	return c.batchCommand(ctx, args, out, "resume", batchesResumeSummary, true, (*batch.Service).Resume)
}

func (c *CLI) batchesCancel(ctx context.Context, args []string, out io.Writer) error {
	return c.batchCommand(ctx, args, out, "cancel", batchesCancelSummary, true, (*batch.Service).Cancel)
}

// batchCommand runs one command on one broadcast; publishes is true for
// those that hand its chunks back to the fan-out.
func (c *CLI) batchCommand(ctx context.Context, args []string, out io.Writer, name, summary string, publishes bool,
	do func(*batch.Service, context.Context, string, string) (batch.Progress, error)) error {
	f := newFlags("batches "+name, summary)
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	id := f.fs.String("id", "", "the broadcast's id: the code its send answered (emkt's <return>, Wati's batchId) (required)")
	var topic *string
	if publishes {
		topic = f.fs.String("fanout-topic", fanoutTopic(), "the fan-out topic the broadcast's chunks are handed back on (default $FANOUT_TOPIC, else fanout)")
	}
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant", "id"); err != nil {
		return err
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	var fanout batch.Publisher
	if publishes && *topic != "" {
		ps, err := c.opt.OpenPubSub(ctx, f.project)
		if err != nil {
			return fmt.Errorf("connect to Pub/Sub of project %s: %w", f.project, err)
		}
		defer ps.Close()
		pub := queue.NewPublisher(ps, *topic)
		defer pub.Stop()
		fanout = pub
	}
	p, err := do(broadcasts(st, fanout), ctx, *tenant, *id)
	switch domain.KindOf(err) {
	case domain.KindNotFound:
		return f.errorf("--id: tenant %s has no broadcast %s", *tenant, *id)
	case domain.KindConflict:
		return f.errorf("%v", err)
	}
	if err != nil {
		return err
	}
	v := batches.ViewOf(p)
	return emit(out, f.json, v, func(tw *tabwriter.Writer) {
		row(tw, "id", v.ID)
		row(tw, "state", v.State)
		row(tw, "source", v.Source)
		row(tw, "name", v.Name)
		row(tw, "template", v.TemplateID)
		row(tw, "channel", v.Channel)
		row(tw, "recipients", v.Recipients)
		row(tw, "duplicates", v.Duplicates)
		row(tw, "created", stamp(v.CreatedAt))
		row(tw, "send at", stampOf(v.SendAt))
		row(tw, "started", stampOf(v.StartedAt))
		row(tw, "finished", stampOf(v.FinishedAt))
		if v.Rate != nil {
			row(tw, "rate", fmt.Sprintf("%.2f/s", *v.Rate))
		}
		row(tw, "eta", stampOf(v.ETA))
		if k := v.Counts; k != nil {
			fmt.Fprintln(tw)
			row(tw, "STATE", "RECIPIENTS")
			for _, s := range []struct {
				name string
				n    int
			}{
				{"accepted", k.Accepted}, {"held", k.Held}, {"dispatching", k.Dispatching}, {"pending", k.Pending},
				{"sent", k.Sent}, {"delivered", k.Delivered}, {"read", k.Read}, {"failed", k.Failed},
				{"unknown", k.Unknown}, {"cancelled", k.Cancelled}, {"refused", k.Refused},
			} {
				row(tw, s.name, s.n)
			}
		}
	})
}

// stampOf is stamp of a time the view may leave out.
func stampOf(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}
