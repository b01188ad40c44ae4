package callback_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/domain"
)

const secret = "whsec-test"

// request is one POST a receiver got.
type request struct {
	at     time.Time
	method string
	uri    string
	header http.Header
	body   []byte
	code   int
}

// receiver is a tenant's callback endpoint over real HTTP; answer picks
// the status code of the n-th request (from 1).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []request
	answer func(n int) int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		code := r.answer(len(r.got) + 1)
		r.got = append(r.got, request{time.Now(), req.Method, req.RequestURI, req.Header.Clone(), body, code})
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

func always(code int) func(int) int { return func(int) int { return code } }

func job(url string) callback.Job {
	m := pendingMessage()
	m.CallbackURL = url
	return callback.Job{Tenant: "acme", URL: url, Event: callback.EventOf(m)}
}

var acme = tenants{"acme": {ID: "acme", CallbackSecret: secret}}

func dev() callback.Options { return callback.Options{AllowLoopback: true, Timeout: 5 * time.Second} }

func TestDeliverPostsSignedEvent(t *testing.T) {
	rcv := newReceiver(t, always(http.StatusNoContent))
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opt := dev()
	opt.Now = func() time.Time { return at }
	j := job(rcv.URL + "/hooks/wa?key=receiver-secret")
	if err := callback.NewDeliverer(acme, opt).Deliver(quiet(), j); err != nil {
		t.Fatal(err)
	}
	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	r := got[0]
	if r.method != http.MethodPost || r.uri != "/hooks/wa?key=receiver-secret" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %s %v", r.method, r.uri, r.header)
	}
	if ts := r.header.Get(callback.TimestampHeader); ts != strconv.FormatInt(at.Unix(), 10) {
		t.Fatalf("timestamp header %q", ts)
	}
	if err := callback.Verify(secret, r.header, r.body, at.Add(time.Second), time.Minute); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if r.header.Get(callback.EventIDHeader) != j.Event.ID {
		t.Fatalf("event id header %q, want %q", r.header.Get(callback.EventIDHeader), j.Event.ID)
	}
	var ev callback.Event
	if err := json.Unmarshal(r.body, &ev); err != nil || ev != j.Event {
		t.Fatalf("body %s (%v), want %+v", r.body, err, j.Event)
	}
}

func TestDeliverRetriesFailedAnswers(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusNotFound, http.StatusUnauthorized} {
		rcv := newReceiver(t, always(code))
		err := callback.NewDeliverer(acme, dev()).Deliver(quiet(), job(rcv.URL+"/?key=receiver-secret"))
		if err == nil {
			t.Fatalf("answer %d: Deliver = nil, want an error so Pub/Sub redelivers", code)
		}
		if !strings.Contains(err.Error(), strconv.Itoa(code)) || !strings.Contains(err.Error(), "m7.3") || strings.Contains(err.Error(), "receiver-secret") {
			t.Fatalf("answer %d: error %q", code, err)
		}
	}
}

func TestDeliverRetriesNetworkErrors(t *testing.T) {
	rcv := newReceiver(t, always(http.StatusOK))
	url := rcv.URL + "/?key=receiver-secret"
	rcv.Close() // nothing listens there any more
	err := callback.NewDeliverer(acme, dev()).Deliver(quiet(), job(url))
	if err == nil || strings.Contains(err.Error(), "receiver-secret") {
		t.Fatalf("Deliver to a closed port = %v, want an error without the query", err)
	}
}

func TestDeliverTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	opt := dev()
	opt.Timeout = 200 * time.Millisecond
	if err := callback.NewDeliverer(acme, opt).Deliver(quiet(), job(srv.URL)); err == nil {
		t.Fatal("Deliver to a receiver that never answers = nil, want a timeout error")
	}
}

func TestDeliverDoesNotFollowRedirects(t *testing.T) {
	target := newReceiver(t, always(http.StatusOK))
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	if err := callback.NewDeliverer(acme, dev()).Deliver(quiet(), job(redirect.URL)); err == nil {
		t.Fatal("a 307 answer counted as delivered")
	}
	if n := len(target.requests()); n != 0 {
		t.Fatalf("redirect followed: target got %d requests", n)
	}
}

func TestDeliverDrainsBoundedly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	opt := dev()
	opt.Timeout = 10 * time.Minute
	done := make(chan error, 1)
	go func() { done <- callback.NewDeliverer(acme, opt).Deliver(quiet(), job(srv.URL)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		srv.CloseClientConnections() // lets Deliver, and the server's Close, return
		t.Fatal("Deliver kept reading an endless answer")
	}
}

// TestDeliverDropsWhatRetryCannotFix: each case is acknowledged (nil),
// logged, and sends nothing.
func TestDeliverDropsWhatRetryCannotFix(t *testing.T) {
	rcv := newReceiver(t, always(http.StatusOK))
	port := rcv.URL[strings.LastIndex(rcv.URL, ":")+1:]
	noSecret := tenants{"acme": {ID: "acme"}}
	tests := []struct {
		name    string
		tenants callback.Tenants
		opt     callback.Options
		url     string
		log     string
	}{
		{"loopback not allowed", acme, callback.Options{}, rcv.URL + "/?key=receiver-secret", "refused"},
		{"localhost not allowed", acme, callback.Options{}, "http://localhost:" + port + "/?key=receiver-secret", "refused"},
		{"private not allowed", acme, callback.Options{}, "http://10.0.0.1/?key=receiver-secret", "refused"},
		{"not http", acme, dev(), "ftp://127.0.0.1:" + port + "/?key=receiver-secret", "refused"},
		{"unknown tenant", tenants{}, dev(), rcv.URL + "/?key=receiver-secret", "unknown tenant"},
		{"tenant without a secret", noSecret, dev(), rcv.URL + "/?key=receiver-secret", "no callback secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, logs := logged()
			if err := callback.NewDeliverer(tt.tenants, tt.opt).Deliver(ctx, job(tt.url)); err != nil {
				t.Fatalf("Deliver = %v, want nil: redelivery cannot fix it", err)
			}
			out := logs.String()
			if !strings.Contains(out, tt.log) || !strings.Contains(out, `"eventId":"m7.3"`) {
				t.Errorf("log %q does not say %q for the event", out, tt.log)
			}
			if strings.Contains(out, "receiver-secret") || strings.Contains(out, secret) {
				t.Errorf("log leaks a secret: %s", out)
			}
		})
	}
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("receiver got %d requests, want 0", n)
	}
}

type brokenTenants struct{}

func (brokenTenants) Tenant(context.Context, string) (domain.Tenant, error) {
	return domain.Tenant{}, errors.New("firestore unavailable")
}

func TestDeliverRetriesWhenTheTenantCannotBeRead(t *testing.T) {
	rcv := newReceiver(t, always(http.StatusOK))
	if err := callback.NewDeliverer(brokenTenants{}, dev()).Deliver(quiet(), job(rcv.URL)); err == nil {
		t.Fatal("Deliver = nil while the tenant could not be read, want an error so Pub/Sub redelivers")
	}
}

// pushEvent is the messagePublished CloudEvent the Functions Framework
// makes of a Pub/Sub push whose body is raw.
func pushEvent(t *testing.T, raw []byte) event.Event {
	t.Helper()
	e := event.New()
	e.SetID("1")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/callbacks")
	if err := e.SetData("application/json", raw); err != nil {
		t.Fatal(err)
	}
	return e
}

func pushBody(t *testing.T, data []byte) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"subscription": "projects/p/subscriptions/callbacks-push",
		"message":      map[string]any{"data": data, "messageId": "42", "attributes": map[string]string{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandleEvent(t *testing.T) {
	ok := newReceiver(t, always(http.StatusOK))
	failing := newReceiver(t, always(http.StatusBadGateway))
	d := callback.NewDeliverer(acme, dev())
	data := func(j callback.Job) []byte { b, _ := json.Marshal(j); return b }

	if err := d.HandleEvent(quiet(), pushEvent(t, pushBody(t, data(job(ok.URL))))); err != nil {
		t.Fatalf("deliverable job: %v", err)
	}
	if n := len(ok.requests()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
	ctx, logs := logged()
	if err := d.HandleEvent(ctx, pushEvent(t, pushBody(t, data(job(failing.URL))))); err == nil {
		t.Fatal("failed delivery acknowledged, want an error so Pub/Sub redelivers")
	}
	if !strings.Contains(logs.String(), "Pub/Sub will retry") {
		t.Errorf("retry not logged: %s", logs.String())
	}

	noEvent := job(ok.URL)
	noEvent.Event.ID = ""
	for name, raw := range map[string][]byte{
		"not JSON":        []byte("<xml/>"),
		"data not a job":  pushBody(t, []byte("[1,2]")),
		"job without url": pushBody(t, data(callback.Job{Tenant: "acme", Event: job(ok.URL).Event})),
		"job without id":  pushBody(t, data(noEvent)),
	} {
		if err := d.HandleEvent(quiet(), pushEvent(t, raw)); err != nil {
			t.Errorf("%s: HandleEvent = %v, want nil (acknowledged)", name, err)
		}
	}
	if n := len(ok.requests()); n != 1 {
		t.Fatalf("malformed events reached the receiver: %d requests", n)
	}
}
