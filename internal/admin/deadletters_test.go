package admin_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/templategw/templategw/internal/queue"
)

// pullAll pulls sub until a pull comes back empty, acknowledging what it
// got, and returns the messages' data and attributes.
func pullAll(t *testing.T, ps *pubsub.Client, sub string) []*pubsubpb.PubsubMessage {
	t.Helper()
	var out []*pubsubpb.PubsubMessage
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		resp, err := ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: queue.SubscriptionName(ps.Project(), sub), MaxMessages: 100})
		cancel()
		if err != nil || len(resp.ReceivedMessages) == 0 {
			return out
		}
		ack := &pubsubpb.AcknowledgeRequest{Subscription: queue.SubscriptionName(ps.Project(), sub)}
		for _, m := range resp.ReceivedMessages {
			out = append(out, m.Message)
			ack.AckIds = append(ack.AckIds, m.AckId)
		}
		if err := ps.SubscriptionAdminClient.Acknowledge(context.Background(), ack); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayDeadLetters: jobs a subscription gave up on reach its
// dead-letter topic (Pub/Sub's emulator counts the deliveries and moves
// them, as in the cloud); deadletters replay pulls the dead-letter
// subscription dry and republishes each job, data and attributes as
// published, to the topic it came from, which only the subscription Pub/Sub
// names on each dead letter tells (the dead-letter topic's own name does
// not end in -dead). Nothing is left to replay afterwards.
func TestReplayDeadLetters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ps := e.PubSub
	for _, topic := range []string{"work", "work-graveyard"} {
		if err := queue.EnsureTopic(ctx, ps, topic); err != nil {
			t.Fatal(err)
		}
	}
	if err := queue.EnsurePull(ctx, ps, "work-graveyard-keep", "work-graveyard"); err != nil {
		t.Fatal(err)
	}
	if err := queue.EnsurePull(ctx, ps, "work-pull", "work"); err != nil {
		t.Fatal(err)
	}
	// The consumer that fails: it refuses every delivery, and after five
	// Pub/Sub dead-letters the job.
	failing := queue.SubscriptionName(ps.Project(), "work-failing")
	_, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: failing, Topic: queue.TopicName(ps.Project(), "work"), AckDeadlineSeconds: 10,
		DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: queue.TopicName(ps.Project(), "work-graveyard"), MaxDeliveryAttempts: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := e.TopicPublisher(t, "work")
	for _, id := range []string{"m1", "m2", "m3"} {
		if err := pub.Publish(ctx, queue.Job{Tenant: e.Tenant, Message: id}); err != nil {
			t.Fatal(err)
		}
	}
	if got := pullAll(t, ps, "work-pull"); len(got) != 3 {
		t.Fatalf("work-pull got %d of the published jobs, want 3", len(got))
	}
	refuse(t, ps, failing, 15)

	var v struct {
		Subscription string         `json:"subscription"`
		Replayed     int            `json:"replayed"`
		Topics       map[string]int `json:"topics"`
	}
	// Dead-lettering trails the last refusal: replay until all three are
	// back, as an operator would run it again.
	deadline := time.Now().Add(30 * time.Second)
	total := 0
	for total < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("replayed %d, want 3", total)
		}
		e.mustJSON(t, &v, "deadletters", "replay", "--subscription", "work-graveyard-keep", "--wait", "1s")
		if v.Subscription != queue.SubscriptionName(e.Project, "work-graveyard-keep") || (v.Replayed > 0 && v.Topics["work"] != v.Replayed) {
			t.Fatalf("replay = %+v, want everything back to work", v)
		}
		total += v.Replayed
	}
	if total != 3 {
		t.Fatalf("replayed %d, want 3", total)
	}

	got := pullAll(t, ps, "work-pull")
	var ids []string
	for _, m := range got {
		var j queue.Job
		if err := json.Unmarshal(m.Data, &j); err != nil || j.Tenant != e.Tenant {
			t.Errorf("replayed data %s: %v", m.Data, err)
		}
		ids = append(ids, j.Message)
		if m.Attributes["tenant"] != e.Tenant {
			t.Errorf("replayed attributes %v lost the publisher's", m.Attributes)
		}
		for k := range m.Attributes {
			if strings.HasPrefix(k, "CloudPubSubDeadLetter") {
				t.Errorf("replayed message carries Pub/Sub's dead-letter attribute %s", k)
			}
		}
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "m1,m2,m3" {
		t.Errorf("work-pull got %v after the replay, want m1,m2,m3", ids)
	}
	e.mustJSON(t, &v, "deadletters", "replay", "--subscription", "work-graveyard-keep", "--wait", "1s")
	if v.Replayed != 0 {
		t.Errorf("a second replay replayed %d", v.Replayed)
	}
}

// refuse pulls sub and hands back (nacks) every delivery at once, as a
// consumer that fails every time, until it has refused n deliveries and
// the subscription has nothing left to deliver: Pub/Sub moves a job to the
// dead letter when it would deliver it once more.
func refuse(t *testing.T, ps *pubsub.Client, sub string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for refused := 0; ; {
		if time.Now().After(deadline) {
			t.Fatalf("refused %d deliveries, want %d and then none left", refused, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 100})
		cancel()
		if err != nil || len(resp.ReceivedMessages) == 0 {
			if refused >= n {
				return
			}
			continue
		}
		back := &pubsubpb.ModifyAckDeadlineRequest{Subscription: sub}
		for _, m := range resp.ReceivedMessages {
			back.AckIds = append(back.AckIds, m.AckId)
		}
		if err := ps.SubscriptionAdminClient.ModifyAckDeadline(context.Background(), back); err != nil {
			t.Fatal(err)
		}
		refused += len(back.AckIds)
	}
}

// TestReplayToATopicOfChoice: --topic sends every dead letter to one
// topic, and --max bounds how many go.
func TestReplayToATopicOfChoice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ps := e.PubSub
	for _, topic := range []string{"parked", "elsewhere"} {
		if err := queue.EnsureTopic(ctx, ps, topic); err != nil {
			t.Fatal(err)
		}
	}
	if err := queue.EnsurePull(ctx, ps, "parked-keep", "parked"); err != nil {
		t.Fatal(err)
	}
	if err := queue.EnsurePull(ctx, ps, "elsewhere-pull", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	pub := e.TopicPublisher(t, "parked")
	for _, id := range []string{"a", "b", "c"} {
		if err := pub.Publish(ctx, queue.Job{Tenant: e.Tenant, Message: id}); err != nil {
			t.Fatal(err)
		}
	}
	// "parked" names no source and is not a "-dead" topic: without --topic
	// nothing can be replayed, and nothing is lost.
	if _, err := e.run("deadletters", "replay", "--subscription", "parked-keep", "--wait", "1s"); err == nil || !strings.Contains(err.Error(), "--topic") {
		t.Fatalf("replay without a known topic: %v, want an error asking for --topic", err)
	}
	var v struct {
		Subscription string         `json:"subscription"`
		Replayed     int            `json:"replayed"`
		Topics       map[string]int `json:"topics"`
	}
	// The refused run handed the messages back at once.
	e.mustJSON(t, &v, "deadletters", "replay", "--subscription", "parked-keep", "--topic", "elsewhere", "--max", "2", "--wait", "5s")
	if v.Replayed != 2 || v.Topics["elsewhere"] != 2 {
		t.Fatalf("replay --max 2 = %+v", v)
	}
	if got := pullAll(t, ps, "elsewhere-pull"); len(got) != 2 {
		t.Errorf("elsewhere got %d, want 2", len(got))
	}
}
