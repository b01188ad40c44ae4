package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/webhook"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

const (
	appSecret   = "test-app-secret"
	verifyToken = "test-verify-token"
)

// recorder keeps the callbacks the handler asks for: status changes, and
// received messages with the URL they go to.
type recorder struct {
	got      []domain.Message
	received []receivedNote
}

type receivedNote struct {
	tenant, url string
	in          domain.InboundMessage
}

func (r *recorder) Notify(_ context.Context, m domain.Message) { r.got = append(r.got, m) }

func (r *recorder) NotifyReceived(_ context.Context, tenant, url string, in domain.InboundMessage) {
	r.received = append(r.received, receivedNote{tenant, url, in})
}

type fixture struct {
	*apptest.Env
	h     http.Handler
	notes *recorder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureLimited(t, 0)
}

// newFixtureLimited is newFixture with the tenant's plan limiting its
// conversations to limit a month (0: unlimited), set before anything
// caches the tenant: only a limited plan counts the conversations opened.
func newFixtureLimited(t *testing.T, limit int) *fixture {
	t.Helper()
	e := apptest.New(t)
	if limit > 0 {
		if _, err := e.Store.UpdateTenant(context.Background(), e.Tenant, store.TenantChange{ConversationLimit: &limit}); err != nil {
			t.Fatal(err)
		}
	}
	n := &recorder{}
	h := webhook.New(webhook.Config{VerifyToken: verifyToken, AppSecret: appSecret}, e.Catalog, e.Store, n).Handler()
	return &fixture{Env: e, h: h, notes: n}
}

// pending sends one message through the real dispatch and the sandbox, so
// it is pending with a wamid, as before any webhook.
func (f *fixture) pending(t *testing.T, phone string) domain.Message {
	t.Helper()
	ctx := context.Background()
	tpl, err := f.Catalog.Template(ctx, f.Tenant, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := domain.Render(tpl, map[string]string{"1": "Maria", "2": "templategw"})
	if err != nil {
		t.Fatal(err)
	}
	m := domain.NewMessage(store.NewID(), f.Tenant, demo.ChannelID, phone, tpl.ID, rendered, time.Now().UTC())
	if _, err := f.Store.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: m.CreatedAt}}); err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(f.Store, f.Catalog, f.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	if err := d.Dispatch(ctx, queue.Job{Tenant: f.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	return f.load(t, m.ID)
}

func (f *fixture) load(t *testing.T, id string) domain.Message {
	t.Helper()
	m, err := f.Store.Message(context.Background(), f.Tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// statusBody is a Meta status webhook for the demo number.
func statusBody(wamid, status string, at time.Time, extra map[string]any) string {
	st := map[string]any{"id": wamid, "status": status, "timestamp": strconv.FormatInt(at.Unix(), 10), "recipient_id": "5511987654321"}
	for k, v := range extra {
		st[k] = v
	}
	return envelope(map[string]any{"statuses": []any{st}})
}

func envelope(value map[string]any) string {
	value["messaging_product"] = "whatsapp"
	if _, ok := value["metadata"]; !ok {
		value["metadata"] = map[string]any{"display_phone_number": demo.DisplayNumber, "phone_number_id": demo.PhoneNumberID}
	}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry":  []any{map[string]any{"id": demo.WABAID, "changes": []any{map[string]any{"field": "messages", "value": value}}}},
	})
	return string(b)
}

func (f *fixture) post(t *testing.T, body, signature string) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if signature != "" {
		r.Header.Set(webhook.SignatureHeader, signature)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Code
}

func (f *fixture) postSigned(t *testing.T, body string) {
	t.Helper()
	if code := f.post(t, body, webhook.Sign(appSecret, []byte(body))); code != http.StatusOK {
		t.Fatalf("webhook answered %d, want 200", code)
	}
}

func statuses(m domain.Message) string {
	var s []string
	for _, h := range m.History {
		s = append(s, string(h.Status))
	}
	return strings.Join(s, ",")
}

func TestVerificationHandshake(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		query string
		code  int
		body  string
	}{
		{"hub.mode=subscribe&hub.verify_token=" + verifyToken + "&hub.challenge=1158201444", 200, "1158201444"},
		{"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", 403, ""},
		{"hub.mode=unsubscribe&hub.verify_token=" + verifyToken + "&hub.challenge=1", 403, ""},
		{"hub.challenge=1", 403, ""},
	} {
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/?"+tc.query, nil))
		if w.Code != tc.code || (tc.code == 200 && w.Body.String() != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.query, w.Code, w.Body.String(), tc.code, tc.body)
		}
	}
}

func TestStatusesMoveForwardOnlyWhateverTheOrder(t *testing.T) {
	f := newFixtureLimited(t, 1000)
	m := f.pending(t, "5511987650100")
	t0 := time.Now().Add(time.Second)
	// Meta's own conversation object (gone since v24.0) plays no part.
	metaConv := map[string]any{"conversation": map[string]any{"id": "meta-conv", "origin": map[string]any{"type": "utility"}}}
	read := statusBody(m.ProviderMessageID, "read", t0.Add(2*time.Second), nil)
	// read first, then the late sent and delivered, then every one
	// replayed.
	for _, b := range []string{read, statusBody(m.ProviderMessageID, "sent", t0, metaConv), statusBody(m.ProviderMessageID, "delivered", t0.Add(time.Second), nil), read, read} {
		f.postSigned(t, b)
	}
	got := f.load(t, m.ID)
	if got.Status != domain.StatusRead || statuses(got) != "accepted,dispatching,pending,read" {
		t.Fatalf("status %s history %s, want read with no step backwards", got.Status, statuses(got))
	}
	c, err := f.Store.Conversation(context.Background(), f.Tenant, demo.ChannelID, m.PhoneNumber)
	if err != nil || c.ID == "" || c.ID == "meta-conv" || got.ConversationID != c.ID || !c.Open(time.Now()) {
		t.Errorf("conversation %+v (%v), message's %q: want the gateway's own, open", c, err, got.ConversationID)
	}
	if len(f.notes.got) != 1 || f.notes.got[0].Status != domain.StatusRead {
		t.Errorf("callbacks %d, want exactly one (read)", len(f.notes.got))
	}
	if n, err := f.Store.ConversationsOpened(context.Background(), f.Tenant, domain.MonthKey(t0)); err != nil || n != 1 {
		t.Errorf("conversations counted %d (%v), want 1", n, err)
	}
}

// TestSameConversationIsCountedOnce: a second send into the open
// conversation joins it; it neither counts again nor extends it.
func TestSameConversationIsCountedOnce(t *testing.T) {
	f := newFixtureLimited(t, 1000)
	phone := "5511987650101"
	t0 := time.Now().Truncate(time.Second)
	a, b := f.pending(t, phone), f.pending(t, phone)
	f.postSigned(t, statusBody(a.ProviderMessageID, "sent", t0, nil))
	f.postSigned(t, statusBody(b.ProviderMessageID, "sent", t0.Add(time.Hour), nil))
	if n, _ := f.Store.ConversationsOpened(context.Background(), f.Tenant, domain.MonthKey(t0)); n != 1 {
		t.Errorf("counted %d conversations, want 1", n)
	}
	c, _ := f.Store.Conversation(context.Background(), f.Tenant, demo.ChannelID, phone)
	if !c.ExpiresAt.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("conversation expires %s, want 24 h after the first sent, %s", c.ExpiresAt, t0.Add(24*time.Hour))
	}
	if ga, gb := f.load(t, a.ID), f.load(t, b.ID); ga.ConversationID != c.ID || gb.ConversationID != c.ID {
		t.Errorf("messages in conversations %q and %q, want both in %q", ga.ConversationID, gb.ConversationID, c.ID)
	}
}

// TestConversationLastsTheTenantsPeriod: the period is a tenant setting;
// a plan without a conversation limit keeps no count of them.
func TestConversationLastsTheTenantsPeriod(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ten, err := f.Store.Tenant(ctx, f.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	ten.ConversationHours = 72
	if err := f.Store.PutTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	phone := "5511987650109"
	m := f.pending(t, phone)
	t0 := time.Now().Truncate(time.Second)
	f.postSigned(t, statusBody(m.ProviderMessageID, "sent", t0, nil))
	c, _ := f.Store.Conversation(ctx, f.Tenant, demo.ChannelID, phone)
	if !c.ExpiresAt.Equal(t0.Add(72 * time.Hour)) {
		t.Errorf("conversation expires %s, want %s", c.ExpiresAt, t0.Add(72*time.Hour))
	}
	if n, err := f.Store.ConversationsOpened(ctx, f.Tenant, domain.MonthKey(t0)); err != nil || n != 0 {
		t.Errorf("an unlimited plan counted %d conversations (%v), want none", n, err)
	}
}

func TestFailedStatusKeepsMetaCodeAndTitle(t *testing.T) {
	f := newFixture(t)
	m := f.pending(t, "5511987650102")
	f.postSigned(t, statusBody(m.ProviderMessageID, "failed", time.Now(), map[string]any{
		"errors": []any{map[string]any{"code": 131026, "title": "Message undeliverable"}},
	}))
	got := f.load(t, m.ID)
	if got.Status != domain.StatusFailed || got.Error == nil || got.Error.Code != 131026 || got.Error.Title != "Message undeliverable" {
		t.Fatalf("message %s error %+v", got.Status, got.Error)
	}
	f.postSigned(t, statusBody(m.ProviderMessageID, "delivered", time.Now(), nil))
	if got := f.load(t, m.ID); got.Status != domain.StatusFailed {
		t.Errorf("a failed message moved to %s", got.Status)
	}
}

func TestBadSignatureChangesNothing(t *testing.T) {
	f := newFixture(t)
	m := f.pending(t, "5511987650103")
	body := statusBody(m.ProviderMessageID, "read", time.Now(), nil)
	for name, sig := range map[string]string{
		"missing":      "",
		"wrong secret": webhook.Sign("other-secret", []byte(body)),
		"other body":   webhook.Sign(appSecret, []byte(body+" ")),
		"not hex":      "sha256=zz",
		"no prefix":    strings.TrimPrefix(webhook.Sign(appSecret, []byte(body)), "sha256="),
	} {
		if code := f.post(t, body, sig); code != http.StatusUnauthorized {
			t.Errorf("%s signature: %d, want 401", name, code)
		}
	}
	if got := f.load(t, m.ID); got.Status != domain.StatusPending || len(got.History) != len(m.History) || len(f.notes.got) != 0 {
		t.Errorf("an unsigned webhook changed the message: %s %s", got.Status, statuses(got))
	}
}

func TestUnknownIdsAreAcknowledgedAndMalformedIs400(t *testing.T) {
	f := newFixture(t)
	for name, body := range map[string]string{
		"unknown phone number id": envelope(map[string]any{"metadata": map[string]any{"phone_number_id": "999"}, "statuses": []any{map[string]any{"id": "wamid.x", "status": "read"}}}),
		"unknown wamid":           statusBody("wamid.nobody", "read", time.Now(), nil),
		"unknown callback data":   statusBody("wamid.nobody", "read", time.Now(), map[string]any{"biz_opaque_callback_data": "no-such-message"}),
		"untracked status":        statusBody("wamid.nobody", "deleted", time.Now(), nil),
		"other field":             `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_update","value":{}}]}]}`,
		"other object":            `{"object":"page","entry":[]}`,
		"out-of-band errors":      envelope(map[string]any{"errors": []any{map[string]any{"code": 131000, "title": "Something went wrong"}}}),
		"unreadable timestamp":    statusBody("wamid.x", "read", time.Now(), map[string]any{"timestamp": "yesterday"}),
		"unreadable status":       envelope(map[string]any{"statuses": []any{map[string]any{"id": 1}}}),
		"unreadable value":        `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":5}]}]}`,
	} {
		if code := f.post(t, body, webhook.Sign(appSecret, []byte(body))); code != http.StatusOK {
			t.Errorf("%s: %d, want 200", name, code)
		}
	}
	for name, body := range map[string]string{
		"not JSON":       "hello",
		"trailing data":  `{"object":"whatsapp_business_account"} {}`,
		"no object":      `{"entry":[]}`,
		"wrong type":     `{"object":"whatsapp_business_account","entry":{"id":1}}`,
		"empty":          "",
		"array of bytes": `[1,2,3]`,
	} {
		if code := f.post(t, body, webhook.Sign(appSecret, []byte(body))); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
}

func TestCallbackDataReconcilesAnUnknownAttempt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.pending(t, "5511987650104")
	// An unknown attempt never learnt its wamid: forget it, as after a
	// timeout once the request left.
	u := domain.NewMessage(store.NewID(), f.Tenant, demo.ChannelID, "5511987650105", m.TemplateID, m.Template, time.Now().UTC())
	if _, err := f.Store.Accept(ctx, store.Acceptance{Message: u, Contact: domain.Contact{Phone: u.PhoneNumber, UpdatedAt: u.CreatedAt}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.Claim(ctx, f.Tenant, u.ID, time.Now().Add(-2*time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.ExpireLease(ctx, f.Tenant, u.ID, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	f.postSigned(t, statusBody("wamid.late", "delivered", time.Now(), map[string]any{"biz_opaque_callback_data": u.ID}))
	got := f.load(t, u.ID)
	if got.Status != domain.StatusDelivered || got.ProviderMessageID != "wamid.late" || got.Error != nil {
		t.Fatalf("unknown message after its webhook: %s wamid %q error %+v", got.Status, got.ProviderMessageID, got.Error)
	}
	if id, err := f.Store.MessageOfWAMID(ctx, f.Tenant, "wamid.late"); err != nil || id != u.ID {
		t.Errorf("message of its wamid %q, %v", id, err)
	}
	// Another send's status echoing this id never moves it.
	f.postSigned(t, statusBody("wamid.other", "read", time.Now(), map[string]any{"biz_opaque_callback_data": u.ID}))
	if got := f.load(t, u.ID); got.Status != domain.StatusDelivered {
		t.Errorf("status %s after another send's webhook", got.Status)
	}
}

func TestAnotherTenantsWamidIsIgnored(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.pending(t, "5511987650106")
	// Another tenant's number, with a message under the same id as this
	// tenant's: a status for this tenant's wamid arriving on their number
	// must move neither.
	other := domain.Channel{ID: "theirs", PhoneNumberID: "300000000000009", Connected: true}
	if err := f.Store.PutChannel(ctx, "other-tenant", other); err != nil {
		t.Fatal(err)
	}
	theirs := m
	theirs.Tenant, theirs.Channel, theirs.ProviderMessageID = "other-tenant", other.ID, "wamid.theirs"
	if _, err := f.Store.Accept(ctx, store.Acceptance{Message: theirs, Contact: domain.Contact{Phone: m.PhoneNumber, UpdatedAt: m.CreatedAt}}); err != nil {
		t.Fatal(err)
	}
	body := envelope(map[string]any{
		"metadata": map[string]any{"phone_number_id": other.PhoneNumberID},
		"statuses": []any{map[string]any{"id": m.ProviderMessageID, "status": "read", "timestamp": "1"}},
	})
	f.postSigned(t, body)
	if got := f.load(t, m.ID); got.Status != domain.StatusPending {
		t.Errorf("another tenant's number moved this tenant's message to %s", got.Status)
	}
	got, err := f.Store.Message(ctx, "other-tenant", m.ID)
	if err != nil || got.Status != theirs.Status {
		t.Errorf("this tenant's wamid moved the other tenant's message to %s (%v)", got.Status, err)
	}
}

func TestLateStatusesNeitherExtendNorRecountAConversation(t *testing.T) {
	f := newFixtureLimited(t, 1000)
	ctx := context.Background()
	phone := "5511987650108"
	a := f.pending(t, phone)
	t0 := time.Now().Truncate(time.Second)
	exp := t0.Add(24 * time.Hour)
	f.postSigned(t, statusBody(a.ProviderMessageID, "sent", t0, nil))
	f.postSigned(t, statusBody(a.ProviderMessageID, "delivered", t0.Add(5*time.Hour), nil))
	c, err := f.Store.Conversation(ctx, f.Tenant, demo.ChannelID, phone)
	if err != nil || c.ID == "" || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("conversation %+v (%v), want one until %s", c, err, exp)
	}
	// Sweep closed it; a late read of the same send opens nothing and
	// counts nothing.
	if _, err := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("conversations").Doc(domain.ConversationKey(demo.ChannelID, phone)).Delete(ctx); err != nil {
		t.Fatal(err)
	}
	f.postSigned(t, statusBody(a.ProviderMessageID, "read", t0.Add(6*time.Hour), nil))
	if c, _ := f.Store.Conversation(ctx, f.Tenant, demo.ChannelID, phone); c.ID != "" {
		t.Errorf("a late status reopened %+v", c)
	}
	if n, _ := f.Store.ConversationsOpened(ctx, f.Tenant, domain.MonthKey(t0)); n != 1 {
		t.Errorf("counted %d conversations, want 1", n)
	}
}

func TestInboundOpensTheServiceWindow(t *testing.T) {
	f := newFixture(t)
	at := time.Now().Truncate(time.Second)
	body := envelope(map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": "Maria"}, "wa_id": "5511987650107"}},
		"messages": []any{map[string]any{"from": "5511987650107", "id": "wamid.in1", "timestamp": fmt.Sprint(at.Unix()), "type": "text", "text": map[string]any{"body": "quero saber mais"}}},
	})
	f.postSigned(t, body)
	f.postSigned(t, body) // Meta's duplicate
	// An older message arriving late does not shorten the window.
	f.postSigned(t, envelope(map[string]any{
		"messages": []any{map[string]any{"from": "5511987650107", "id": "wamid.in0", "timestamp": fmt.Sprint(at.Add(-time.Hour).Unix()), "type": "text", "text": map[string]any{"body": "oi"}}},
	}))
	snap, err := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("contacts").Doc("5511987650107").Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var c domain.Contact
	if err := snap.DataTo(&c); err != nil {
		t.Fatal(err)
	}
	if !c.WindowOpen(demo.ChannelID, time.Now()) || !c.Windows[demo.ChannelID].Equal(at.Add(24*time.Hour)) || c.ProfileName != "Maria" {
		t.Errorf("contact %+v", c)
	}
	docs, err := f.Firestore.Collection("tenants").Doc(f.Tenant).Collection("inbound").Documents(context.Background()).GetAll()
	if err != nil || len(docs) != 2 {
		t.Errorf("inbound messages %d (%v), want two", len(docs), err)
	}
}
