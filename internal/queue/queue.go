// Package queue carries work over Pub/Sub: publishing dispatch jobs after
// an accept commit (and other JSON events, such as status callbacks),
// decoding the messagePublished CloudEvent that Eventarc (or the emulator's
// push, through the Functions Framework) delivers, and creating topics and
// push subscriptions.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/domain"
)

// Job names one message to dispatch.
type Job struct {
	Tenant  string `json:"tenant"`
	Message string `json:"message"`
	// Channel is the message's channel when the publisher knows it: the
	// pacer is asked before the claim, and without it dispatch reads the
	// message first to find its channel.
	Channel string `json:"channel,omitempty"`
	// Bulk says the message belongs to a broadcast: it is paced behind
	// every single send of its channel. Single sends leave it false.
	Bulk bool `json:"bulk,omitempty"`
	// Accepted is the message exactly as accept (or a broadcast's
	// fan-out) stored it, and Version that document's update time, when
	// the publisher has them: dispatch claims it with one write
	// conditioned on Version instead of reading it first
	// (store.ClaimAccepted). Jobs without them (sweep's, a redelivered
	// fan-out's) are claimed after a read.
	Accepted *domain.Message `json:"accepted,omitempty"`
	Version  time.Time       `json:"version,omitzero"`
}

// Carried is the message the job carries for a claim without a read,
// with its Version set, when it has one that is the job's own.
func (j Job) Carried() (domain.Message, bool) {
	if j.Accepted == nil || j.Version.IsZero() || j.Accepted.Tenant != j.Tenant || j.Accepted.ID != j.Message {
		return domain.Message{}, false
	}
	m := *j.Accepted
	m.Version = j.Version
	return m, true
}

// Publisher publishes to one topic.
type Publisher struct {
	p *pubsub.Publisher
}

// NewPublisher returns a publisher on topic. Batching waits at most a
// millisecond: accept latency matters more than a few RPCs.
func NewPublisher(c *pubsub.Client, topic string) *Publisher {
	p := c.Publisher(topic)
	p.PublishSettings.DelayThreshold = time.Millisecond
	return &Publisher{p: p}
}

// Publish sends one dispatch job and waits until Pub/Sub has it.
func (p *Publisher) Publish(ctx context.Context, j Job) error {
	if err := p.PublishJSON(ctx, j, map[string]string{"tenant": j.Tenant}); err != nil {
		return fmt.Errorf("publish message %s/%s: %w", j.Tenant, j.Message, err)
	}
	return nil
}

// PublishJSON sends v encoded as JSON, with attrs, and waits until Pub/Sub
// has it.
func (p *Publisher) PublishJSON(ctx context.Context, v any, attrs map[string]string) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	res := p.p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs})
	if _, err := res.Get(ctx); err != nil {
		return err
	}
	return nil
}

// Stop flushes and stops the publisher.
func (p *Publisher) Stop() { p.p.Stop() }

// PushEnvelope is the body Pub/Sub posts to a push endpoint, which is also
// the data of a google.cloud.pubsub.topic.v1.messagePublished CloudEvent
// (google-cloudevents' MessagePublishedData, decoded by hand).
type PushEnvelope struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt"`
}

// ErrBadEvent marks an event that can never be processed; the caller acks
// it (redelivery cannot fix it) and logs it.
var ErrBadEvent = errors.New("malformed event")

// Delivery is one Pub/Sub message as a CloudEvent function receives it.
type Delivery struct {
	Data       []byte
	Attributes map[string]string
	MessageID  string
	// Attempt is Pub/Sub's delivery attempt, counted only on subscriptions
	// with a dead-letter policy; 0 when unknown.
	Attempt int
}

// Decode extracts the Pub/Sub message from a messagePublished CloudEvent.
func Decode(e event.Event) (Delivery, error) {
	var env PushEnvelope
	if err := json.Unmarshal(e.Data(), &env); err != nil {
		return Delivery{}, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	return Delivery{Data: env.Message.Data, Attributes: env.Message.Attributes, MessageID: env.Message.MessageID, Attempt: env.DeliveryAttempt}, nil
}

// DecodeJob extracts the dispatch job from a messagePublished CloudEvent.
func DecodeJob(e event.Event) (Job, error) {
	d, err := Decode(e)
	if err != nil {
		return Job{}, err
	}
	var j Job
	if err := json.Unmarshal(d.Data, &j); err != nil {
		return Job{}, fmt.Errorf("%w: message data: %v", ErrBadEvent, err)
	}
	if j.Tenant == "" || j.Message == "" {
		return Job{}, fmt.Errorf("%w: tenant and message are required", ErrBadEvent)
	}
	return j, nil
}
