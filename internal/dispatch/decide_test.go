package dispatch_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
)

// The decision tests run dispatch against memStore and a fake provider
// at a fixed clock: no emulator, no network, no waiting.

// now is the dispatcher's clock in every decision test.
var now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const (
	tenant    = "acme"
	channel   = "main"
	secretRef = "acme-main-token"
	lease     = time.Minute
	tenantURL = "https://hooks.acme.example/templategw"
	// maxDeliveries is the dispatch subscription's max_delivery_attempts.
	maxDeliveries = 5
)

type rig struct {
	st     *memStore
	sender *fakeSender
	notes  *notes
	d      *dispatch.Dispatcher
	ctx    context.Context
}

// newRig is a dispatcher allowing 3 attempts, with one connected channel
// and a provider that accepts every send as wamid.N until a test says
// otherwise.
func newRig(t *testing.T) *rig {
	t.Helper()
	st := newMemStore()
	st.putChannel(tenant, domain.Channel{ID: channel, PhoneNumberID: "1015550000", SecretRef: secretRef, Connected: true, MessagesPerSecond: 80})
	st.tenants[tenant] = domain.Tenant{ID: tenant, CallbackURL: tenantURL}
	r := &rig{st: st, sender: &fakeSender{answer: acceptAll}, notes: &notes{}}
	r.d = dispatch.New(st, &memChannels{store: st}, r.sender, memSecrets{secretRef: "EAAG-token"}, dispatch.Options{
		Lease: lease, MaxAttempts: 3, MaxDeliveries: maxDeliveries, Notifier: r.notes, Holds: r.notes, Now: func() time.Time { return now },
	})
	r.ctx = logging.WithLogger(context.Background(), logging.New(t.Output(), "debug"))
	return r
}

func acceptAll(call int, _ provider.SendRequest) (provider.Result, error) {
	return provider.Result{WAMID: "wamid." + strconv.Itoa(call)}, nil
}

// accepted stores an accepted template message to phone, as admission
// leaves it.
func (r *rig) accepted(id, phone string) domain.Message {
	m := domain.NewMessage(id, tenant, channel, phone, "welcome",
		domain.TemplateMessage{Name: "welcome", Language: domain.Language{Code: "pt_BR"}}, now.Add(-time.Minute))
	r.st.put(m)
	return m
}

func (r *rig) dispatch(id string) error {
	return r.d.Dispatch(r.ctx, queue.Job{Tenant: tenant, Message: id})
}

func (r *rig) message(id string) domain.Message { return r.st.message(tenant, id) }

func history(m domain.Message) []domain.Status {
	var out []domain.Status
	for _, h := range m.History {
		out = append(out, h.Status)
	}
	return out
}

// failWith answers every send with e.
func failWith(e error) func(int, provider.SendRequest) (provider.Result, error) {
	return func(int, provider.SendRequest) (provider.Result, error) { return provider.Result{}, e }
}

func TestDecideAcceptedByMetaIsPending(t *testing.T) {
	r := newRig(t)
	m := r.accepted("m1", "5511987650000")
	if err := r.dispatch(m.ID); err != nil {
		t.Fatal(err)
	}
	reqs := r.sender.requests()
	want := provider.SendRequest{PhoneNumberID: "1015550000", AccessToken: "EAAG-token", To: m.PhoneNumber, Template: m.Template, CallbackData: m.ID}
	if len(reqs) != 1 || !reflect.DeepEqual(reqs[0], want) {
		t.Fatalf("provider got %+v, want one %+v", reqs, want)
	}
	got := r.message(m.ID)
	wantHistory := []domain.HistoryEntry{
		{Status: domain.StatusAccepted, At: m.CreatedAt},
		{Status: domain.StatusDispatching, At: now},
		{Status: domain.StatusPending, At: now},
	}
	if got.Status != domain.StatusPending || got.Attempts != 1 || got.ProviderMessageID != "wamid.1" ||
		got.ConversationID != "" || got.Error != nil || !got.LeaseUntil.IsZero() || !got.UpdatedAt.Equal(now) ||
		!reflect.DeepEqual(got.History, wantHistory) {
		t.Fatalf("message = %+v, want pending on its first attempt with wamid.1 and history %+v", got, wantHistory)
	}
	if n := r.notes.statuses(); !slices.Equal(n, []domain.Status{domain.StatusPending}) {
		t.Errorf("notified %v, want [pending]", n)
	}
}

// TestDecideConversation: Meta's acceptance is sent at once only into
// the contact's conversation open on that channel at dispatch's clock.
func TestDecideConversation(t *testing.T) {
	const phone = "5511987650010"
	for _, tc := range []struct {
		name   string
		conv   domain.Conversation
		want   domain.Status
		wantID string
	}{
		{"open", domain.Conversation{ID: "conv-1", Channel: channel, Phone: phone, ExpiresAt: now.Add(time.Hour)}, domain.StatusSent, "conv-1"},
		{"open a second more", domain.Conversation{ID: "conv-1", Channel: channel, Phone: phone, ExpiresAt: now.Add(time.Second)}, domain.StatusSent, "conv-1"},
		{"ends now", domain.Conversation{ID: "conv-1", Channel: channel, Phone: phone, ExpiresAt: now}, domain.StatusPending, ""},
		{"ended", domain.Conversation{ID: "conv-1", Channel: channel, Phone: phone, ExpiresAt: now.Add(-time.Hour)}, domain.StatusPending, ""},
		{"only reserved", domain.Conversation{Channel: channel, Phone: phone, ReservedBy: "m1", ReservedUntil: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}, domain.StatusPending, ""},
		{"open on another channel", domain.Conversation{ID: "conv-2", Channel: "other", Phone: phone, ExpiresAt: now.Add(time.Hour)}, domain.StatusPending, ""},
		{"none", domain.Conversation{}, domain.StatusPending, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			if tc.conv.Phone != "" {
				r.st.putConversation(tenant, tc.conv)
			}
			m := r.accepted("m1", phone)
			if tc.conv.ID != "" && tc.conv.Channel == channel {
				// Admission found it on the message's channel, a minute
				// before the dispatch.
				m.Admitted = &domain.AdmittedConversation{ID: tc.conv.ID, ExpiresAt: tc.conv.ExpiresAt}
				r.st.put(m)
			}
			if err := r.dispatch(m.ID); err != nil {
				t.Fatal(err)
			}
			got := r.message(m.ID)
			if got.Status != tc.want || got.ConversationID != tc.wantID || got.ProviderMessageID != "wamid.1" {
				t.Fatalf("message %s in conversation %q with wamid %q, want %s in %q with wamid.1", got.Status, got.ConversationID, got.ProviderMessageID, tc.want, tc.wantID)
			}
		})
	}
}

// TestDecideClaimLostSendsNothing: a delivery whose message another
// delivery holds or has finished, or that no longer exists, is acked
// without a call to Meta and changes nothing.
// TestDecideAConversationOpenedAfterAdmission: a conversation that opened
// after the send was admitted is not read by dispatch: the message is
// pending, and Meta's sent status joins it to the conversation.
func TestDecideAConversationOpenedAfterAdmission(t *testing.T) {
	const phone = "5511987650011"
	r := newRig(t)
	r.st.putConversation(tenant, domain.Conversation{ID: "conv-1", Channel: channel, Phone: phone, ExpiresAt: now.Add(time.Hour)})
	m := r.accepted("m1", phone)
	if err := r.dispatch(m.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.message(m.ID); got.Status != domain.StatusPending || got.ConversationID != "" {
		t.Fatalf("message %s in conversation %q, want pending in none", got.Status, got.ConversationID)
	}
}

func TestDecideClaimLostSendsNothing(t *testing.T) {
	for _, path := range [][]domain.Status{
		{domain.StatusDispatching}, // another delivery holds it
		{domain.StatusDispatching, domain.StatusPending},
		{domain.StatusDispatching, domain.StatusSent},
		{domain.StatusDispatching, domain.StatusFailed},
		{domain.StatusDispatching, domain.StatusUnknown},
		{domain.StatusDispatching, domain.StatusSent, domain.StatusRead},
	} {
		t.Run(string(path[len(path)-1]), func(t *testing.T) {
			r := newRig(t)
			m := r.accepted("m1", "5511987650020")
			for _, s := range path {
				if err := m.Move(s, now.Add(-time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			m.Attempts = 1
			r.st.put(m)
			if err := r.dispatch(m.ID); err != nil {
				t.Fatalf("err = %v, want nil: a lost claim is no reason to redeliver", err)
			}
			if n := len(r.sender.requests()); n != 0 {
				t.Errorf("provider called %d times", n)
			}
			if got := r.message(m.ID); !reflect.DeepEqual(got, m) {
				t.Errorf("message changed:\n got %+v\nwant %+v", got, m)
			}
			if n := r.notes.statuses(); len(n) != 0 {
				t.Errorf("notified %v", n)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		r := newRig(t)
		if err := r.dispatch("gone"); err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		if n := len(r.sender.requests()); n != 0 {
			t.Errorf("provider called %d times", n)
		}
	})
}

// TestDecideCarriedJobIsClaimedWithoutARead: a job that carries its
// message as accepted is claimed from it; one that does not, or that
// carries another message than it names, is claimed from the store.
func TestDecideCarriedJobIsClaimedWithoutARead(t *testing.T) {
	r := newRig(t)
	m := r.accepted("m1", "5511987650030")
	other := r.accepted("m2", "5511987650031")
	jobs := []struct {
		job     queue.Job
		carried int
	}{
		{queue.Job{Tenant: tenant, Message: m.ID, Accepted: &m, Version: now}, 1},
		{queue.Job{Tenant: tenant, Message: other.ID, Accepted: &m, Version: now}, 0},
		{queue.Job{Tenant: tenant, Message: "m3", Accepted: &m}, 0},
	}
	r.accepted("m3", "5511987650032")
	for i, c := range jobs {
		before := r.st.carried
		if err := r.d.Dispatch(r.ctx, c.job); err != nil {
			t.Fatal(err)
		}
		if got := r.st.carried - before; got != c.carried {
			t.Errorf("job %d: %d claims without a read, want %d", i, got, c.carried)
		}
		if got := r.message(c.job.Message); got.Status != domain.StatusPending {
			t.Errorf("job %d: message %s is %s, want pending", i, got.ID, got.Status)
		}
	}
	if n := len(r.sender.requests()); n != 3 {
		t.Errorf("provider called %d times, want 3", n)
	}
}

// TestDecideClaimErrorIsRedelivered: when the store cannot claim, nothing
// is sent and the error makes Pub/Sub redeliver.
func TestDecideClaimErrorIsRedelivered(t *testing.T) {
	r := newRig(t)
	m := r.accepted("m1", "5511987650021")
	unavailable := errors.New("firestore unavailable")
	r.st.claimErr = unavailable
	if err := r.dispatch(m.ID); !errors.Is(err, unavailable) {
		t.Fatalf("err = %v, want the store's", err)
	}
	if n := len(r.sender.requests()); n != 0 {
		t.Errorf("provider called %d times", n)
	}
	if got := r.message(m.ID); !reflect.DeepEqual(got, m) {
		t.Errorf("message changed: %+v", got)
	}
}

func TestDecideRetryableBackToAcceptedThenFailed(t *testing.T) {
	r := newRig(t)
	r.sender.answer = failWith(&provider.Error{HTTPStatus: 500, Code: 131000, Title: "Something went wrong", Class: provider.Retryable})
	m := r.accepted("m1", "5511987650002")
	for i := 1; i <= 2; i++ {
		err := r.dispatch(m.ID)
		if !errors.Is(err, dispatch.ErrRetry) {
			t.Fatalf("attempt %d: err = %v, want ErrRetry so Pub/Sub redelivers", i, err)
		}
		got := r.message(m.ID)
		if got.Status != domain.StatusAccepted || got.Attempts != i || got.Error == nil || got.Error.Code != 131000 || !got.LeaseUntil.IsZero() {
			t.Fatalf("attempt %d: %+v, want accepted with the attempt counted, its error kept and no lease", i, got)
		}
	}
	if err := r.dispatch(m.ID); err != nil {
		t.Fatalf("last attempt: err = %v, want nil: nothing is left to retry", err)
	}
	got := r.message(m.ID)
	if got.Status != domain.StatusFailed || got.Attempts != 3 || got.Error == nil || got.Error.Code != 131000 ||
		got.Error.Title != "gave up after 3 attempts: Something went wrong" {
		t.Fatalf("after max attempts: %+v error %+v", got, got.Error)
	}
	wantHistory := []domain.Status{"accepted", "dispatching", "accepted", "dispatching", "accepted", "dispatching", "failed"}
	if !slices.Equal(history(got), wantHistory) {
		t.Errorf("history %v, want %v", history(got), wantHistory)
	}
	if n := len(r.sender.requests()); n != 3 {
		t.Errorf("provider called %d times, want 3", n)
	}
	if n := r.notes.statuses(); !slices.Equal(n, []domain.Status{domain.StatusFailed}) {
		t.Errorf("notified %v, want only [failed]: a retry is no news to the tenant", n)
	}
}

func TestDecideRetryableThenAccepted(t *testing.T) {
	r := newRig(t)
	r.sender.answer = func(call int, req provider.SendRequest) (provider.Result, error) {
		if call == 1 {
			return provider.Result{}, &provider.Error{HTTPStatus: 503, Title: "request not sent", Class: provider.Retryable}
		}
		return acceptAll(call, req)
	}
	m := r.accepted("m1", "5511987650008")
	if err := r.dispatch(m.ID); !errors.Is(err, dispatch.ErrRetry) {
		t.Fatalf("first attempt: err = %v, want ErrRetry", err)
	}
	if err := r.dispatch(m.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.message(m.ID); got.Status != domain.StatusPending || got.Attempts != 2 || got.ProviderMessageID != "wamid.2" || got.Error != nil {
		t.Fatalf("message = %+v, want pending on attempt 2 with wamid.2 and no error", got)
	}
}

func TestDecidePermanentFailsWithMetasCodeAndTitle(t *testing.T) {
	r := newRig(t)
	r.sender.answer = failWith(&provider.Error{HTTPStatus: 400, Code: 131026, Title: "Message undeliverable", Class: provider.Permanent})
	m := r.accepted("m1", "5511987650001")
	if err := r.dispatch(m.ID); err != nil {
		t.Fatalf("err = %v, want nil: resending will not help", err)
	}
	got := r.message(m.ID)
	if got.Status != domain.StatusFailed || got.Attempts != 1 || !reflect.DeepEqual(got.Error, &domain.MessageError{Code: 131026, Title: "Message undeliverable"}) {
		t.Fatalf("message = %+v error %+v, want failed with 131026 Message undeliverable", got, got.Error)
	}
	if err := r.dispatch(m.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(r.sender.requests()); n != 1 {
		t.Errorf("provider called %d times, want 1: a failed message is never resent", n)
	}
	if n := r.notes.statuses(); !slices.Equal(n, []domain.Status{domain.StatusFailed}) {
		t.Errorf("notified %v, want [failed]", n)
	}
}

// TestDecideLostAnswerIsUnknownNeverResent is invariant 2: a send that
// may have reached Meta is marked unknown, and a redelivery sends nothing.
func TestDecideLostAnswerIsUnknownNeverResent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		title string
	}{
		{"no answer after the request left", &provider.Error{Title: "no answer after the request was sent", Class: provider.Unknown}, "no answer after the request was sent"},
		{"5xx after the request left", &provider.Error{HTTPStatus: 502, Title: "Bad Gateway", Class: provider.Unknown}, "Bad Gateway"},
		{"an error the provider did not classify", errors.New("connection reset by peer"), "connection reset by peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.sender.answer = failWith(tc.err)
			m := r.accepted("m1", "5511987650003")
			if err := r.dispatch(m.ID); err != nil {
				t.Fatalf("err = %v, want nil: a redelivery must not send again", err)
			}
			got := r.message(m.ID)
			if got.Status != domain.StatusUnknown || got.Error == nil || got.Error.Title != tc.title {
				t.Fatalf("message = %+v error %+v, want unknown with %q", got, got.Error, tc.title)
			}
			if want := now.Add(domain.DefaultUnknownWait); !got.ReconcileUntil.Equal(want) {
				t.Errorf("reconcile until %v, want %v: it waits for Meta's webhook, then sweep resends it once", got.ReconcileUntil, want)
			}
			if err := r.dispatch(m.ID); err != nil {
				t.Fatal(err)
			}
			if n := len(r.sender.requests()); n != 1 {
				t.Errorf("provider called %d times, want 1", n)
			}
			if n := r.notes.statuses(); !slices.Equal(n, []domain.Status{domain.StatusUnknown}) {
				t.Errorf("notified %v, want [unknown]", n)
			}
		})
	}
}

// TestDecideStaleOutcomeChangesNothing: when another writer moved the
// message while Meta was answering, dispatch's outcome is dropped: it
// neither overwrites the message nor asks for a redelivery.
func TestDecideStaleOutcomeChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		moves []domain.Status // what the other writer does during the call
	}{
		{"Meta's webhook outran the answer", []domain.Status{domain.StatusSent}},
		{"the webhook reported delivered", []domain.Status{domain.StatusDelivered}},
		{"sweep expired the lease", []domain.Status{domain.StatusUnknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			m := r.accepted("m1", "5511987650030")
			r.sender.answer = func(call int, req provider.SendRequest) (provider.Result, error) {
				for _, s := range tc.moves {
					if err := r.st.move(tenant, req.CallbackData, s, now); err != nil {
						t.Error(err)
					}
				}
				return acceptAll(call, req)
			}
			if err := r.dispatch(m.ID); err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			got := r.message(m.ID)
			want := append([]domain.Status{domain.StatusAccepted, domain.StatusDispatching}, tc.moves...)
			if got.Status != tc.moves[len(tc.moves)-1] || got.ProviderMessageID != "" || !slices.Equal(history(got), want) {
				t.Fatalf("message = %+v, want the other writer's %v untouched", got, want)
			}
			if n := r.notes.statuses(); len(n) != 0 {
				t.Errorf("dispatch notified %v for an outcome it did not write", n)
			}
		})
	}
}

// TestDecideOutcomeWriteFailureIsNotRetried: once Meta has the message,
// a failed outcome write never leads to a second send; the message keeps
// its lease for sweep to resolve.
func TestDecideOutcomeWriteFailureIsNotRetried(t *testing.T) {
	r := newRig(t)
	r.sender.answer = func(call int, req provider.SendRequest) (provider.Result, error) {
		r.st.mu.Lock()
		r.st.settleErr = errors.New("firestore unavailable")
		r.st.mu.Unlock()
		return acceptAll(call, req)
	}
	m := r.accepted("m1", "5511987650031")
	if err := r.dispatch(m.ID); err != nil {
		t.Fatalf("err = %v, want nil: a redelivery would send again", err)
	}
	got := r.message(m.ID)
	if got.Status != domain.StatusDispatching || got.Attempts != 1 || !got.LeaseUntil.Equal(now.Add(lease)) {
		t.Fatalf("message = %+v, want dispatching under the lease taken at %v", got, now)
	}
	if n := len(r.sender.requests()); n != 1 {
		t.Errorf("provider called %d times, want 1", n)
	}
}

// TestDecideOutcomeWrittenAfterTheDeliveryEnds: the push that carried the
// job is cut while Meta answers; the outcome is written all the same.
func TestDecideOutcomeWrittenAfterTheDeliveryEnds(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	r.sender.answer = func(call int, req provider.SendRequest) (provider.Result, error) {
		cancel()
		return acceptAll(call, req)
	}
	m := r.accepted("m1", "5511987650032")
	_ = r.d.Dispatch(ctx, queue.Job{Tenant: tenant, Message: m.ID})
	if got := r.message(m.ID); got.Status != domain.StatusPending || got.ProviderMessageID != "wamid.1" {
		t.Fatalf("message %s with wamid %q, want pending with wamid.1", got.Status, got.ProviderMessageID)
	}
}

// TestDecideChannelNotConnectedFailsUnsent: a message whose channel
// cannot send fails at once, without a call.
func TestDecideChannelNotConnectedFailsUnsent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		channel   string
		connected bool
	}{
		{"disconnected", channel, false},
		{"unknown", "gone", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.st.setConnected(tenant, channel, tc.connected)
			m := r.accepted("m1", "5511987650040")
			m.Channel = tc.channel
			r.st.put(m)
			if err := r.dispatch(m.ID); err != nil {
				t.Fatal(err)
			}
			if got := r.message(m.ID); got.Status != domain.StatusFailed || !reflect.DeepEqual(got.Error, &domain.MessageError{Title: "channel not connected"}) {
				t.Fatalf("message = %+v error %+v, want failed: channel not connected", got, got.Error)
			}
			if n := len(r.sender.requests()); n != 0 {
				t.Errorf("provider called %d times", n)
			}
		})
	}
}

// TestDecideMissingSecretIsRetriedUnsent: an access token that cannot be
// read now is no reason to fail the message.
func TestDecideMissingSecretIsRetriedUnsent(t *testing.T) {
	r := newRig(t)
	r.st.putChannel(tenant, domain.Channel{ID: channel, PhoneNumberID: "1015550000", SecretRef: "nowhere", Connected: true})
	m := r.accepted("m1", "5511987650041")
	if err := r.dispatch(m.ID); !errors.Is(err, dispatch.ErrRetry) {
		t.Fatalf("err = %v, want ErrRetry", err)
	}
	got := r.message(m.ID)
	if got.Status != domain.StatusAccepted || got.Attempts != 1 || got.Error == nil ||
		!strings.HasPrefix(got.Error.Title, "internal: access token of channel main") || strings.Contains(got.Error.Title, "EAAG") {
		t.Fatalf("message = %+v error %+v, want accepted again with the reason", got, got.Error)
	}
	if n := len(r.sender.requests()); n != 0 {
		t.Errorf("provider called %d times", n)
	}
}

func TestDecideTextIsSentAsText(t *testing.T) {
	r := newRig(t)
	m := domain.NewTextMessage("m1", tenant, channel, "5511987650050", "olá", now.Add(-time.Minute))
	r.st.put(m)
	if err := r.dispatch(m.ID); err != nil {
		t.Fatal(err)
	}
	reqs := r.sender.requests()
	if len(reqs) != 1 || reqs[0].Text != "olá" || !reflect.DeepEqual(reqs[0].Template, domain.TemplateMessage{}) {
		t.Fatalf("provider got %+v, want one text send", reqs)
	}
	if got := r.message(m.ID); got.Status != domain.StatusPending {
		t.Fatalf("message %s, want pending", got.Status)
	}
}
