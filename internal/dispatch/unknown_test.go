package dispatch_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
	"github.com/templategw/templategw/internal/webhook"
)

// TestAcceptedThenAnswered500ReachesReadOnOneCall is invariant 2 with the
// webhook's help: Meta takes the message but answers 500 (sandbox
// …0010). The attempt is unknown, nothing sends it again, and Meta's
// status webhooks, which carry the message id in
// biz_opaque_callback_data, take it to read. Meta saw one call.
func TestAcceptedThenAnswered500ReachesReadOnOneCall(t *testing.T) {
	e := apptest.New(t)
	const appSecret = "dispatch-test-app-secret"
	hook := httptest.NewServer(webhook.New(webhook.Config{VerifyToken: "v", AppSecret: appSecret}, e.Catalog, e.Store, nil).Handler())
	t.Cleanup(hook.Close)
	e.Sandbox.SetWebhook(hook.URL+"/", appSecret)

	d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 3, UnknownWait: time.Hour})
	e.Push(t, apptest.Topic, d.HandleEvent)
	m := accepted(t, e, "5511987650010")
	if err := e.Publisher.Publish(context.Background(), queue.Job{Tenant: e.Tenant, Message: m.ID}); err != nil {
		t.Fatal(err)
	}
	got := e.WaitStatus(t, m.ID, domain.StatusRead)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Sandbox.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.Sandbox.CountByCallback(m.ID); n != 1 {
		t.Fatalf("the sandbox saw %d calls, want exactly 1", n)
	}
	reqs := e.Sandbox.Requests()
	if len(reqs) != 1 || got.ProviderMessageID != reqs[0].WAMID || got.Error != nil || got.Attempts != 1 {
		t.Fatalf("message %+v, sandbox %+v: want read under the one call's wamid, no error, one attempt", got, reqs)
	}
	// Whether dispatch's unknown or the webhook's sent came first, the
	// history only ever moved forward and ended read.
	if h := statuses(got); h[0] != domain.StatusAccepted || h[1] != domain.StatusDispatching || h[len(h)-1] != domain.StatusRead {
		t.Errorf("history %v", h)
	}
}
