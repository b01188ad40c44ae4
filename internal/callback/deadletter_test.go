package callback_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// deadLetters is an in-memory callback.DeadLetters.
type deadLetters struct {
	mu  sync.Mutex
	got map[string][]store.DeadLetter // by tenant
	err error
}

func (d *deadLetters) RecordDeadLetter(ctx context.Context, tenant string, dl store.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	if d.got == nil {
		d.got = map[string][]store.DeadLetter{}
	}
	d.got[tenant] = append(d.got[tenant], dl)
	return nil
}

func (d *deadLetters) of(tenant string) []store.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]store.DeadLetter(nil), d.got[tenant]...)
}

// attemptBody is a push body whose envelope says which delivery attempt
// it is, as a subscription with a dead-letter policy sends it.
func attemptBody(t *testing.T, j callback.Job, attempt int) []byte {
	t.Helper()
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{
		"subscription":    "projects/p/subscriptions/callbacks-push",
		"message":         map[string]any{"data": data, "messageId": "42", "attributes": map[string]string{}},
		"deliveryAttempt": attempt,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lastAttempt is the tests' CALLBACK_MAX_ATTEMPTS.
const lastAttempt = 5

// deadLettering is a Deliverer that records in dl the failures of attempt
// lastAttempt, on a fixed clock.
func deadLettering(ts callback.Tenants, dl callback.DeadLetters, now time.Time) *callback.Deliverer {
	opt := dev()
	opt.Now = func() time.Time { return now }
	opt.MaxAttempts = lastAttempt
	opt.DeadLetters = dl
	return callback.NewDeliverer(ts, opt)
}

// Only the failure of the last attempt, the one Pub/Sub dead-letters,
// records a dead letter: the tenant's, with what its console shows and
// the job its replay republishes, and never the URL's path or query.
func TestLastAttemptRecordsADeadLetter(t *testing.T) {
	rcv := newReceiver(t, always(http.StatusBadGateway))
	days := 30
	ts := tenants{"acme": {ID: "acme", CallbackSecret: secret, RetentionDays: &days}}
	dl := &deadLetters{}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := deadLettering(ts, dl, now)
	j := job(rcv.URL + "/hooks/wa?key=receiver-secret")

	for attempt := 1; attempt < lastAttempt; attempt++ {
		if err := d.HandleEvent(quiet(), pushEvent(t, attemptBody(t, j, attempt))); err == nil {
			t.Fatalf("attempt %d: failed delivery acknowledged", attempt)
		}
		if n := len(dl.of("acme")); n != 0 {
			t.Fatalf("attempt %d of %d recorded %d dead letters, want none", attempt, lastAttempt, n)
		}
	}
	ctx, logs := logged()
	if err := d.HandleEvent(ctx, pushEvent(t, attemptBody(t, j, lastAttempt))); err == nil {
		t.Fatal("the last attempt's failure acknowledged, want the error so Pub/Sub dead-letters the job")
	}
	got := dl.of("acme")
	if len(got) != 1 {
		t.Fatalf("the last attempt recorded %d dead letters, want 1", len(got))
	}
	l := got[0]
	if l.ID != j.Event.ID || l.Kind != store.DeadLetterCallback || l.EventType != callback.EventType || l.MessageID != "m7" ||
		l.Host != rcv.URL || l.Attempts != lastAttempt || !l.At.Equal(now) || !l.ExpireAt.Equal(now.AddDate(0, 0, days)) {
		t.Errorf("dead letter %+v", l)
	}
	if !strings.Contains(l.Error, "502") || strings.Contains(l.Error, "receiver-secret") || strings.Contains(l.Error, j.Event.ID) {
		t.Errorf("dead letter's error %q: want the receiver's answer alone", l.Error)
	}
	var replay callback.Job
	if err := json.Unmarshal(l.Job, &replay); err != nil || replay != j {
		t.Errorf("dead letter's job %s (%v), want %+v", l.Job, err, j)
	}
	if out := logs.String(); !strings.Contains(out, "dead-letters it") || strings.Contains(out, "receiver-secret") {
		t.Errorf("log: %s", out)
	}
}

// A delivery that succeeds, or is dropped, on the last attempt leaves no
// dead letter; nor does any attempt without a configured maximum.
func TestNoDeadLetterWithoutAFailedLastAttempt(t *testing.T) {
	ok := newReceiver(t, always(http.StatusOK))
	failing := newReceiver(t, always(http.StatusServiceUnavailable))
	dl := &deadLetters{}
	now := time.Now()
	if err := deadLettering(acme, dl, now).HandleEvent(quiet(), pushEvent(t, attemptBody(t, job(ok.URL), lastAttempt))); err != nil {
		t.Fatalf("delivered on the last attempt: %v", err)
	}
	noSecret := tenants{"acme": {ID: "acme"}}
	if err := deadLettering(noSecret, dl, now).HandleEvent(quiet(), pushEvent(t, attemptBody(t, job(failing.URL), lastAttempt))); err != nil {
		t.Fatalf("dropped on the last attempt: %v", err)
	}
	opt := dev()
	opt.DeadLetters = dl // no MaxAttempts: the subscription counts none
	if err := callback.NewDeliverer(acme, opt).HandleEvent(quiet(), pushEvent(t, attemptBody(t, job(failing.URL), 100))); err == nil {
		t.Fatal("failed delivery acknowledged")
	}
	if n := len(dl.of("acme")); n != 0 {
		t.Fatalf("%d dead letters recorded, want none", n)
	}
}

// A dead letter that cannot be written is logged, and the delivery's
// outcome stays what it was: an error, so Pub/Sub dead-letters the job.
func TestDeadLetterWriteFailureKeepsTheOutcome(t *testing.T) {
	rcv := newReceiver(t, always(http.StatusInternalServerError))
	dl := &deadLetters{err: errors.New("firestore unavailable")}
	ctx, logs := logged()
	err := deadLettering(acme, dl, time.Now()).HandleEvent(ctx, pushEvent(t, attemptBody(t, job(rcv.URL), lastAttempt)))
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("HandleEvent = %v, want the delivery's own error", err)
	}
	if !strings.Contains(logs.String(), "dead letter not recorded") {
		t.Errorf("the failed write is not logged: %s", logs.String())
	}
}

// A tenant that cannot be read fails the delivery before any request: the
// dead letter says the gateway failed, not what its store answered, and
// falls back to the default retention.
func TestDeadLetterOfAGatewayFailure(t *testing.T) {
	dl := &deadLetters{}
	now := time.Now().UTC()
	d := deadLettering(brokenTenants{}, dl, now)
	if err := d.HandleEvent(quiet(), pushEvent(t, attemptBody(t, job("http://127.0.0.1:1/?key=receiver-secret"), lastAttempt))); err == nil {
		t.Fatal("failed delivery acknowledged")
	}
	got := dl.of("acme")
	if len(got) != 1 || strings.Contains(got[0].Error, "firestore") || !got[0].ExpireAt.Equal(domain.Tenant{}.ExpireAt(now)) {
		t.Fatalf("dead letters %+v", got)
	}
}
