package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/templategw/templategw/internal/config"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// releasePage is how many held messages one step of channel connect
// releases and publishes: one BulkWriter round, one publish batch.
const releasePage = 200

// connectedView is what channel connect prints: the channel, and how many
// held messages it handed back to dispatch.
type connectedView struct {
	channelView
	Released int `json:"released"`
}

// channelConnect lets a channel send again: it is connected, its hold (if
// Meta refused it as a whole and dispatch held it) is lifted, and then
// every message it held goes back to dispatch, oldest first, a page at a
// time. The hold is lifted first, so the released messages are sent
// rather than held again. Running it twice is harmless: the second run
// finds nothing held.
func (c *CLI) channelConnect(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("channel connect", "let a channel send again and hand its held messages back to dispatch, oldest first (running instances notice within CACHE_TTL, 30 s by default)")
	tenant := f.fs.String("tenant", "", "tenant id (required)")
	id := f.fs.String("id", "", "channel id (required)")
	topic := f.fs.String("dispatch-topic", dispatchTopic(), "the dispatch topic held messages are published to (default $DISPATCH_TOPIC, else dispatch)")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("tenant", "id", "dispatch-topic"); err != nil {
		return err
	}
	st, done, err := c.openTenant(ctx, f, *tenant)
	if err != nil {
		return err
	}
	defer done()
	if _, err := findChannel(ctx, st, *tenant, *id); err != nil {
		return f.errorf("--id: %v", err)
	}
	ch, err := st.ReleaseChannel(ctx, *tenant, *id)
	if err != nil {
		return err
	}
	pub := c.jobPublisher(f.project, *topic)
	defer pub.close()
	var released int
	var cursor store.HeldCursor
	for {
		ids, next, last, err := st.ReleaseHeld(ctx, *tenant, *id, cursor, releasePage, time.Now().UTC())
		// Released messages are accepted whether or not they are
		// published: sweep republishes what a failed publish leaves.
		if perr := pub.publish(ctx, *tenant, ids); perr != nil {
			return fmt.Errorf("channel %s connected; %d held messages released, but publishing failed (sweep republishes them within SWEEP_ACCEPTED_AFTER): %w", *id, released+len(ids), perr)
		}
		released += len(ids)
		if err != nil {
			return fmt.Errorf("channel %s connected; %d held messages released, then: %w (run connect again)", *id, released, err)
		}
		if last {
			break
		}
		cursor = next
	}
	if f.json {
		return emit(out, true, connectedView{channelView{ch, ch.SecretRef}, released}, nil)
	}
	if err := printChannels(out, false, []domain.Channel{ch}, false); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "\nreleased %d held messages to dispatch\n", released)
	return err
}

// dispatchTopic is the dispatch topic the functions are configured with.
func dispatchTopic() string {
	if t := os.Getenv("DISPATCH_TOPIC"); t != "" {
		return t
	}
	return config.Defaults().DispatchTopic
}

// jobs publishes dispatch jobs, connecting to Pub/Sub only when there is
// something to publish.
type jobs struct {
	c              *CLI
	project, topic string
	ps             *pubsub.Client
	pub            *pubsub.Publisher
}

func (c *CLI) jobPublisher(project, topic string) *jobs {
	return &jobs{c: c, project: project, topic: topic}
}

// publish hands tenant's messages ids to dispatch, in order, and waits
// until Pub/Sub has every one. The jobs are those the accept path
// publishes (queue.Publisher.Publish).
func (j *jobs) publish(ctx context.Context, tenant string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if j.pub == nil {
		ps, err := j.c.opt.OpenPubSub(ctx, j.project)
		if err != nil {
			return fmt.Errorf("connect to Pub/Sub of project %s: %w", j.project, err)
		}
		j.ps, j.pub = ps, ps.Publisher(j.topic)
	}
	results := make([]*pubsub.PublishResult, len(ids))
	for i, id := range ids {
		data, err := json.Marshal(queue.Job{Tenant: tenant, Message: id})
		if err != nil {
			return fmt.Errorf("encode job of %s: %w", id, err)
		}
		results[i] = j.pub.Publish(ctx, &pubsub.Message{Data: data, Attributes: map[string]string{"tenant": tenant}})
	}
	var errs []error
	for i, r := range results {
		if _, err := r.Get(ctx); err != nil {
			errs = append(errs, fmt.Errorf("publish message %s: %w", ids[i], err))
		}
	}
	return errors.Join(errs...)
}

func (j *jobs) close() {
	if j.pub != nil {
		j.pub.Stop()
		j.ps.Close()
	}
}
