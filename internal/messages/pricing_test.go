package messages_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/webhook"
)

// second is a second number of the demo's WABA, for usage per channel.
var second = domain.Channel{
	ID: "second", DisplayNumber: "5511999990002", PhoneNumberID: "100000000000002", WABAID: demo.WABAID,
	Provider: "meta", SecretRef: "env:" + demo.AccessTokenEnv, Connected: true, MessagesPerSecond: 1000,
}

// pricedStack is the demo tenant with two channels on a sandbox that
// knows both numbers and posts its signed status webhooks, pricing
// included, to the real whatsapp handler.
type pricedStack struct {
	*apptest.Env
	sandbox  *sandbox.Sandbox
	hook     *httptest.Server
	dispatch *dispatch.Dispatcher
}

func newPricedStack(t *testing.T) *pricedStack {
	t.Helper()
	e := apptest.New(t)
	if err := e.Store.PutChannel(context.Background(), e.Tenant, second); err != nil {
		t.Fatal(err)
	}
	cfg := sandbox.Default()
	cfg.Numbers = append(cfg.Numbers, sandbox.Number{PhoneNumberID: second.PhoneNumberID, WABAID: demo.WABAID,
		AccessToken: demo.AccessToken, DisplayPhoneNumber: second.DisplayNumber, MessagesPerSecond: 1000})
	cfg.WebhookDelay = 10 * time.Millisecond
	sb := sandbox.New(cfg)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sb.Close)
	hook := httptest.NewServer(webhook.New(webhook.Config{AppSecret: sandbox.DefaultAppSecret}, e.Catalog, e.Store, nil).Handler())
	t.Cleanup(hook.Close)
	sb.SetWebhook(hook.URL+"/", "")
	p := provider.New(provider.Config{BaseURL: srv.URL, Version: "v24.0", Timeout: 5 * time.Second}, nil)
	d := dispatch.New(e.Store, e.Catalog, p, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3})
	return &pricedStack{Env: e, sandbox: sb, hook: hook, dispatch: d}
}

// send accepts a template to phone on channel and dispatches it to the
// sandbox, as the accept path and dispatch do.
func (p *pricedStack) send(t *testing.T, channel, phone, templateID string, params map[string]string) string {
	t.Helper()
	ctx := context.Background()
	tpl, err := p.Catalog.Template(ctx, p.Tenant, templateID)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := domain.Render(tpl, params)
	if err != nil {
		t.Fatal(err)
	}
	m := domain.NewMessage(store.NewID(), p.Tenant, channel, phone, tpl.ID, rendered, time.Now().UTC())
	if _, err := p.Store.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, UpdatedAt: m.CreatedAt}}); err != nil {
		t.Fatal(err)
	}
	if err := p.dispatch.Dispatch(ctx, queue.Job{Tenant: p.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func usageAnswer(t *testing.T, h http.Handler, query string) domain.Usage {
	t.Helper()
	w := get(t, h, "/usage"+query, apptest.Token)
	var u domain.Usage
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &u) != nil {
		t.Fatalf("GET /usage%s = %d %s", query, w.Code, w.Body.String())
	}
	return u
}

// TestPricingAndUsageEndToEnd sends utility and marketing templates on two
// channels through dispatch and the sandbox, whose priced status webhooks
// reach the whatsapp handler: each message shows Meta's pricing in
// GET /messages/{id}, GET /messages/usage sums the billable ones per
// channel and category, and replaying every webhook counts nothing twice.
func TestPricingAndUsageEndToEnd(t *testing.T) {
	p := newPricedStack(t)
	ctx := context.Background()
	welcome := map[string]string{"1": "Maria", "2": "templategw"}
	alerta := map[string]string{"1": "Maria"}
	sends := []struct {
		channel, phone, template, category string
	}{
		{demo.ChannelID, "5511987651010", "welcome", "utility"},
		{demo.ChannelID, "5511987651011", "welcome", "utility"},
		{demo.ChannelID, "5511987651012", "alerta1", "marketing"},
		{second.ID, "5511987651013", "alerta1", "marketing"},
	}
	ids := make([]string, len(sends))
	for i, s := range sends {
		params := welcome
		if s.template == "alerta1" {
			params = alerta
		}
		ids[i] = p.send(t, s.channel, s.phone, s.template, params)
	}
	for _, id := range ids {
		p.WaitStatus(t, id, domain.StatusRead)
	}
	if err := p.sandbox.Idle(ctx); err != nil {
		t.Fatal(err)
	}

	h := messages.New(p.Catalog, p.Store).Handler()
	for i, id := range ids {
		w := get(t, h, "/"+id, apptest.Token)
		var v struct {
			Pricing *domain.Pricing `json:"pricing"`
		}
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &v) != nil {
			t.Fatalf("GET /%s = %d %s", id, w.Code, w.Body.String())
		}
		want := domain.Pricing{Category: sends[i].category, Billable: true, Type: "regular", Model: "PMP"}
		if v.Pricing == nil || *v.Pricing != want || !strings.Contains(w.Body.String(), `"pricingModel":"PMP"`) {
			t.Errorf("message %d pricing %+v, want %+v: %s", i, v.Pricing, want, w.Body.String())
		}
	}
	list := get(t, h, "/?limit=10", apptest.Token)
	if n := strings.Count(list.Body.String(), `"pricing":{"category":`); n != len(ids) {
		t.Errorf("the listing shows pricing on %d messages, want %d: %s", n, len(ids), list.Body.String())
	}

	month := domain.MonthKey(time.Now())
	want := domain.Usage{
		Month: month, Billable: 4, Categories: map[string]int{"utility": 2, "marketing": 2},
		Channels: []domain.ChannelUsage{
			{Channel: demo.ChannelID, Billable: 3, Categories: map[string]int{"utility": 2, "marketing": 1}},
			{Channel: second.ID, Billable: 1, Categories: map[string]int{"marketing": 1}},
		},
	}
	if got := usageAnswer(t, h, ""); !reflect.DeepEqual(got, want) {
		t.Fatalf("usage %+v, want %+v", got, want)
	}

	// Meta's replays: every status webhook posted again, as signed.
	replayed := 0
	for _, w := range p.sandbox.Webhooks() {
		if w.Kind != "status" || w.HTTPStatus != http.StatusOK {
			continue
		}
		r, err := http.NewRequest(http.MethodPost, p.hook.URL+"/", strings.NewReader(w.Body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(webhook.SignatureHeader, w.Signature)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("replay answered %d", resp.StatusCode)
		}
		replayed++
	}
	if replayed < 3*len(ids) {
		t.Fatalf("replayed %d status webhooks, want every status of every message", replayed)
	}
	if got := usageAnswer(t, h, "?month="+month); !reflect.DeepEqual(got, want) {
		t.Errorf("usage after replays %+v, want %+v", got, want)
	}
	if got := usageAnswer(t, h, "?month=2020-01"); got.Billable != 0 || len(got.Channels) != 0 {
		t.Errorf("another month's usage %+v", got)
	}
	// Another tenant sees its own usage, none of this one's.
	if err := demo.Seed(ctx, p.Store, "other", "other-token"); err != nil {
		t.Fatal(err)
	}
	w := get(t, h, "/usage", "other-token")
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"marketing"`) || !strings.Contains(w.Body.String(), `"billable":0`) {
		t.Errorf("another tenant's usage: %d %s", w.Code, w.Body.String())
	}
}
