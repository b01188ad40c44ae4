package dispatch_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
)

// channelRefusals are Meta's errors that are the channel's: each holds it.
var channelRefusals = []*provider.Error{
	{HTTPStatus: 401, Code: 190, Title: "Error validating access token", Class: provider.HoldChannel},
	{HTTPStatus: 400, Code: 131031, Title: "Business Account locked", Class: provider.HoldChannel},
	{HTTPStatus: 400, Code: 368, Title: "Temporarily blocked for policies violations", Class: provider.HoldChannel},
	{HTTPStatus: 400, Code: 131048, Title: "Spam rate limit hit", Class: provider.HoldChannel},
}

// TestDecideChannelRefusalHoldsChannel: a channel-wide refusal holds the
// message and its channel instead of failing either; the channel stays
// connected (new sends are still accepted, to wait), the instance's next
// message is held without a call, and the tenant hears once that the
// channel is held, at its own callback URL.
func TestDecideChannelRefusalHoldsChannel(t *testing.T) {
	for _, refusal := range channelRefusals {
		t.Run(refusal.Title, func(t *testing.T) {
			r := newRig(t)
			r.sender.answer = failWith(refusal)
			m := r.accepted("m1", "5511987650007")
			if err := r.dispatch(m.ID); err != nil {
				t.Fatalf("err = %v, want nil: redelivering changes nothing while the channel is held", err)
			}
			wantErr := &domain.MessageError{Code: refusal.Code, Title: "channel held: " + refusal.Title}
			got := r.message(m.ID)
			if got.Status != domain.StatusHeld || !reflect.DeepEqual(got.Error, wantErr) || !got.LeaseUntil.IsZero() ||
				!slices.Equal(history(got), []domain.Status{"accepted", "dispatching", "held"}) {
				t.Fatalf("message = %+v error %+v, want held with %+v", got, got.Error, wantErr)
			}
			wantHold := domain.Hold{Code: refusal.Code, Reason: refusal.Title, Since: now}
			ch, _ := r.st.channel(tenant, channel)
			if ch.Hold == nil || *ch.Hold != wantHold || !ch.Connected {
				t.Fatalf("channel = %+v hold %+v, want connected and held by %+v", ch, ch.Hold, wantHold)
			}

			for i, id := range []string{"m2", "m3"} {
				next := r.accepted(id, "5511987650017")
				if err := r.dispatch(next.ID); err != nil {
					t.Fatal(err)
				}
				if got := r.message(id); got.Status != domain.StatusHeld || !reflect.DeepEqual(got.Error, wantErr) {
					t.Fatalf("message %d after the hold = %s error %+v, want held", i+2, got.Status, got.Error)
				}
			}
			if n := len(r.sender.requests()); n != 1 {
				t.Errorf("provider called %d times, want 1: a held channel sends nothing", n)
			}
			if n := r.notes.statuses(); !slices.Equal(n, []domain.Status{domain.StatusHeld, domain.StatusHeld, domain.StatusHeld}) {
				t.Errorf("notified %v, want [held held held]", n)
			}
			want := []heldNote{{tenant, tenantURL, channel, wantHold}}
			if got := r.notes.channelHolds(); !reflect.DeepEqual(got, want) {
				t.Errorf("channel.held callbacks %+v, want one %+v", got, want)
			}
		})
	}
}

// TestDecideRecipientRefusalNeverHolds: a refusal about the recipient
// fails that message alone; the channel is neither held nor disconnected,
// and the next message goes.
func TestDecideRecipientRefusalNeverHolds(t *testing.T) {
	for _, code := range []int{131026, 131047, 131049, 131050} {
		r := newRig(t)
		refusal := &provider.Error{HTTPStatus: 400, Code: code, Title: "recipient refused", Class: provider.Classify(400, code)}
		r.sender.answer = func(call int, req provider.SendRequest) (provider.Result, error) {
			if call == 1 {
				return provider.Result{}, refusal
			}
			return acceptAll(call, req)
		}
		r.accepted("m1", "5511987650001")
		if err := r.dispatch("m1"); err != nil {
			t.Fatal(err)
		}
		if got := r.message("m1"); got.Status != domain.StatusFailed || got.Error == nil || got.Error.Code != code {
			t.Errorf("%d: message %s error %+v, want failed with %d", code, got.Status, got.Error, code)
		}
		if ch, _ := r.st.channel(tenant, channel); ch.Hold != nil || !ch.Connected {
			t.Errorf("%d: channel %+v hold %+v, want connected and not held", code, ch, ch.Hold)
		}
		r.accepted("m2", "5511987650018")
		if err := r.dispatch("m2"); err != nil {
			t.Fatal(err)
		}
		if got := r.message("m2"); got.Status != domain.StatusPending {
			t.Errorf("%d: next message %s, want pending", code, got.Status)
		}
		if n := r.notes.channelHolds(); len(n) != 0 {
			t.Errorf("%d: channel.held sent: %+v", code, n)
		}
	}
}

// TestDecideHeldChannelReleasedMeanwhileSends: an instance whose cached
// copy of the channel is held finds, in the hold's transaction, that the
// channel was released: it forgets the copy and sends.
func TestDecideHeldChannelReleasedMeanwhileSends(t *testing.T) {
	r := newRig(t)
	r.st.putChannel(tenant, domain.Channel{ID: channel, PhoneNumberID: "1015550000", SecretRef: secretRef, Connected: true,
		MessagesPerSecond: 80, Hold: &domain.Hold{Code: 190, Reason: "Error validating access token", Since: now.Add(-time.Hour)}})
	// This instance caches the held channel; the release commits as the
	// hold's transaction starts.
	r.accepted("m0", "5511987650019")
	r.st.beforeHold = func() { r.st.release(tenant, channel) }
	if err := r.dispatch("m0"); err != nil {
		t.Fatal(err)
	}
	got := r.message("m0")
	if got.Status != domain.StatusPending || got.Attempts != 1 || !slices.Equal(history(got), []domain.Status{"accepted", "dispatching", "pending"}) {
		t.Fatalf("message = %+v, want sent on its first attempt", got)
	}
	if n := len(r.sender.requests()); n != 1 {
		t.Errorf("provider called %d times, want 1", n)
	}
}

// TestDecideStaleCopyRefusedKeepsTheFirstHold: another instance, whose
// copy of the channel predates the hold, calls Meta and is refused: its
// message is held under the channel's first hold, whose start stands, and
// the tenant hears nothing new.
func TestDecideStaleCopyRefusedKeepsTheFirstHold(t *testing.T) {
	r := newRig(t)
	first := domain.Hold{Code: 190, Reason: "Error validating access token", Since: now.Add(-time.Hour)}
	r.sender.answer = failWith(&provider.Error{HTTPStatus: 400, Code: 131031, Title: "Business Account locked", Class: provider.HoldChannel})
	r.accepted("m1", "5511987650027")
	// This instance cached the channel before the hold landed.
	stale := dispatch.New(r.st, &memChannels{store: r.st, cache: map[string]domain.Channel{key(tenant, channel): {ID: channel,
		PhoneNumberID: "1015550000", SecretRef: secretRef, Connected: true, MessagesPerSecond: 80}}}, r.sender,
		memSecrets{secretRef: "EAAG-token"}, dispatch.Options{Lease: lease, MaxAttempts: 3, Notifier: r.notes, Holds: r.notes, Now: func() time.Time { return now }})
	ch, _ := r.st.channel(tenant, channel)
	h := first
	ch.Hold = &h
	r.st.putChannel(tenant, ch)
	if err := stale.Dispatch(r.ctx, queue.Job{Tenant: tenant, Message: "m1"}); err != nil {
		t.Fatal(err)
	}
	got := r.message("m1")
	if got.Status != domain.StatusHeld || !reflect.DeepEqual(got.Error, first.MessageError()) {
		t.Fatalf("message %s error %+v, want held under the first hold %+v", got.Status, got.Error, first.MessageError())
	}
	if ch, _ := r.st.channel(tenant, channel); ch.Hold == nil || *ch.Hold != first {
		t.Errorf("channel hold %+v, want the first %+v", ch.Hold, first)
	}
	if n := r.notes.channelHolds(); len(n) != 0 {
		t.Errorf("channel.held sent again: %+v", n)
	}
}

// TestDecideHoldNotRecordedIsRetried: when the hold cannot be written,
// nothing has reached Meta, so the message goes back for a retry.
func TestDecideHoldNotRecordedIsRetried(t *testing.T) {
	r := newRig(t)
	r.sender.answer = failWith(channelRefusals[0])
	r.st.holdErr = errors.New("firestore unavailable")
	r.accepted("m1", "5511987650028")
	if err := r.dispatch("m1"); !errors.Is(err, dispatch.ErrRetry) {
		t.Fatalf("err = %v, want ErrRetry", err)
	}
	got := r.message("m1")
	if got.Status != domain.StatusAccepted || got.Error == nil || got.Error.Code != 190 {
		t.Fatalf("message %s error %+v, want accepted again with the refusal", got.Status, got.Error)
	}
	if ch, _ := r.st.channel(tenant, channel); ch.Hold != nil {
		t.Errorf("channel held although the hold was not written: %+v", ch.Hold)
	}
}

// TestDecideChannelHeldCallbackURL: channel.held goes to the tenant's
// callback URL, else to the URL of the message that found out, else
// nowhere.
func TestDecideChannelHeldCallbackURL(t *testing.T) {
	for _, tc := range []struct{ name, tenantURL, messageURL, want string }{
		{"tenant's", tenantURL, "https://crm.example/hook", tenantURL},
		{"message's", "", "https://crm.example/hook", "https://crm.example/hook"},
		{"none", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.st.tenants[tenant] = domain.Tenant{ID: tenant, CallbackURL: tc.tenantURL}
			r.sender.answer = failWith(channelRefusals[0])
			m := r.accepted("m1", "5511987650029")
			m.CallbackURL = tc.messageURL
			r.st.put(m)
			if err := r.dispatch("m1"); err != nil {
				t.Fatal(err)
			}
			got := r.notes.channelHolds()
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("channel.held sent without a URL: %+v", got)
			case tc.want != "" && (len(got) != 1 || got[0].url != tc.want):
				t.Errorf("channel.held %+v, want one to %s", got, tc.want)
			}
		})
	}
}

// TestDecideLastDeliveryFailsInsteadOfDeadLettering: a retryable failure
// on the job's last delivery fails the message with the reason, rather
// than let Pub/Sub dead-letter the job and leave the message accepted for
// sweep to republish for ever. Deliveries before it, and jobs whose
// deliveries are not counted, are retried as usual.
func TestDecideLastDeliveryFailsInsteadOfDeadLettering(t *testing.T) {
	r := newRig(t)
	r.d = dispatch.New(r.st, &memChannels{store: r.st}, r.sender, memSecrets{secretRef: "EAAG-token"}, dispatch.Options{
		Lease: lease, MaxAttempts: 100, MaxDeliveries: maxDeliveries, Notifier: r.notes, Now: func() time.Time { return now },
	})
	r.sender.answer = failWith(&provider.Error{HTTPStatus: 400, Code: 2, Title: "Service temporarily unavailable", Class: provider.Retryable})
	r.accepted("m1", "5511987650004")
	job := queue.Job{Tenant: tenant, Message: "m1"}
	for _, delivery := range []int{0, 1, maxDeliveries - 1} {
		if err := r.d.Deliver(r.ctx, job, delivery); !errors.Is(err, dispatch.ErrRetry) {
			t.Fatalf("delivery %d: err = %v, want ErrRetry", delivery, err)
		}
		if got := r.message("m1"); got.Status != domain.StatusAccepted {
			t.Fatalf("delivery %d: message %s, want accepted for the next", delivery, got.Status)
		}
	}
	if err := pushed(t, r, job, maxDeliveries); err != nil {
		t.Fatalf("last delivery: err = %v, want nil: the job is done", err)
	}
	got := r.message("m1")
	want := &domain.MessageError{Code: 2, Title: "dispatch job dead-lettered after 5 deliveries: Service temporarily unavailable"}
	if got.Status != domain.StatusFailed || !reflect.DeepEqual(got.Error, want) {
		t.Fatalf("message %s error %+v, want failed with %+v", got.Status, got.Error, want)
	}
	if n := r.notes.statuses(); !slices.Equal(n, []domain.Status{domain.StatusFailed}) {
		t.Errorf("notified %v, want [failed]", n)
	}
}

// pushed hands dispatch job as Pub/Sub's push does on its delivery'th
// delivery: the envelope's deliveryAttempt is what dispatch counts.
func pushed(t *testing.T, r *rig, job queue.Job, delivery int) error {
	t.Helper()
	var env queue.PushEnvelope
	env.Message.Data = []byte(`{"tenant":"` + job.Tenant + `","message":"` + job.Message + `"}`)
	env.Message.MessageID = "1"
	env.Subscription = "projects/p/subscriptions/dispatch-push"
	env.DeliveryAttempt = delivery
	ev := event.New()
	ev.SetID("push")
	ev.SetSource("//pubsub.googleapis.com/projects/p/topics/dispatch")
	ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	if err := ev.SetData(event.ApplicationJSON, env); err != nil {
		t.Fatal(err)
	}
	return r.d.HandleEvent(r.ctx, ev)
}

// TestDecideResentMessageUnknownAgainWaitsForAPerson: a message sweep
// already resent once, whose resend's outcome is lost too, is unknown
// with no wait to end: nothing resends it again.
func TestDecideResentMessageUnknownAgainWaitsForAPerson(t *testing.T) {
	r := newRig(t)
	r.sender.answer = failWith(&provider.Error{HTTPStatus: 500, Code: 131000, Title: "Something went wrong", Class: provider.Unknown})
	m := r.accepted("m1", "5511987650002")
	m.ResentAt = now.Add(-time.Minute)
	r.st.put(m)
	if err := r.dispatch("m1"); err != nil {
		t.Fatal(err)
	}
	got := r.message("m1")
	if got.Status != domain.StatusUnknown || !got.ReconcileUntil.IsZero() || !got.ResentAt.Equal(m.ResentAt) {
		t.Fatalf("message %s reconcile until %v resent at %v, want unknown with no wait", got.Status, got.ReconcileUntil, got.ResentAt)
	}
}
