package queue

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TopicName is the full resource name of a topic.
func TopicName(project, topic string) string { return "projects/" + project + "/topics/" + topic }

// SubscriptionName is the full resource name of a subscription.
func SubscriptionName(project, sub string) string {
	return "projects/" + project + "/subscriptions/" + sub
}

// EnsureTopic creates a topic unless it exists. Terraform owns topics in
// the cloud; the dev stack and the tests create their own.
func EnsureTopic(ctx context.Context, c *pubsub.Client, topic string) error {
	_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: TopicName(c.Project(), topic)})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// Push describes a push subscription: the emulator's stand-in for the
// Eventarc trigger that feeds a CloudEvent function.
type Push struct {
	Name, Topic, Endpoint  string
	AckDeadline            time.Duration
	MinBackoff, MaxBackoff time.Duration
	// DeadLetterTopic, when set, receives a message after
	// MaxDeliveryAttempts failed deliveries (Pub/Sub allows 5 to 100).
	DeadLetterTopic     string
	MaxDeliveryAttempts int
}

// EnsurePull creates a pull subscription on topic unless it exists. A
// dead-letter topic needs one: Pub/Sub drops what reaches a topic nobody
// subscribes to.
func EnsurePull(ctx context.Context, c *pubsub.Client, name, topic string) error {
	sub := &pubsubpb.Subscription{
		Name:  SubscriptionName(c.Project(), name),
		Topic: TopicName(c.Project(), topic),
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, sub); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create subscription %s: %w", name, err)
	}
	return nil
}

// EnsurePush creates a push subscription unless it exists.
func EnsurePush(ctx context.Context, c *pubsub.Client, p Push) error {
	sub := &pubsubpb.Subscription{
		Name:               SubscriptionName(c.Project(), p.Name),
		Topic:              TopicName(c.Project(), p.Topic),
		PushConfig:         &pubsubpb.PushConfig{PushEndpoint: p.Endpoint},
		AckDeadlineSeconds: int32(p.AckDeadline / time.Second),
		RetryPolicy: &pubsubpb.RetryPolicy{
			MinimumBackoff: durationpb.New(p.MinBackoff),
			MaximumBackoff: durationpb.New(p.MaxBackoff),
		},
	}
	if p.DeadLetterTopic != "" {
		sub.DeadLetterPolicy = &pubsubpb.DeadLetterPolicy{
			DeadLetterTopic:     TopicName(c.Project(), p.DeadLetterTopic),
			MaxDeliveryAttempts: int32(p.MaxDeliveryAttempts),
		}
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, sub); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create push subscription %s: %w", p.Name, err)
	}
	return nil
}

// PushEndpoint is the URL path under which the Functions Framework
// recognises a raw Pub/Sub push body and turns it into a messagePublished
// CloudEvent: it reads the topic from ".../projects/P/topics/T".
func PushEndpoint(base, project, topic string) string {
	return base + "/" + TopicName(project, topic)
}
