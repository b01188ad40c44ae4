package dispatch_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// accepted writes an accepted message to phone, as the accept path does.
func accepted(t *testing.T, e *apptest.Env, phone string) domain.Message {
	t.Helper()
	return acceptedInto(t, e, phone, nil)
}

// acceptedInto is accepted, admitted into conversation conv (nil: none
// was open).
func acceptedInto(t *testing.T, e *apptest.Env, phone string, conv *domain.AdmittedConversation) domain.Message {
	t.Helper()
	tpl, err := e.Catalog.Template(context.Background(), e.Tenant, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := domain.Render(tpl, map[string]string{"1": "Maria", "2": "templategw"})
	if err != nil {
		t.Fatal(err)
	}
	m := domain.NewMessage(store.NewID(), e.Tenant, "main", phone, tpl.ID, rendered, time.Now().UTC())
	m.Admitted = conv
	if _, err := e.Store.Accept(context.Background(), store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: m.CreatedAt}}); err != nil {
		t.Fatal(err)
	}
	return m
}

func newDispatcher(e *apptest.Env, p dispatch.Sender) *dispatch.Dispatcher {
	return dispatch.New(e.Store, e.Catalog, p, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
}

func load(t *testing.T, e *apptest.Env, id string) domain.Message {
	t.Helper()
	m, err := e.Store.Message(context.Background(), e.Tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func statuses(m domain.Message) []domain.Status {
	var out []domain.Status
	for _, h := range m.History {
		out = append(out, h.Status)
	}
	return out
}

func TestAcceptedByMetaBecomesPending(t *testing.T) {
	e := apptest.New(t)
	m := accepted(t, e, "5511987650000")
	if err := newDispatcher(e, e.Provider).Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	got := load(t, e, m.ID)
	if got.Status != domain.StatusPending || got.Attempts != 1 || len(got.ProviderMessageID) < 6 || got.ProviderMessageID[:6] != "wamid." {
		t.Fatalf("message = %+v", got)
	}
	if want := []domain.Status{"accepted", "dispatching", "pending"}; !equal(statuses(got), want) {
		t.Errorf("history = %v, want %v", statuses(got), want)
	}
	if n := e.Sandbox.CountByCallback(m.ID); n != 1 {
		t.Errorf("sandbox saw %d calls carrying the message id, want 1", n)
	}
	if id, err := e.Store.MessageOfWAMID(context.Background(), e.Tenant, got.ProviderMessageID); err != nil || id != m.ID {
		t.Errorf("message of its wamid = %q, %v", id, err)
	}
}

func TestOpenConversationBecomesSent(t *testing.T) {
	e := apptest.New(t)
	phone := "5511987650011"
	conv := domain.Conversation{ID: "conv-1", Channel: "main", Phone: phone, ExpiresAt: time.Now().Add(time.Hour)}
	if err := e.Store.PutConversation(context.Background(), e.Tenant, conv); err != nil {
		t.Fatal(err)
	}
	// Admission found the conversation open: the message says so.
	m := acceptedInto(t, e, phone, &domain.AdmittedConversation{ID: conv.ID, ExpiresAt: conv.ExpiresAt})
	if err := newDispatcher(e, e.Provider).Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	if got := load(t, e, m.ID); got.Status != domain.StatusSent || got.ConversationID != "conv-1" {
		t.Fatalf("status %s conversation %q, want sent in conv-1", got.Status, got.ConversationID)
	}
}

func TestPermanentFailure(t *testing.T) {
	e := apptest.New(t)
	m := accepted(t, e, "5511987650001") // sandbox: 131026 undeliverable
	if err := newDispatcher(e, e.Provider).Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	got := load(t, e, m.ID)
	if got.Status != domain.StatusFailed || got.Error == nil || got.Error.Code != 131026 || got.Error.Title == "" {
		t.Fatalf("message = %+v error %+v", got, got.Error)
	}
}

// TestThroughputRefusalGoesBackToAcceptedUncounted: the sandbox's 130429
// puts the message back to accepted for Pub/Sub's redelivery, however
// often, without using an attempt (DESIGN §7.5).
func TestThroughputRefusalGoesBackToAcceptedUncounted(t *testing.T) {
	e := apptest.New(t)
	m := accepted(t, e, "5511987650004") // sandbox: 429 130429 every time
	d := newDispatcher(e, e.Provider)
	for i := 1; i <= 4; i++ {
		err := d.Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID})
		if !errors.Is(err, dispatch.ErrThrottled) {
			t.Fatalf("delivery %d: err = %v, want ErrThrottled so Pub/Sub redelivers", i, err)
		}
		if got := load(t, e, m.ID); got.Status != domain.StatusAccepted || got.Attempts != 0 || got.Error == nil || got.Error.Code != 130429 {
			t.Fatalf("delivery %d: status %s attempts %d error %+v", i, got.Status, got.Attempts, got.Error)
		}
	}
	if n := e.Sandbox.CountByCallback(m.ID); n != 4 {
		t.Errorf("sandbox saw %d calls, want 4", n)
	}
}

// TestServerErrorIsUnknownNotResent: Meta's 5xx may come after it took
// the message, so the message is unknown, waiting for Meta's webhook,
// and a redelivery sends nothing.
func TestServerErrorIsUnknownNotResent(t *testing.T) {
	for _, phone := range []string{"5511987650002", "5511987650008"} { // sandbox: 500 every time, 503 once
		e := apptest.New(t)
		m := accepted(t, e, phone)
		d := newDispatcher(e, e.Provider)
		for range 2 {
			if err := d.Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID}); err != nil {
				t.Fatalf("…%s: err = %v, want nil: a redelivery must not send again", phone[len(phone)-4:], err)
			}
		}
		got := load(t, e, m.ID)
		if got.Status != domain.StatusUnknown || got.Error == nil || got.Error.Code != 131000 || got.ReconcileUntil.IsZero() {
			t.Fatalf("…%s: message %+v, want unknown with 131000, waiting for the webhook", phone[len(phone)-4:], got)
		}
		if n := e.Sandbox.CountByCallback(m.ID); n != 1 {
			t.Errorf("…%s: sandbox saw %d calls, want 1", phone[len(phone)-4:], n)
		}
	}
}

func TestTimeoutAfterRequestLeftIsUnknownAndNeverResent(t *testing.T) {
	e := apptest.New(t)
	m := accepted(t, e, "5511987650003") // sandbox: accepts, answers too late
	p := provider.New(provider.Config{BaseURL: e.SandboxURL, Version: "v23.0", Timeout: 300 * time.Millisecond}, nil)
	d := newDispatcher(e, p)
	if err := d.Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	if got := load(t, e, m.ID); got.Status != domain.StatusUnknown {
		t.Fatalf("status %s, want unknown", got.Status)
	}
	// A redelivery must not send again.
	if err := d.Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	if n := e.Sandbox.CountByCallback(m.ID); n != 1 {
		t.Errorf("sandbox saw %d calls, want 1", n)
	}
}

// TestRevokedTokenHoldsChannel: Meta refuses the number's token (190):
// the message is held, not failed, and the channel records the hold and
// stays connected.
func TestRevokedTokenHoldsChannel(t *testing.T) {
	e := apptest.New(t)
	if err := e.Sandbox.RevokeToken(demo.PhoneNumberID, true); err != nil {
		t.Fatal(err)
	}
	m := accepted(t, e, "5511987650007")
	if err := newDispatcher(e, e.Provider).Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	got := load(t, e, m.ID)
	if got.Status != domain.StatusHeld || got.Error == nil || got.Error.Code != 190 {
		t.Fatalf("message = %+v, want held with 190", got)
	}
	chs, err := e.Store.Channels(context.Background(), e.Tenant)
	if err != nil || len(chs) != 1 || !chs[0].Connected || chs[0].Hold == nil || chs[0].Hold.Code != 190 {
		t.Fatalf("channel %+v (%v), want connected and held by 190", chs, err)
	}
}

// TestConcurrentDuplicateDeliveries is invariant 2: the same message
// delivered 20 times at once reaches the provider exactly once.
func TestConcurrentDuplicateDeliveries(t *testing.T) {
	e := apptest.New(t)
	m := accepted(t, e, "5511987650020")
	d := newDispatcher(e, e.Provider)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.Dispatch(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("delivery: %v", err)
		}
	}
	if n := e.Sandbox.CountByCallback(m.ID); n != 1 {
		t.Fatalf("sandbox saw %d calls for one message, want exactly 1", n)
	}
	if got := load(t, e, m.ID); got.Status != domain.StatusPending || got.Attempts != 1 {
		t.Fatalf("status %s attempts %d", got.Status, got.Attempts)
	}
}

func equal(a, b []domain.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hangUp is a provider whose caller goes away while the call is under way:
// the send reaches Meta, then the delivery's context ends (Pub/Sub gave up
// on the push, or its connection dropped) before dispatch writes the
// outcome.
type hangUp struct {
	dispatch.Sender
	cancel context.CancelFunc
}

func (h hangUp) Send(ctx context.Context, r provider.SendRequest) (provider.Result, error) {
	res, err := h.Sender.Send(ctx, r)
	h.cancel()
	return res, err
}

// TestOutcomeWrittenAfterTheDeliveryEnds: once Meta has the message its
// outcome is recorded even if the push that carried the job was cut,
// rather than left dispatching for sweep to call unknown.
func TestOutcomeWrittenAfterTheDeliveryEnds(t *testing.T) {
	e := apptest.New(t)
	m := accepted(t, e, "5511987650030")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = newDispatcher(e, hangUp{e.Provider, cancel}).Dispatch(ctx, queue.Job{Tenant: e.Tenant, Message: m.ID})
	got := load(t, e, m.ID)
	if got.Status != domain.StatusPending || got.ProviderMessageID == "" {
		t.Fatalf("message %s with wamid %q, want pending with Meta's wamid", got.Status, got.ProviderMessageID)
	}
	if n := e.Sandbox.CountByCallback(m.ID); n != 1 {
		t.Errorf("sandbox saw %d calls, want 1", n)
	}
}
