package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/secret"
)

// holdNotes records the URLs channel.held callbacks went to.
type holdNotes struct {
	mu   sync.Mutex
	urls []string
}

func (n *holdNotes) NotifyChannelHeld(_ context.Context, _, url, _ string, _ domain.Hold) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.urls = append(n.urls, url)
}

func (n *holdNotes) sent() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.urls...)
}

// waitAll polls until every message of ids is in state want, and fails
// t after 60 s with how many were.
func waitAll(t *testing.T, e *env, ids []string, want domain.Status) []domain.Message {
	t.Helper()
	var got []domain.Message
	done := false
	defer func() {
		if !done { // wait ended the test
			t.Logf("%d of %d messages are %s", len(got), len(ids), want)
		}
	}()
	// Each poll reads every message: ten a second is enough, and leaves
	// the emulator to the other tests.
	wait.UntilEvery(t, 60*time.Second, 100*time.Millisecond, "every message "+string(want), func() bool {
		got = got[:0]
		for _, id := range ids {
			m, err := e.Store.Message(context.Background(), e.Tenant, id)
			if err == nil && m.Status == want {
				got = append(got, m)
			}
		}
		return len(got) == len(ids)
	})
	done = true
	return got
}

// TestRevokedTokenHoldsThenConnectSendsEachOnce is the whole hold: the
// number's token is revoked at Meta, a batch of sends is accepted and
// every message waits held, none failed and none accepted by Meta; the
// channel shows the hold and the tenant hears of it once. With the token
// restored, channel connect hands them back to dispatch, and each is sent
// exactly once. Connecting again releases nothing.
func TestRevokedTokenHoldsThenConnectSendsEachOnce(t *testing.T) {
	const batch = 50
	e := newEnv(t)
	const hooks = "https://hooks.example.com/templategw"
	e.must(t, "tenant", "update", "--id", e.Tenant, "--callback-url", hooks)
	notes := &holdNotes{}
	d := dispatch.New(e.Store, catalog.New(e.Store, 0), e.Provider, secret.Env{}, dispatch.Options{
		Lease: time.Minute, MaxAttempts: 3, Holds: notes,
	})
	e.Push(t, apptest.Topic, d.HandleEvent)
	if err := e.Sandbox.RevokeToken(demo.PhoneNumberID, true); err != nil {
		t.Fatal(err)
	}

	api := e.atomHandler()
	ids := make([]string, 0, batch)
	for i := range batch {
		body := fmt.Sprintf(`{"templateId":"welcome","phoneNumber":"551198765%04d","params":{"1":"Ana","2":"templategw"}}`, 5000+i)
		w := apptest.Call(t, api, http.MethodPost, "/", apptest.Token, body)
		var a struct {
			Data struct {
				MessageID string `json:"message_id"`
			} `json:"data"`
		}
		if w.Code != http.StatusAccepted || json.Unmarshal(w.Body.Bytes(), &a) != nil || a.Data.MessageID == "" {
			t.Fatalf("send %d: %d %s", i, w.Code, w.Body.String())
		}
		ids = append(ids, a.Data.MessageID)
	}

	for _, m := range waitAll(t, e, ids, domain.StatusHeld) {
		if m.Error == nil || m.Error.Code != 190 {
			t.Fatalf("held message %s error %+v, want the channel's 190", m.ID, m.Error)
		}
	}
	for _, r := range e.Sandbox.Requests() {
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("the sandbox answered %d while the token was revoked: %+v", r.Status, r)
		}
	}
	var list struct {
		Channels []map[string]any `json:"channels"`
	}
	e.mustJSON(t, &list, "channel", "list", "--tenant", e.Tenant)
	if len(list.Channels) != 1 || list.Channels[0]["connected"] != true || list.Channels[0]["hold"] == nil {
		t.Fatalf("channel list = %+v, want the demo channel connected and held", list.Channels)
	}
	if hold := list.Channels[0]["hold"].(map[string]any); hold["code"] != 190.0 || hold["reason"] == "" || hold["since"] == "" {
		t.Errorf("hold shown as %v", hold)
	}
	if out := e.must(t, "channel", "list", "--tenant", e.Tenant); !strings.Contains(out, "HELD") || !strings.Contains(out, "190 Error validating access token") {
		t.Errorf("channel list table does not show the hold:\n%s", out)
	}
	if got := notes.sent(); len(got) != 1 || got[0] != hooks {
		t.Errorf("channel.held callbacks to %v, want one to the tenant's URL", got)
	}

	if err := e.Sandbox.RevokeToken(demo.PhoneNumberID, false); err != nil {
		t.Fatal(err)
	}
	var connected struct {
		ID        string         `json:"id"`
		Connected bool           `json:"connected"`
		Hold      map[string]any `json:"hold"`
		Released  int            `json:"released"`
	}
	out := e.must(t, "channel", "connect", "--tenant", e.Tenant, "--id", demo.ChannelID, "--json")
	if err := json.Unmarshal([]byte(out), &connected); err != nil {
		t.Fatalf("channel connect printed %q: %v", out, err)
	}
	if connected.Released != batch || !connected.Connected || connected.Hold != nil {
		t.Fatalf("channel connect = %+v, want %d released and the hold gone", connected, batch)
	}

	for _, m := range waitAll(t, e, ids, domain.StatusPending) {
		ok := 0
		for _, r := range e.Sandbox.Requests() {
			if r.CallbackData == m.ID && r.Status == http.StatusOK {
				ok++
			}
		}
		if ok != 1 || m.Error != nil {
			t.Errorf("message %s: %d accepted calls, error %+v; want exactly 1 and none", m.ID, ok, m.Error)
		}
		if h := m.History; h[2].Status != domain.StatusHeld || h[3].Status != domain.StatusAccepted {
			t.Errorf("message %s history %v, want held then released", m.ID, h)
		}
	}
	again := e.must(t, "channel", "connect", "--tenant", e.Tenant, "--id", demo.ChannelID)
	if !strings.Contains(again, "released 0 held messages") {
		t.Errorf("second connect:\n%s", again)
	}
}
