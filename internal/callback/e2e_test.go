package callback_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

const (
	topic         = "callbacks"
	deadTopic     = "callbacks-dead"
	maxAttempts   = 5 // Pub/Sub's minimum
	maxBackoff    = 2 * time.Second
	settleTimeout = 90 * time.Second
)

// pipeline is one test's callbacks path on the emulators: the topic, the
// push subscription standing in for the Eventarc trigger (with retry and
// dead-letter policies), a pull subscription on the dead-letter topic,
// the deliverer behind an HTTP endpoint that does what the Functions
// Framework does, and a Notifier publishing to the topic.
type pipeline struct {
	project  string
	pubsub   *pubsub.Client
	notifier *callback.Notifier
	logs     *logBuffer
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	ctx := context.Background()
	p := &pipeline{project: emulatortest.ProjectID(t), logs: &logBuffer{}}

	fs, err := firestore.NewClient(ctx, p.project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	st := store.New(fs)
	if err := st.PutTenant(ctx, domain.Tenant{ID: "acme", Name: "Acme", CallbackSecret: secret}); err != nil {
		t.Fatal(err)
	}
	deliverer := callback.NewDeliverer(catalog.New(st, time.Minute), callback.Options{AllowLoopback: true, Timeout: 5 * time.Second})

	log := logging.New(p.logs, "debug")
	function := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		e := event.New()
		e.SetID("push")
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		e.SetSource("//pubsub.googleapis.com/" + queue.TopicName(p.project, topic))
		_ = e.SetData("application/json", raw)
		if err := deliverer.HandleEvent(logging.WithLogger(r.Context(), log), e); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(function.Close)

	if p.pubsub, err = pubsub.NewClient(ctx, p.project); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.pubsub.Close() })
	for _, name := range []string{topic, deadTopic} {
		if err := queue.EnsureTopic(ctx, p.pubsub, name); err != nil {
			t.Fatal(err)
		}
	}
	// A topic without a subscription drops what is published to it, so
	// the dead-letter pull subscription exists before anything can fail.
	_, err = p.pubsub.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: p.sub("dead-pull"), Topic: queue.TopicName(p.project, deadTopic), AckDeadlineSeconds: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = queue.EnsurePush(ctx, p.pubsub, queue.Push{
		Name: "callbacks-push", Topic: topic, Endpoint: queue.PushEndpoint(function.URL, p.project, topic),
		AckDeadline: 10 * time.Second, MinBackoff: time.Second, MaxBackoff: maxBackoff,
		DeadLetterTopic: deadTopic, MaxDeliveryAttempts: maxAttempts,
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := queue.NewPublisher(p.pubsub, topic)
	t.Cleanup(pub.Stop)
	p.notifier = callback.NewNotifier(pub)
	return p
}

func (p *pipeline) sub(name string) string { return "projects/" + p.project + "/subscriptions/" + name }

// deadLettered pulls what reached the dead-letter topic so far.
func (p *pipeline) deadLettered(t *testing.T) []*pubsubpb.ReceivedMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := p.pubsub.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: p.sub("dead-pull"), MaxMessages: 10})
	if err != nil {
		t.Fatalf("pull dead letters: %v", err)
	}
	return resp.ReceivedMessages
}

// quietPeriod is how long a test watches for deliveries that must not
// come: past the longest backoff plus the emulator's own push delay.
const quietPeriod = 3*maxBackoff + time.Second

func callbackMessage(url string) domain.Message {
	m := pendingMessage()
	m.Tenant, m.CallbackURL = "acme", url
	return m
}

func TestEndToEndRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	rcv := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	m := callbackMessage(rcv.URL + "/hook?key=receiver-secret")
	p.notifier.Notify(quiet(), m)

	wait.Until(t, settleTimeout, "a 2xx answer", func() bool {
		got := rcv.requests()
		return len(got) > 0 && got[len(got)-1].code == http.StatusOK
	})
	time.Sleep(quietPeriod)

	got := rcv.requests()
	if len(got) != 3 {
		t.Fatalf("receiver got %d POSTs, want 3 (two failures, one success, nothing after): %+v", len(got), got)
	}
	want := callback.EventOf(m)
	ok := 0
	for i, r := range got {
		if err := callback.Verify(secret, r.header, r.body, r.at, time.Minute); err != nil {
			t.Errorf("POST %d: %v", i+1, err)
		}
		var ev callback.Event
		if err := json.Unmarshal(r.body, &ev); err != nil || ev.ID != want.ID || ev != want {
			t.Errorf("POST %d: event %s (%v), want id %s", i+1, r.body, err, want.ID)
		}
		if r.method != http.MethodPost || r.uri != "/hook?key=receiver-secret" {
			t.Errorf("POST %d: %s %s", i+1, r.method, r.uri)
		}
		if r.code/100 == 2 {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d POSTs answered 2xx, want exactly 1", ok)
	}
	if dead := p.deadLettered(t); len(dead) != 0 {
		t.Errorf("a delivered callback reached the dead-letter topic: %v", dead)
	}
	if out := p.logs.String(); !strings.Contains(out, "Pub/Sub will retry") || strings.Contains(out, "receiver-secret") {
		t.Errorf("logs: %s", out)
	}
}

// TestEndToEndDeadLetter relies on the Pub/Sub emulator enforcing the
// subscription's dead-letter policy, which it does: after
// MaxDeliveryAttempts failed pushes it forwards the message to the
// dead-letter topic, with CloudPubSubDeadLetterSourceDeliveryCount.
func TestEndToEndDeadLetter(t *testing.T) {
	t.Parallel()
	p := newPipeline(t)
	rcv := newReceiver(t, always(http.StatusServiceUnavailable))
	m := callbackMessage(rcv.URL + "/hook")
	p.notifier.Notify(quiet(), m)

	var dead []*pubsubpb.ReceivedMessage
	wait.Until(t, settleTimeout, "the dead-letter topic", func() bool {
		dead = p.deadLettered(t)
		return len(dead) > 0
	})
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	var j callback.Job
	if err := json.Unmarshal(dead[0].Message.Data, &j); err != nil {
		t.Fatalf("dead letter %s: %v", dead[0].Message.Data, err)
	}
	if want := callback.EventOf(m); j.Event != want || j.Tenant != "acme" || j.URL != m.CallbackURL {
		t.Fatalf("dead letter = %+v, want the event %+v", j, want)
	}
	if n := dead[0].Message.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"]; n != "5" {
		t.Errorf("dead letter delivery count %q, want 5", n)
	}

	time.Sleep(quietPeriod)
	got := rcv.requests()
	if len(got) != maxAttempts {
		t.Fatalf("receiver got %d POSTs, want %d (MaxDeliveryAttempts), then none", len(got), maxAttempts)
	}
	for i, r := range got {
		if err := callback.Verify(secret, r.header, r.body, r.at, time.Minute); err != nil {
			t.Errorf("POST %d: %v", i+1, err)
		}
		if id := r.header.Get(callback.EventIDHeader); id != j.Event.ID {
			t.Errorf("POST %d: event id %q, want %q", i+1, id, j.Event.ID)
		}
	}
}
