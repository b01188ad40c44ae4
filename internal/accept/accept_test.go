package accept_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// These tests run the admission core against the in-memory store: no
// emulator, milliseconds. The Firestore store's own tests prove it keeps
// the same promises.

var tok = domain.Token{Tenant: demo.TenantID, Integration: "demo", DefaultChannel: demo.ChannelID}

type fixture struct {
	svc   *accept.Service
	store *memory.Store
	now   time.Time
}

func newFixture(t *testing.T, limit int) *fixture {
	src := memory.NewSource()
	src.Limit = limit
	f := &fixture{store: memory.NewStore(t), now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	f.svc = accept.New(catalog.New(src, 0), f.store, memory.Publisher{}, accept.Options{Wait: -1, Now: func() time.Time { return f.now }})
	return f
}

func welcome(phone string) accept.Request {
	return accept.Request{TemplateID: "welcome", Phone: phone, Params: map[string]string{"1": "Maria", "2": "templategw"}}
}

func render(r accept.Result) accept.Answer {
	b, _ := json.Marshal(map[string]string{"message_id": r.MessageID, "conversation_id": r.ConversationID})
	return accept.Answer{Code: http.StatusAccepted, Body: b}
}

func phone(i int) string { return fmt.Sprintf("55119876%05d", i) }

// TestLimitHoldsUnderConcurrency: with K conversations left, of many
// concurrent sends to new contacts exactly K are admitted.
func TestLimitHoldsUnderConcurrency(t *testing.T) {
	f := newFixture(t, 3)
	for i := range 2 {
		if _, err := f.svc.Send(context.Background(), tok, welcome(phone(i)), nil, render); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	var admitted, refused int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := f.svc.Send(context.Background(), tok, welcome(phone(100+i)), nil, render)
			mu.Lock()
			defer mu.Unlock()
			switch domain.KindOf(err) {
			case domain.KindLimitReached:
				refused++
			default:
				if err != nil {
					t.Errorf("send: %v", err)
				}
				admitted++
			}
		})
	}
	wg.Wait()
	if admitted != 1 || refused != 19 {
		t.Errorf("admitted %d, refused %d; want 1 and 19", admitted, refused)
	}
	if n := f.store.Used(demo.TenantID, domain.MonthKey(f.now)); n != 3 {
		t.Errorf("month counts %d conversations, want 3", n)
	}
}

// TestReservedContactNeverCountsTwice: sends to a contact with an open or
// reserved conversation pass at the limit, and count nothing more.
func TestReservedContactNeverCountsTwice(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	for range 3 {
		if _, err := f.svc.Send(ctx, tok, welcome(phone(1)), nil, render); err != nil {
			t.Fatalf("send to the reserved contact: %v", err)
		}
	}
	if _, err := f.svc.Send(ctx, tok, welcome(phone(2)), nil, render); domain.KindOf(err) != domain.KindLimitReached {
		t.Errorf("a new contact past the limit: %v, want conversation limit reached", err)
	}
	f.store.PutConversation(demo.TenantID, domain.Conversation{ID: "c1", Channel: demo.ChannelID, Phone: phone(3), ExpiresAt: f.now.Add(time.Hour)})
	if _, err := f.svc.Send(ctx, tok, welcome(phone(3)), nil, render); err != nil {
		t.Errorf("a contact with an open conversation at the limit: %v", err)
	}
	if n := f.store.Used(demo.TenantID, domain.MonthKey(f.now)); n != 1 {
		t.Errorf("month counts %d, want 1", n)
	}
	// A reservation that lapsed counts again.
	f.now = f.now.Add(domain.ReservationTTL + time.Minute)
	if _, err := f.svc.Send(ctx, tok, welcome(phone(1)), nil, render); domain.KindOf(err) != domain.KindLimitReached {
		t.Errorf("a lapsed reservation at the limit: %v, want conversation limit reached", err)
	}
}

// TestUnlimitedPlanReservesNothing: without a limit nothing is counted at
// admission.
func TestUnlimitedPlanReservesNothing(t *testing.T) {
	f := newFixture(t, 0)
	for i := range 5 {
		if _, err := f.svc.Send(context.Background(), tok, welcome(phone(i)), nil, render); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.store.Used(demo.TenantID, domain.MonthKey(f.now)); n != 0 {
		t.Errorf("month counts %d, want 0", n)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	idem := &accept.Idempotency{Key: "k1", RequestHash: "h1"}
	first, err := f.svc.Send(ctx, tok, welcome(phone(1)), idem, render)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.Send(ctx, tok, welcome(phone(1)), idem, render)
	if err != nil || string(again.Body) != string(first.Body) {
		t.Errorf("replay: %s %v, want %s", again.Body, err, first.Body)
	}
	if len(f.store.Messages) != 1 {
		t.Errorf("%d messages stored, want 1", len(f.store.Messages))
	}
	_, err = f.svc.Send(ctx, tok, welcome(phone(2)), &accept.Idempotency{Key: "k1", RequestHash: "h2"}, render)
	if domain.KindOf(err) != domain.KindKeyReused {
		t.Errorf("same key, other request: %v, want KindKeyReused", err)
	}
}

// TestIdempotencyInFlight: a key another request holds (on any instance:
// the claim is in the store) is refused until its lease runs out; then a
// retry that finds nothing stored takes it over.
func TestIdempotencyInFlight(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	if _, claimed, err := f.svc.Keys().Claim(ctx, demo.TenantID, "k", "h"); !claimed || err != nil {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	_, err := f.svc.Send(ctx, tok, welcome(phone(1)), &accept.Idempotency{Key: "k", RequestHash: "h"}, render)
	if domain.KindOf(err) != domain.KindInFlight {
		t.Errorf("while in flight: %v, want KindInFlight", err)
	}
	f.now = f.now.Add(accept.KeyLease + time.Second)
	if _, err := f.svc.Send(ctx, tok, welcome(phone(1)), &accept.Idempotency{Key: "k", RequestHash: "h"}, render); err != nil {
		t.Errorf("after the lease: %v", err)
	}
}

// TestRefusalLeavesTheKeyFree: a validation failure is not stored under
// the key, so the corrected request goes through under it.
func TestRefusalLeavesTheKeyFree(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	idem := &accept.Idempotency{Key: "k", RequestHash: "h"}
	bad := welcome(phone(1))
	bad.Params = nil
	if _, err := f.svc.Send(ctx, tok, bad, idem, render); domain.KindOf(err) != domain.KindParamsMissing {
		t.Fatalf("missing params: %v", err)
	}
	if _, err := f.svc.Send(ctx, tok, welcome(phone(1)), idem, render); err != nil {
		t.Errorf("the corrected request under the same key: %v", err)
	}
}

func TestKeyVerdict(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name string
		rec  store.IdempotencyRecord
		hash string
		want accept.KeyVerdict
	}{
		{"answered, same request", store.IdempotencyRecord{RequestHash: "h", Code: 202, State: store.KeyDone}, "h", accept.KeyReplay},
		{"answered, other request", store.IdempotencyRecord{RequestHash: "h", Code: 202}, "x", accept.KeyReused},
		{"hash not known yet", store.IdempotencyRecord{RequestHash: "h", Batch: "b"}, "", accept.KeyReplay},
		{"in flight", store.IdempotencyRecord{RequestHash: "h", State: store.KeyInFlight, LeaseUntil: now.Add(time.Minute)}, "h", accept.KeyBusy},
		{"stored, still waiting", store.IdempotencyRecord{RequestHash: "h", MessageID: "m", Code: 202, State: store.KeyInFlight, LeaseUntil: now.Add(time.Minute)}, "h", accept.KeyBusy},
		{"stored, lease over", store.IdempotencyRecord{RequestHash: "h", MessageID: "m", Code: 202, State: store.KeyInFlight, LeaseUntil: now.Add(-time.Minute)}, "h", accept.KeyReplay},
		{"died holding it", store.IdempotencyRecord{RequestHash: "h", State: store.KeyInFlight, LeaseUntil: now.Add(-time.Minute)}, "h", accept.KeyTakeOver},
	} {
		if got := accept.Verdict(c.rec, c.hash, now); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTextOnlyInsideTheWindow: a free-form text is admitted only inside
// the contact's service window, and answers the open conversation.
func TestTextOnlyInsideTheWindow(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	req := accept.Request{Text: "hello", Phone: phone(1), ChannelField: "channelPhoneNumber"}
	if _, err := f.svc.Send(ctx, tok, req, nil, render); domain.KindOf(err) != domain.KindWindowClosed {
		t.Errorf("no window: %v, want KindWindowClosed", err)
	}
	f.store.PutContact(demo.TenantID, domain.Contact{Phone: phone(1), Windows: map[string]time.Time{demo.ChannelID: f.now.Add(time.Hour)}})
	f.store.PutConversation(demo.TenantID, domain.Conversation{ID: "c1", Channel: demo.ChannelID, Phone: phone(1), ExpiresAt: f.now.Add(time.Hour)})
	ans, err := f.svc.Send(ctx, tok, req, nil, render)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	_ = json.Unmarshal(ans.Body, &got)
	if got["conversation_id"] != "c1" {
		t.Errorf("answer %s, want conversation c1", ans.Body)
	}
	req.Channel = "nope"
	if _, err := f.svc.Send(ctx, tok, req, nil, render); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("unknown channel: %v, want KindInvalid naming channelPhoneNumber", err)
	}
}

// TestMarketingOptOut: a contact who opted out of marketing gets no
// MARKETING template; UTILITY ones still go.
func TestMarketingOptOut(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	f.store.PutContact(demo.TenantID, domain.Contact{Phone: phone(1), Marketing: domain.OptOut{Out: true, At: f.now, Source: domain.OptOutByKeyword}})
	promo := accept.Request{TemplateID: "promo_image", Phone: phone(1), Params: map[string]string{"header": "https://example.com/a.png", "1": "Ana", "button_0": "sale"}}
	_, err := f.svc.Send(ctx, tok, promo, nil, render)
	if domain.KindOf(err) != domain.KindInvalid || !strings.Contains(err.Error(), "opted out") {
		t.Errorf("marketing to an opted-out contact: %v", err)
	}
	if _, err := f.svc.Send(ctx, tok, welcome(phone(1)), nil, render); err != nil {
		t.Errorf("utility to an opted-out contact: %v", err)
	}
	promo.Phone = phone(2)
	if _, err := f.svc.Send(ctx, tok, promo, nil, render); err != nil {
		t.Errorf("marketing to a contact who did not opt out: %v", err)
	}
}

// TestMessagesExpireAfterTheTenantsRetention: a message carries the
// expireAt Firestore's TTL removes it by, the tenant's retention after it
// was made (90 days unless the tenant says otherwise).
func TestMessagesExpireAfterTheTenantsRetention(t *testing.T) {
	f := newFixture(t, 0)
	if _, err := f.svc.Send(context.Background(), tok, welcome(phone(1)), nil, render); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.store.Messages {
		if want := f.now.AddDate(0, 0, domain.DefaultRetentionDays); !m.ExpireAt.Equal(want) {
			t.Errorf("expireAt %s, want %s", m.ExpireAt, want)
		}
	}
	keep, days := domain.Tenant{}, 0
	keep.RetentionDays = &days
	if at := keep.ExpireAt(f.now); !at.IsZero() {
		t.Errorf("a tenant that keeps messages: expireAt %s, want none", at)
	}
	seven := 7
	if at := (domain.Tenant{RetentionDays: &seven}).ExpireAt(f.now); !at.Equal(f.now.AddDate(0, 0, 7)) {
		t.Errorf("7 days: expireAt %s", at)
	}
}

// TestTheContactIsWrittenOnlyWhenItChanges: a repeat send that tells the
// stored contact nothing new writes no contact; a new name does.
func TestTheContactIsWrittenOnlyWhenItChanges(t *testing.T) {
	f := newFixture(t, 0)
	send := func(first string) {
		t.Helper()
		req := welcome(phone(1))
		req.FirstName = first
		if _, err := f.svc.Send(context.Background(), tok, req, nil, render); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		first  string
		writes int
	}{
		{"Maria", 1}, // a new contact
		{"Maria", 1}, // nothing new
		{"", 1},      // a send without a name keeps the stored one
		{"Mariana", 2},
	} {
		send(step.first)
		if f.store.ContactWrites != step.writes {
			t.Fatalf("after a send with first name %q: %d contact writes, want %d", step.first, f.store.ContactWrites, step.writes)
		}
	}
	c, err := f.store.Contact(context.Background(), demo.TenantID, phone(1))
	if err != nil || c.FirstName != "Mariana" {
		t.Fatalf("contact = %+v, %v; want first name Mariana", c, err)
	}
}

// TestASendIntoAnOpenConversationSaysSo: the message carries the
// conversation admission found open, for dispatch to send it into
// without reading the conversation again.
func TestASendIntoAnOpenConversationSaysSo(t *testing.T) {
	f := newFixture(t, 0)
	f.store.PutConversation(demo.TenantID, domain.Conversation{ID: "conv-1", Channel: demo.ChannelID, Phone: phone(2), ExpiresAt: f.now.Add(time.Hour)})
	for _, p := range []string{phone(2), phone(3)} {
		if _, err := f.svc.Send(context.Background(), tok, welcome(p), nil, render); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range f.store.Messages {
		switch {
		case m.PhoneNumber == phone(2) && (m.Admitted == nil || m.Admitted.ID != "conv-1"):
			t.Errorf("a send into conv-1 carries %+v", m.Admitted)
		case m.PhoneNumber == phone(3) && m.Admitted != nil:
			t.Errorf("a send with no open conversation carries %+v", m.Admitted)
		}
	}
}
