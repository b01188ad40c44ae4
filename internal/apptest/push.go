package apptest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/queue"
)

// TopicPublisher returns a publisher on topic, created if missing and
// stopped when t ends.
func (e *Env) TopicPublisher(t testing.TB, topic string) *queue.Publisher {
	t.Helper()
	if err := queue.EnsureTopic(context.Background(), e.PubSub, topic); err != nil {
		t.Fatal(err)
	}
	p := queue.NewPublisher(e.PubSub, topic)
	t.Cleanup(p.Stop)
	return p
}

// EventFunc is a CloudEvent function, as function.go registers them.
type EventFunc func(ctx context.Context, e event.Event) error

// Push feeds fn from topic (created if missing) through a real emulator
// push subscription, as Eventarc feeds a deployed function: the raw push
// body becomes a messagePublished CloudEvent, and an error answers 500 so
// Pub/Sub redelivers with backoff. It returns how many deliveries arrived.
func (e *Env) Push(t testing.TB, topic string, fn EventFunc) func() int {
	t.Helper()
	ctx := context.Background()
	if err := queue.EnsureTopic(ctx, e.PubSub, topic); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ev := event.New()
		ev.SetID("push")
		ev.SetSource("//pubsub.googleapis.com/" + queue.TopicName(e.Project, topic))
		ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		_ = ev.SetData(event.ApplicationJSON, body)
		if err := fn(r.Context(), ev); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	err := queue.EnsurePush(ctx, e.PubSub, queue.Push{
		Name: strings.ReplaceAll(topic, "/", "-") + "-push", Topic: topic, Endpoint: srv.URL,
		AckDeadline: 30 * time.Second, MinBackoff: time.Second, MaxBackoff: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() int { return int(n.Load()) }
}
