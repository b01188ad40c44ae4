package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/templategw/templategw/emulator"
	"github.com/templategw/templategw/internal/callback"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// lifeRig is what the life phase adds to the stack: the demo tenant's
// callback receiver, a relay that counts and times Meta's webhooks on
// their way to the whatsapp function, and a Pusher for the callbacks
// function's subscription, whose deliveries are counted as dispatch's are.
type lifeRig struct {
	b         *Bench
	sink      *callbackSink
	relay     *hookRelay
	callbacks *emulator.Pusher
	tenant    domain.Tenant // as found, to put back
}

// startLife points the demo tenant's callbacks at a receiver of the
// phase's own, signed with a secret of its own when the tenant has none,
// and waits until the templates function's cache gives new sends that
// callback URL.
func (b *Bench) startLife(ctx context.Context) (*lifeRig, error) {
	st := store.New(b.fsRead)
	t, err := st.Tenant(ctx, demo.TenantID)
	if err != nil {
		return nil, fmt.Errorf("life phase: %w", err)
	}
	door, err := url.Parse(b.stack.Base)
	if err != nil {
		return nil, err
	}
	secret := t.CallbackSecret
	if secret == "" {
		var raw [32]byte
		_, _ = rand.Read(raw[:])
		secret = hex.EncodeToString(raw[:])
	}
	r := &lifeRig{b: b, tenant: t, sink: &callbackSink{secret: secret, events: map[string]bool{}}, relay: &hookRelay{to: httputil.NewSingleHostReverseProxy(door)}}
	r.relay.to.Transport = b.hc.Transport
	if r.sink.url, err = b.serveLoopback(r.sink); err != nil {
		return nil, err
	}
	if r.relay.url, err = b.serveLoopback(r.relay); err != nil {
		return nil, err
	}
	if r.callbacks, err = b.takeOverPush(ctx, "callbacks"); err != nil {
		return nil, err
	}
	on := t
	on.CallbackURL, on.CallbackSecret = r.sink.url+"/callbacks", secret
	if err := st.PutTenant(ctx, on); err != nil {
		return nil, fmt.Errorf("life phase: %w", err)
	}
	if err := r.untilCallbackURL(ctx, on.CallbackURL); err != nil {
		return nil, errors.Join(err, r.stop())
	}
	return r, nil
}

// stop puts the tenant back as it was, waits until new sends no longer
// carry the phase's callback URL, so that the later phases make no
// callbacks, and gives the callbacks subscription back. It does not take
// the run's context: an interrupted run must still leave the stack as
// the later phases expect it.
func (r *lifeRig) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r.b.stack.Sandbox.SetWebhook("", "")
	err := store.New(r.b.fsRead).PutTenant(ctx, r.tenant)
	if err == nil {
		err = r.untilCallbackURL(ctx, r.tenant.CallbackURL)
	}
	if err = errors.Join(err, r.callbacks.Close()); err != nil {
		return fmt.Errorf("life phase: restore the tenant: %w", err)
	}
	return nil
}

// untilCallbackURL sends one message at a time until one is stored with
// callback URL want: the functions cache the tenant for CACHE_TTL, 30 s
// in the benchmark, so it waits up to a minute.
func (r *lifeRig) untilCallbackURL(ctx context.Context, want string) error {
	b, got := r.b, ""
	stalled, err := poll(ctx, time.Minute, func() (bool, bool, error) {
		id, err := b.send(ctx, b.phone())
		if err != nil {
			return false, false, fmt.Errorf("life phase: probe send: %w", err)
		}
		var m domain.Message
		snap, err := b.fsRead.Collection("tenants").Doc(demo.TenantID).Collection("messages").Doc(id).Get(ctx)
		if err == nil {
			err = snap.DataTo(&m)
		}
		if err != nil {
			return false, false, fmt.Errorf("life phase: probe %s: %w", id, err)
		}
		got = m.CallbackURL
		return false, got == want, nil
	})
	if stalled {
		err = fmt.Errorf("life phase: sends still carry callback URL %q, not %q, after a minute", got, want)
	}
	return err
}

// callbackSink is the tenant's callback receiver: it checks each
// callback's signature, as docs/callbacks.md asks receivers to, and
// records which events arrived. It answers 204 to every callback, so no
// retry adds to what a message costs.
type callbackSink struct {
	secret   string
	url      string
	unsigned atomic.Int64

	mu     sync.Mutex
	events map[string]bool // event ids received
}

func (s *callbackSink) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	var ev callback.Event
	if err != nil || json.Unmarshal(body, &ev) != nil || callback.Verify(s.secret, req.Header, body, time.Now(), 0) != nil {
		s.unsigned.Add(1)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.mu.Lock()
	s.events[ev.ID] = true
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// missing counts the callbacks of message id's status changes, as its
// history lists them, that have not arrived; none are due for a message
// without a callback URL. A status change's event id is the message id
// and the change's place in the history, from 1.
func (s *callbackSink) missing(id string, m domain.Message) int {
	if m.CallbackURL == "" {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i, h := range m.History {
		// callback.Notify tells every change but to accepted and dispatching.
		if h.Status != domain.StatusAccepted && h.Status != domain.StatusDispatching && !s.events[id+"."+strconv.Itoa(i+1)] {
			n++
		}
	}
	return n
}

// hookRelay passes the sandbox's webhooks on to the front door unchanged
// (the signature covers the body alone), counting them and the time the
// whatsapp function took.
type hookRelay struct {
	to      *httputil.ReverseProxy
	url     string
	n, busy atomic.Int64
}

func (h *hookRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	t0 := time.Now()
	h.to.ServeHTTP(w, req)
	h.busy.Add(int64(time.Since(t0)))
	h.n.Add(1)
}
