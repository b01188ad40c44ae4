package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/internal/queue"
)

// Pub/Sub's attributes on a dead-lettered message: the subscription that
// gave up on it names the topic it came from.
const (
	deadLetterAttrPrefix = "CloudPubSubDeadLetter"
	deadLetterSourceSub  = "CloudPubSubDeadLetterSourceSubscription"
)

// replayPull is how many messages one pull asks for.
const replayPull = 100

// replayView is what deadletters replay prints.
type replayView struct {
	Subscription string         `json:"subscription"`
	Replayed     int            `json:"replayed"`
	Topics       map[string]int `json:"topics"`
}

// deadlettersReplay pulls a dead-letter subscription dry and republishes
// each message, data and attributes as they were (less Pub/Sub's
// dead-letter attributes), to the topic it came from, acknowledging it
// only once the topic has it. The topic is --topic when given, else the
// topic of the subscription that dead-lettered it, else the dead-letter
// topic's name without "-dead" (dispatch-dead → dispatch). What a replay
// does is the receiving function's to decide: a dispatch job whose message
// has since failed or been sent is claimed by nobody and sends nothing.
func (c *CLI) deadlettersReplay(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("deadletters replay", "pull a dead-letter subscription (e.g. dispatch-dead-keep, callbacks-dead-keep) and republish each message to the topic it came from")
	sub := f.fs.String("subscription", "", "the dead-letter subscription to replay, e.g. dispatch-dead-keep (required)")
	topic := f.fs.String("topic", "", "republish everything to this topic instead of the one each message came from")
	most := f.fs.Int("max", 0, "replay at most this many messages; 0 replays all")
	wait := f.fs.Duration("wait", 5*time.Second, "how long one pull waits for messages before the subscription counts as empty")
	if err := f.parse(args, out); err != nil {
		return err
	}
	if err := f.required("subscription"); err != nil {
		return err
	}
	if *most < 0 {
		return f.errorf("--max %d: want 0 (all) or more", *most)
	}
	if *wait <= 0 {
		return f.errorf("--wait %s: want a positive duration", *wait)
	}
	ps, err := c.opt.OpenPubSub(ctx, f.project)
	if err != nil {
		return fmt.Errorf("connect to Pub/Sub of project %s: %w", f.project, err)
	}
	defer ps.Close()
	r := &replayer{ps: ps, topic: fullName(ps.Project(), "topics", *topic), topics: map[string]string{}}
	subName := fullName(ps.Project(), "subscriptions", *sub)
	s, err := ps.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: subName})
	if status.Code(err) == codes.NotFound {
		return f.errorf("--subscription: project %s has no subscription %s", ps.Project(), *sub)
	}
	if err != nil {
		return fmt.Errorf("read subscription %s: %w", *sub, err)
	}
	r.fallback = strings.TrimSuffix(s.Topic, "-dead")
	if r.fallback == s.Topic {
		r.fallback = ""
	}

	v := replayView{Subscription: subName, Topics: map[string]int{}}
	for *most == 0 || v.Replayed < *most {
		n := replayPull
		if *most > 0 {
			n = min(n, *most-v.Replayed)
		}
		pctx, cancel := context.WithTimeout(ctx, *wait)
		resp, err := ps.SubscriptionAdminClient.Pull(pctx, &pubsubpb.PullRequest{Subscription: subName, MaxMessages: int32(n)})
		cancel()
		if status.Code(err) == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) || (err == nil && len(resp.ReceivedMessages) == 0) {
			break
		}
		if err != nil {
			return fmt.Errorf("pull %s after replaying %d: %w", *sub, v.Replayed, err)
		}
		done, err := r.replay(ctx, subName, resp.ReceivedMessages)
		for t, k := range done {
			v.Topics[t] += k
			v.Replayed += k
		}
		if err != nil {
			return fmt.Errorf("replayed %d from %s, then: %w", v.Replayed, *sub, err)
		}
	}
	return emit(out, f.json, v, func(tw *tabwriter.Writer) {
		row(tw, "TOPIC", "REPLAYED")
		for _, t := range slices.Sorted(maps.Keys(v.Topics)) {
			row(tw, t, v.Topics[t])
		}
		fmt.Fprintf(tw, "\nreplayed %d messages from %s\n", v.Replayed, subName)
	})
}

// replayer republishes dead letters and remembers which topic each
// source subscription feeds from.
type replayer struct {
	ps       *pubsub.Client
	topic    string            // --topic, full name; "" when not given
	fallback string            // the dead-letter topic without "-dead"
	topics   map[string]string // source subscription → its topic
}

// replay republishes msgs grouped by target topic, and acknowledges each
// group once its topic has it. It returns how many went to each topic.
func (r *replayer) replay(ctx context.Context, sub string, msgs []*pubsubpb.ReceivedMessage) (map[string]int, error) {
	groups := map[string][]*pubsubpb.ReceivedMessage{}
	var errs []error
	var back []string // handed back at once, for a replay with --topic
	for _, m := range msgs {
		t, err := r.target(ctx, m.Message)
		if err != nil {
			errs = append(errs, err)
			back = append(back, m.AckId)
			continue
		}
		groups[t] = append(groups[t], m)
	}
	defer func() {
		if len(back) > 0 {
			// Best effort: left alone, they come back after the ack
			// deadline all the same.
			_ = r.ps.SubscriptionAdminClient.ModifyAckDeadline(context.WithoutCancel(ctx), &pubsubpb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: back})
		}
	}()
	done := map[string]int{}
	for t, ms := range groups {
		req := &pubsubpb.PublishRequest{Topic: t}
		ack := &pubsubpb.AcknowledgeRequest{Subscription: sub}
		for _, m := range ms {
			req.Messages = append(req.Messages, &pubsubpb.PubsubMessage{Data: m.Message.Data, Attributes: original(m.Message.Attributes), OrderingKey: m.Message.OrderingKey})
			ack.AckIds = append(ack.AckIds, m.AckId)
		}
		if _, err := r.ps.TopicAdminClient.Publish(ctx, req); err != nil {
			errs = append(errs, fmt.Errorf("publish to %s: %w", t, err))
			back = append(back, ack.AckIds...)
			continue
		}
		if err := r.ps.SubscriptionAdminClient.Acknowledge(ctx, ack); err != nil {
			// Republished but not acknowledged: they come back and would be
			// replayed twice, which receivers deduplicate (claims, event ids).
			errs = append(errs, fmt.Errorf("acknowledge %d messages of %s: %w", len(ack.AckIds), sub, err))
		}
		done[shortName(t)] += len(ms)
	}
	return done, errors.Join(errs...)
}

// target is the topic a dead letter goes back to.
func (r *replayer) target(ctx context.Context, m *pubsubpb.PubsubMessage) (string, error) {
	if r.topic != "" {
		return r.topic, nil
	}
	if src := m.Attributes[deadLetterSourceSub]; src != "" {
		if t, ok := r.topics[src]; ok {
			return t, nil
		}
		s, err := r.ps.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: fullName(r.ps.Project(), "subscriptions", src)})
		if err == nil {
			r.topics[src] = s.Topic
			return s.Topic, nil
		}
		if status.Code(err) != codes.NotFound {
			return "", fmt.Errorf("read subscription %s that dead-lettered message %s: %w", src, m.MessageId, err)
		}
	}
	if r.fallback != "" {
		return r.fallback, nil
	}
	return "", fmt.Errorf("message %s names no subscription it came from: replay it with --topic", m.MessageId)
}

// original is a dead letter's attributes as its publisher set them.
func original(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if !strings.HasPrefix(k, deadLetterAttrPrefix) {
			out[k] = v
		}
	}
	return out
}

// fullName is name as a resource of kind ("topics", "subscriptions") in
// project, unless it is a full resource name already; "" stays "".
func fullName(project, kind, name string) string {
	if name == "" || strings.HasPrefix(name, "projects/") {
		return name
	}
	if kind == "topics" {
		return queue.TopicName(project, name)
	}
	return queue.SubscriptionName(project, name)
}

// shortName is a resource's last path element.
func shortName(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}
