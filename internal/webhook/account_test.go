package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/webhook"
)

// accountNotes records template and consent callbacks.
type accountNotes struct {
	mu        sync.Mutex
	templates []string // "name event status"
	consents  []bool   // opted out?
}

func (a *accountNotes) NotifyTemplate(_ context.Context, _, _ string, t domain.Template, event, _ string, _ time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.templates = append(a.templates, t.Name+" "+event+" "+t.Status)
}

func (a *accountNotes) NotifyOptOut(_ context.Context, _, _ string, c domain.Contact) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.consents = append(a.consents, c.Marketing.Out)
}

type accountFixture struct {
	*apptest.Env
	h     http.Handler
	notes *accountNotes
	send  *accept.Service
}

func newAccountFixture(t *testing.T) *accountFixture {
	t.Helper()
	e := apptest.New(t)
	ctx := context.Background()
	ten, err := e.Store.Tenant(ctx, e.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	ten.CallbackURL = "https://hooks.example.com/tgw"
	if err := e.Store.PutTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	n := &accountNotes{}
	h := webhook.New(webhook.Config{VerifyToken: verifyToken, AppSecret: appSecret}, e.Catalog, e.Store, &recorder{}).WithAccount(e.Store, n).Handler()
	// Admission reads an uncached catalog: the change is seen at once
	// here, and within the cache's TTL on a deployed instance.
	send := accept.New(catalog.New(e.Store, 0), e.Store, e.Publisher, accept.Options{Wait: -1})
	return &accountFixture{Env: e, h: h, notes: n, send: send}
}

func (f *accountFixture) post(t *testing.T, body string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set(webhook.SignatureHeader, webhook.Sign(appSecret, []byte(body)))
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("webhook answered %d: %s", w.Code, w.Body)
	}
}

func (f *accountFixture) sendTemplate(t *testing.T, id, phone string, params map[string]string) error {
	t.Helper()
	_, err := f.send.Send(context.Background(), domain.Token{Tenant: f.Tenant, DefaultChannel: demo.ChannelID},
		accept.Request{TemplateID: id, Phone: phone, Params: params}, nil,
		func(accept.Result) accept.Answer { return accept.Answer{Code: http.StatusAccepted} })
	return err
}

var (
	welcomeParams = map[string]string{"1": "Ana", "2": "Loja"}
	alertaParams  = map[string]string{"1": "Ana"}
)

// TestPausedTemplateIsRefusedAtAdmission: the sandbox pauses a template
// as Meta does; the whatsapp function changes the catalog, the next send
// is refused naming the status, the tenant hears of it, and a
// reinstatement lets sends through again.
func TestPausedTemplateIsRefusedAtAdmission(t *testing.T) {
	f := newAccountFixture(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	f.Sandbox.SetWebhook(srv.URL, appSecret)
	ctx := context.Background()
	pause := sandbox.TemplateEvent{WABAID: demo.WABAID, Field: sandbox.FieldTemplateStatus, Name: "welcome", Language: "pt_BR", Event: "PAUSED", Reason: "LOW_QUALITY"}
	if err := f.Sandbox.EmitTemplateEvent(ctx, pause); err != nil {
		t.Fatal(err)
	}
	err := f.sendTemplate(t, "welcome", "5511987650501", welcomeParams)
	if domain.KindOf(err) != domain.KindInvalid || !strings.Contains(err.Error(), "PAUSED") {
		t.Fatalf("send of a paused template: %v, want a refusal naming PAUSED", err)
	}
	if err := f.sendTemplate(t, "alerta1", "5511987650501", alertaParams); err != nil {
		t.Errorf("another template still goes: %v", err)
	}
	pause.Event = "REINSTATED"
	if err := f.Sandbox.EmitTemplateEvent(ctx, pause); err != nil {
		t.Fatal(err)
	}
	if err := f.sendTemplate(t, "welcome", "5511987650501", welcomeParams); err != nil {
		t.Errorf("send after reinstatement: %v", err)
	}
	quality := sandbox.TemplateEvent{WABAID: demo.WABAID, Field: sandbox.FieldTemplateQuality, Name: "welcome", Language: "pt_BR", Quality: "yellow"}
	if err := f.Sandbox.EmitTemplateEvent(ctx, quality); err != nil {
		t.Fatal(err)
	}
	if tpl, err := f.Store.Template(ctx, f.Tenant, "welcome"); err != nil || tpl.Quality != "YELLOW" || tpl.Status != domain.TemplateApproved {
		t.Errorf("template after the quality event: %+v, %v", tpl, err)
	}
	f.notes.mu.Lock()
	defer f.notes.mu.Unlock()
	if got := strings.Join(f.notes.templates, "; "); got != "welcome PAUSED PAUSED; welcome REINSTATED APPROVED" {
		t.Errorf("template callbacks %q", got)
	}
}

func inboundText(phone, id, text string, at time.Time) string {
	return envelope(map[string]any{
		"contacts": []any{map[string]any{"wa_id": phone, "profile": map[string]any{"name": "Ana"}}},
		"messages": []any{map[string]any{"from": phone, "id": id, "timestamp": strconv.FormatInt(at.Unix(), 10), "type": "text", "text": map[string]any{"body": text}}},
	})
}

// TestOptOutStopsMarketingOnly: STOP opts the contact out (marketing is
// refused, utility goes), START opts it back in, Meta's user_preferences
// and a 131050 failure opt out too, and the tenant hears each change once.
func TestOptOutStopsMarketingOnly(t *testing.T) {
	f := newAccountFixture(t)
	const phone = "5511987650502"
	now := time.Now().Add(-time.Minute)
	f.post(t, inboundText(phone, "wamid.stop1", " stop ", now))
	if err := f.sendTemplate(t, "alerta1", phone, alertaParams); err == nil || !strings.Contains(err.Error(), "opted out") {
		t.Errorf("MARKETING after STOP: %v, want refused", err)
	}
	if err := f.sendTemplate(t, "welcome", phone, welcomeParams); err != nil {
		t.Errorf("UTILITY after STOP: %v", err)
	}
	f.post(t, inboundText(phone, "wamid.stop1", " stop ", now)) // Meta's replay
	f.post(t, inboundText(phone, "wamid.start1", "Voltar", now.Add(time.Second)))
	if err := f.sendTemplate(t, "alerta1", phone, alertaParams); err != nil {
		t.Errorf("MARKETING after the opt-in keyword: %v", err)
	}
	f.post(t, accountBody("user_preferences", map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]any{"display_phone_number": demo.DisplayNumber, "phone_number_id": demo.PhoneNumberID},
		"user_preferences": []any{map[string]any{
			"wa_id": phone, "category": "marketing_messages", "value": "stop", "timestamp": strconv.FormatInt(now.Add(2*time.Second).Unix(), 10)}},
	}))
	c, err := f.Store.Contact(context.Background(), f.Tenant, phone)
	if err != nil || !c.Marketing.Out || c.Marketing.Source != domain.OptOutByPreference {
		t.Fatalf("after user_preferences stop: %+v, %v", c.Marketing, err)
	}
	f.notes.mu.Lock()
	got := f.notes.consents
	f.notes.mu.Unlock()
	if len(got) != 3 || !got[0] || got[1] || !got[2] {
		t.Errorf("consent callbacks %v, want out, in, out", got)
	}
}

// TestMeta131050OptsOut: Meta failing a send with 131050 opts its
// recipient out; 131049 (the per-user marketing limit) does not.
func TestMeta131050OptsOut(t *testing.T) {
	f := newAccountFixture(t)
	ff := &fixture{Env: f.Env, h: f.h, notes: &recorder{}}
	for code, want := range map[int]bool{131050: true, 131049: false} {
		phone := "55119876506" + strconv.Itoa(code%100)
		m := ff.pending(t, phone)
		f.post(t, statusBody(m.ProviderMessageID, "failed", time.Now(), map[string]any{
			"errors": []any{map[string]any{"code": code, "title": "refused"}},
		}))
		c, _ := f.Store.Contact(context.Background(), f.Tenant, phone)
		if c.Marketing.Out != want {
			t.Errorf("after %d: opted out %v, want %v", code, c.Marketing.Out, want)
		}
	}
}

// accountBody is an account-level change of the demo WABA in Meta's
// envelope.
func accountBody(field string, value map[string]any) string {
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry":  []any{map[string]any{"id": demo.WABAID, "changes": []any{map[string]any{"field": field, "value": value}}}},
	})
	return string(b)
}
