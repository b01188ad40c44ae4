// Package queue carries dispatch jobs over Pub/Sub: publishing {tenant,
// message} after an accept commit, decoding the messagePublished
// CloudEvent that Eventarc (or the emulator's push, through the Functions
// Framework) delivers, and creating topics and push subscriptions.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Job names one message to dispatch.
type Job struct {
	Tenant  string `json:"tenant"`
	Message string `json:"message"`
}

// Publisher publishes jobs to one topic.
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

// Publish sends one job and waits until Pub/Sub has it.
func (p *Publisher) Publish(ctx context.Context, j Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	res := p.p.Publish(ctx, &pubsub.Message{Data: data, Attributes: map[string]string{"tenant": j.Tenant}})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish message %s/%s: %w", j.Tenant, j.Message, err)
	}
	return nil
}

// Stop flushes and stops the publisher.
func (p *Publisher) Stop() { p.p.Stop() }

// pushEnvelope is the data of a google.cloud.pubsub.topic.v1.messagePublished
// CloudEvent (google-cloudevents' MessagePublishedData, decoded by hand).
type pushEnvelope struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// ErrBadEvent marks an event that can never be processed; the caller acks
// it (redelivery cannot fix it) and logs it.
var ErrBadEvent = errors.New("malformed dispatch event")

// DecodeJob extracts the job from a messagePublished CloudEvent.
func DecodeJob(e event.Event) (Job, error) {
	var env pushEnvelope
	if err := json.Unmarshal(e.Data(), &env); err != nil {
		return Job{}, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	var j Job
	if err := json.Unmarshal(env.Message.Data, &j); err != nil {
		return Job{}, fmt.Errorf("%w: message data: %v", ErrBadEvent, err)
	}
	if j.Tenant == "" || j.Message == "" {
		return Job{}, fmt.Errorf("%w: tenant and message are required", ErrBadEvent)
	}
	return j, nil
}
