package queue

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

// pushBody is a push request's body as Pub/Sub sends it for data.
func pushBody(data string, attempt int) []byte {
	b, _ := json.Marshal(map[string]any{
		"message":         map[string]any{"data": []byte(data), "messageId": "1", "attributes": map[string]string{"k": "v"}},
		"subscription":    "projects/p/subscriptions/dispatch-push",
		"deliveryAttempt": attempt,
	})
	return b
}

// FuzzDecodeJob feeds arbitrary push bodies to the decoder every
// CloudEvent function starts with: it never panics, refuses what it cannot
// use with ErrBadEvent (so the event is acked, not redelivered forever), and
// what it accepts names a tenant and a message.
func FuzzDecodeJob(f *testing.F) {
	f.Add(pushBody(`{"tenant":"demo","message":"m1"}`, 1))
	f.Add(pushBody(`{"tenant":"demo"}`, 0))
	f.Add(pushBody(`not json`, 3))
	f.Add(pushBody(``, 0))
	for _, s := range []string{`{}`, `null`, `{"message":{"data":"!!"}}`, `{"message":{"data":null}}`, `[]`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev := event.New()
		ev.SetID("1")
		ev.SetSource("//pubsub.googleapis.com/projects/p/topics/dispatch")
		ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		if err := ev.SetData(event.ApplicationJSON, body); err != nil {
			t.Skip("the SDK itself refuses this data")
		}
		j, err := DecodeJob(ev)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("error %v is not ErrBadEvent", err)
			}
			return
		}
		if j.Tenant == "" || j.Message == "" {
			t.Fatalf("accepted a job without tenant or message: %+v", j)
		}
	})
}

func TestDecodeJob(t *testing.T) {
	ev := event.New()
	if err := ev.SetData(event.ApplicationJSON, pushBody(`{"tenant":"demo","message":"m1"}`, 2)); err != nil {
		t.Fatal(err)
	}
	j, err := DecodeJob(ev)
	if err != nil || j != (Job{Tenant: "demo", Message: "m1"}) {
		t.Fatalf("DecodeJob = %+v, %v", j, err)
	}
	d, err := Decode(ev)
	if err != nil || d.Attempt != 2 || d.Attributes["k"] != "v" || d.MessageID != "1" {
		t.Fatalf("Decode = %+v, %v", d, err)
	}
	for _, bad := range []string{`{"tenant":"demo"}`, `{"message":"m"}`, `[1]`, `x`} {
		if err := ev.SetData(event.ApplicationJSON, pushBody(bad, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeJob(ev); !errors.Is(err, ErrBadEvent) {
			t.Errorf("DecodeJob(%s) = %v, want ErrBadEvent", bad, err)
		}
	}
}
