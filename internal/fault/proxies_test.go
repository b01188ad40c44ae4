package fault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tracker counts background forwards, so the suite can wait until nothing
// is left in flight before it looks.
type tracker struct {
	ctx     context.Context
	wg      sync.WaitGroup
	pending atomic.Int64

	mu     sync.Mutex
	closed bool // no forward starts once the test waits for them
}

func (t *tracker) goForward(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return // a push that arrives while the test ends is dropped
	}
	t.pending.Add(1)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer t.pending.Add(-1)
		f()
	}()
}

func (t *tracker) idle() bool { return t.pending.Load() == 0 }

// wait stops new forwards and waits for the ones under way: a WaitGroup
// must not grow while it is waited on.
func (t *tracker) wait() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}

// lockedRand is a seeded source shared by handlers: the mix of delays is
// the same from run to run, the interleaving is whatever the machine makes.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) duration(min, max time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return min + time.Duration(l.r.Int64N(int64(max-min)+1))
}

func (l *lockedRand) intN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// webhookReplayer stands between the sandbox and the whatsapp function as
// Meta's delivery does at its worst: every webhook arrives three times and
// a message's statuses arrive shuffled (read before sent, sent after read).
// It answers the sandbox 200 at once and then owns delivery, retrying each
// copy until the function answers 200, as Meta retries for days.
//
// The copies of one message's statuses go out one at a time, in random
// order: the Firestore emulator settles two transactions writing one
// document only by a lock timeout of seconds, so copies fired at the same
// instant would measure the emulator, not the gateway. (Real Firestore
// aborts one of the two and the client retries it; the claim's own
// concurrency is dispatch's TestConcurrentDuplicateDeliveries.) Statuses
// of recipients in holdSuffix are held past dispatch's provider timeout,
// so dispatch records the attempt unknown first and the webhook
// reconciles it.
type webhookReplayer struct {
	*tracker
	target     string
	client     *http.Client
	rnd        *lockedRand
	copies     int
	holdSuffix string
	hold       time.Duration

	mu     sync.Mutex
	queues map[string]*hookQueue // by the status's wamid

	posts, failures atomic.Int64
	// outOfOrder counts copies delivered after a later status of the same
	// message was.
	outOfOrder atomic.Int64
}

// hookQueue is what is left to deliver of one message's statuses.
type hookQueue struct {
	notBefore time.Time
	items     []hookCopy
	running   bool
	latest    int // rank of the latest status delivered so far
}

type hookCopy struct {
	body []byte
	sig  string
	rank int // sent 1, delivered 2, read 3; 0 for anything else
}

var statusRank = map[string]int{"sent": 1, "delivered": 2, "read": 3}

func (w *webhookReplayer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	wamid, to, status := statusOf(body)
	c := hookCopy{body: body, sig: r.Header.Get("X-Hub-Signature-256"), rank: statusRank[status]}
	w.mu.Lock()
	q, ok := w.queues[wamid]
	if !ok {
		q = &hookQueue{notBefore: time.Now()}
		if w.holdSuffix != "" && strings.HasSuffix(to, w.holdSuffix) {
			q.notBefore = q.notBefore.Add(w.hold)
		}
		w.queues[wamid] = q
	}
	for i := 0; i < w.copies; i++ {
		q.items = append(q.items, c)
	}
	start := !q.running
	q.running = true
	w.mu.Unlock()
	if start {
		w.goForward(func() { w.drain(q) })
	}
	rw.WriteHeader(http.StatusOK)
}

// drain delivers a message's queued copies one at a time, each picked at
// random, with a short random gap, until none is left.
func (w *webhookReplayer) drain(q *hookQueue) {
	if sleepCtx(w.ctx, time.Until(q.notBefore)) != nil {
		return
	}
	for {
		if sleepCtx(w.ctx, w.rnd.duration(0, 300*time.Millisecond)) != nil {
			return
		}
		w.mu.Lock()
		if len(q.items) == 0 {
			q.running = false
			w.mu.Unlock()
			return
		}
		i := w.rnd.intN(len(q.items))
		c := q.items[i]
		q.items = append(q.items[:i], q.items[i+1:]...)
		if c.rank > 0 && c.rank < q.latest {
			w.outOfOrder.Add(1)
		}
		q.latest = max(q.latest, c.rank)
		w.mu.Unlock()
		w.deliver(c)
	}
}

// deliver posts one copy, retrying until it is answered 200 or the suite
// ends.
func (w *webhookReplayer) deliver(c hookCopy) {
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		req, _ := http.NewRequestWithContext(w.ctx, http.MethodPost, w.target, bytes.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", c.sig)
		w.posts.Add(1)
		resp, err := w.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		w.failures.Add(1)
		if sleepCtx(w.ctx, backoff) != nil {
			return
		}
	}
}

// statusOf reads the wamid, recipient and status of a status webhook; ""
// for anything else.
func statusOf(body []byte) (wamid, recipient, status string) {
	var env struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Statuses []struct {
						ID          string `json:"id"`
						RecipientID string `json:"recipient_id"`
						Status      string `json:"status"`
					} `json:"statuses"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", "", ""
	}
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			for _, s := range c.Value.Statuses {
				return s.ID, s.RecipientID, s.Status
			}
		}
	}
	return "", "", ""
}

// pushReplayer is the endpoint of a second push subscription on the
// dispatch topic, so every job reaches dispatch twice: once through the
// stack's own subscription, once from here after a random delay of up to
// three seconds, before or after the first, racing redeliveries of a
// refused attempt and sweep's republishing. It acks each push at once:
// retrying a refused job is the stack's own subscription's work, and an
// ack that waited for dispatch would hold one of the emulator's few push
// threads for as long.
type pushReplayer struct {
	*tracker
	target string // dispatch's own server
	client *http.Client
	rnd    *lockedRand

	pushes, replays atomic.Int64
}

func (p *pushReplayer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	p.pushes.Add(1)
	header, uri := r.Header.Clone(), r.URL.RequestURI()
	delay := p.rnd.duration(0, 3*time.Second)
	p.goForward(func() {
		if sleepCtx(p.ctx, delay) == nil {
			p.replays.Add(1)
			// A refusal, or dispatch killed meanwhile, is fine: the
			// original delivery is redelivered by its own subscription.
			_, _ = p.forward(p.ctx, uri, header, body)
		}
	})
	rw.WriteHeader(http.StatusOK)
}

func (p *pushReplayer) forward(ctx context.Context, uri string, header http.Header, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.target+uri, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = header.Clone()
	for _, k := range []string{"Connection", "Content-Length", "Accept-Encoding"} {
		req.Header.Del(k)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func newServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
