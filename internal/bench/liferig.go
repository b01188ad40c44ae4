package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
func (b *Bench) startLife(ctx context.Context) (_ *lifeRig, err error) {
	st := store.New(b.fsRead)
	t, err := st.Tenant(ctx, demo.TenantID)
	if err != nil {
		return nil, fmt.Errorf("life phase: %w", err)
	}
	r := &lifeRig{b: b, tenant: t}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.stop())
		}
	}()
	secret := t.CallbackSecret
	if secret == "" {
		var raw [32]byte
		_, _ = rand.Read(raw[:])
		secret = hex.EncodeToString(raw[:])
	}
	r.sink = &callbackSink{secret: secret, events: map[string]bool{}}
	if r.sink.url, r.sink.close, err = serveLoopback(r.sink); err != nil {
		return r, err
	}
	r.relay = &hookRelay{to: httputil.NewSingleHostReverseProxy(mustURL(b.stack.Base))}
	r.relay.to.Transport = b.hc.Transport
	if r.relay.url, r.relay.close, err = serveLoopback(r.relay); err != nil {
		return r, err
	}
	if r.callbacks, err = b.takeOverPush(ctx, "callbacks"); err != nil {
		return r, err
	}
	on := t
	on.CallbackURL, on.CallbackSecret = r.sink.url+"/callbacks", secret
	if err := st.PutTenant(ctx, on); err != nil {
		return r, fmt.Errorf("life phase: %w", err)
	}
	if _, err := r.untilCallbackURL(ctx, on.CallbackURL); err != nil {
		return r, err
	}
	return r, nil
}

// stop puts the tenant back as it was: first its callback URL, keeping
// the phase's secret until new sends no longer carry the phase's URL and
// the callbacks of those that did have arrived (the callbacks function
// drops a callback of a tenant without a secret), then the rest; and
// closes what startLife opened. It does not take the run's context: an
// interrupted run must still leave the stack as it found it.
func (r *lifeRig) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := r.b
	b.stack.Sandbox.SetWebhook("", "")
	st := store.New(b.fsRead)
	var errs []error
	if r.sink != nil && r.sink.url != "" {
		off := r.tenant
		off.CallbackSecret = r.sink.secret
		if err := st.PutTenant(ctx, off); err != nil {
			errs = append(errs, fmt.Errorf("life phase: restore the tenant: %w", err))
		} else {
			probes, err := r.untilCallbackURL(ctx, r.tenant.CallbackURL)
			errs = append(errs, err)
			if len(probes) > 0 {
				_, _, err := r.follow(ctx, probes, domain.StatusPending, 30*time.Second)
				errs = append(errs, err)
			}
		}
	}
	if err := st.PutTenant(ctx, r.tenant); err != nil {
		errs = append(errs, fmt.Errorf("life phase: restore the tenant: %w", err))
	}
	if r.callbacks != nil {
		errs = append(errs, r.callbacks.Close())
	}
	if r.relay != nil && r.relay.close != nil {
		r.relay.close()
	}
	if r.sink != nil && r.sink.close != nil {
		r.sink.close()
	}
	return errors.Join(errs...)
}

// untilCallbackURL sends one message at a time until one is stored with
// callback URL want: the functions cache the tenant for CACHE_TTL. It
// returns the messages it sent.
func (r *lifeRig) untilCallbackURL(ctx context.Context, want string) ([]string, error) {
	b := r.b
	coll := b.fsRead.Collection("tenants").Doc(demo.TenantID).Collection("messages")
	deadline := time.Now().Add(time.Minute)
	var sent []string
	for {
		id, err := b.send(ctx, b.phone())
		if err != nil {
			return sent, fmt.Errorf("life phase: probe send: %w", err)
		}
		sent = append(sent, id)
		snap, err := coll.Doc(id).Get(ctx)
		if err != nil {
			return sent, fmt.Errorf("life phase: probe %s: %w", id, err)
		}
		var m domain.Message
		if err := snap.DataTo(&m); err != nil {
			return sent, fmt.Errorf("life phase: probe %s: %w", id, err)
		}
		if m.CallbackURL == want {
			return sent, nil
		}
		if time.Now().After(deadline) {
			return sent, fmt.Errorf("life phase: sends still carry callback URL %q, not %q, after a minute", m.CallbackURL, want)
		}
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// callbackSink is the tenant's callback receiver: it checks each
// callback's signature, as docs/callbacks.md asks receivers to, and
// records which events arrived. It answers 204 to every callback, so no
// retry adds to what a message costs.
type callbackSink struct {
	secret          string
	url             string
	close           func()
	posts, unsigned atomic.Int64

	mu     sync.Mutex
	events map[string]bool // event ids received
}

func (s *callbackSink) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	s.posts.Add(1)
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
		if callbackWanted(h.Status) && !s.events[id+"."+strconv.Itoa(i+1)] {
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
	close   func()
	n, busy atomic.Int64
}

func (h *hookRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	t0 := time.Now()
	h.to.ServeHTTP(w, req)
	h.busy.Add(int64(time.Since(t0)))
	h.n.Add(1)
}

// serveLoopback serves h on a free loopback port, which the dev stack lets
// callbacks reach (CALLBACK_ALLOW_LOOPBACK).
func serveLoopback(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(fmt.Sprintf("life phase: front door URL %q: %v", s, err))
	}
	return u
}
