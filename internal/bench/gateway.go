package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
)

// newHTTPClient keeps enough idle connections for the highest
// concurrency; Go's default of two per host would measure connection
// setup instead of the gateway.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 1024
	t.MaxIdleConns = 1024
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}

// atomAnswer is the Atom API's envelope.
type atomAnswer struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Data    struct {
		MessageID string `json:"message_id"`
	} `json:"data"`
}

// send posts one Atom send of the welcome template to phone through the
// front door and returns the message id of its 202 Pending.
func (b *Bench) send(ctx context.Context, phone string) (string, error) {
	body := `{"templateId":"welcome","phoneNumber":"` + phone + `","firstName":"Cliente","params":{"1":"Cliente","2":"templategw"}}`
	code, raw, err := b.post(ctx, "/templates", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	var a atomAnswer
	if code != http.StatusAccepted || json.Unmarshal(raw, &a) != nil || a.Data.MessageID == "" {
		return "", fmt.Errorf("send answered %d %s, want 202 Pending", code, bytes.TrimSpace(raw))
	}
	return a.Data.MessageID, nil
}

// post sends body to path behind the front door with the demo token and
// returns the answer's status and (up to 64 KiB of) body.
func (b *Bench) post(ctx context.Context, path, contentType string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.opts.Token)
	req.Header.Set("Content-Type", contentType)
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, raw, err
}

// sent is one accepted message of a measured phase.
type sent struct {
	id string
	at time.Time // when its request started
}

// sentLog collects the messages a phase got accepted.
type sentLog struct {
	mu   sync.Mutex
	msgs []sent
}

func (l *sentLog) add(id string, at time.Time) {
	l.mu.Lock()
	l.msgs = append(l.msgs, sent{id, at})
	l.mu.Unlock()
}

func (l *sentLog) all() []sent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sent(nil), l.msgs...)
}

func ids(s []sent) []string {
	out := make([]string, len(s))
	for i, m := range s {
		out[i] = m.id
	}
	return out
}

// sandboxView is what the benchmark reads of the sandbox provider: in
// process when it started the stack, over /_sandbox/ when it reuses one.
type sandboxView interface {
	requests(ctx context.Context) ([]sandbox.Request, error)
	reset(ctx context.Context) error
}

type localSandbox struct{ sb *sandbox.Sandbox }

func (l localSandbox) requests(context.Context) ([]sandbox.Request, error) {
	return l.sb.Requests(), nil
}

func (l localSandbox) reset(context.Context) error { l.sb.Reset(); return nil }

type remoteSandbox struct {
	url string
	hc  *http.Client
}

func (r remoteSandbox) requests(ctx context.Context) ([]sandbox.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/_sandbox/requests", nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sandbox requests: %s", resp.Status)
	}
	var a struct {
		Requests []sandbox.Request `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("sandbox requests: %w", err)
	}
	return a.Requests, nil
}

func (r remoteSandbox) reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, r.url+"/_sandbox/requests", nil)
	if err != nil {
		return err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("sandbox reset: %s", resp.Status)
	}
	return nil
}

// waitAccepted follows the provider's calls until it has accepted one for
// every id (a call refused for throughput is tried again, so only an
// accepted one means the message went), reporting progress. It gives up
// when nothing new is accepted for stall.
func waitAccepted(ctx context.Context, requests func(context.Context) ([]sandbox.Request, error), ids []string, stall time.Duration, report func(done, all int)) error {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	seen, done := 0, 0
	lastProgress := time.Now()
	for {
		reqs, err := requests(ctx)
		if err != nil {
			return err
		}
		if len(reqs) < seen {
			seen = 0 // reset underneath us: count afresh
		}
		before := done
		for _, r := range reqs[seen:] {
			if r.Status == http.StatusOK && want[r.CallbackData] {
				delete(want, r.CallbackData)
				done++
			}
		}
		seen = len(reqs)
		if done > before {
			lastProgress = time.Now()
		}
		if report != nil {
			report(done, len(ids))
		}
		if done == len(ids) {
			return nil
		}
		if time.Since(lastProgress) > stall {
			return fmt.Errorf("%d of %d messages never accepted by the provider (nothing new for %s)", len(ids)-done, len(ids), stall)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// watch reads the demo tenant's messages ids straight from the emulator
// (never through the counting door: following is not the gateway's
// work), 500 to a call, every 200 ms, and hands each to done until done
// says it is finished with it. It returns the ids left when every one is
// finished or when none has been for stall.
func (b *Bench) watch(ctx context.Context, ids []string, stall time.Duration, done func(id string, s *firestore.DocumentSnapshot) bool) ([]string, error) {
	coll := b.fsRead.Collection("tenants").Doc(demo.TenantID).Collection("messages")
	left, last := ids, time.Now()
	for {
		var still []string
		for start := 0; start < len(left); start += 500 {
			chunk := left[start:min(start+500, len(left))]
			refs := make([]*firestore.DocumentRef, len(chunk))
			for i, id := range chunk {
				refs[i] = coll.Doc(id)
			}
			snaps, err := b.fsRead.GetAll(ctx, refs)
			if err != nil {
				return left, fmt.Errorf("read messages: %w", err)
			}
			for i, s := range snaps {
				if !done(chunk[i], s) {
					still = append(still, chunk[i])
				}
			}
		}
		if len(still) < len(left) {
			last = time.Now()
		}
		left = still
		if len(left) == 0 || time.Since(last) > stall {
			return left, nil
		}
		select {
		case <-ctx.Done():
			return left, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// outcome is where a message settled and when.
type outcome struct {
	status    domain.Status
	pendingAt time.Time // when dispatch's outcome was committed; zero if it failed
}

// settled reads the messages until dispatch has written each one's
// outcome, giving up when none has settled for stall. A message still
// pending has the outcome's commit time as its update time; one the
// provider's webhooks have moved on has it in its history.
func (b *Bench) settled(ctx context.Context, ids []string, stall time.Duration) (map[string]outcome, error) {
	out := make(map[string]outcome, len(ids))
	left, err := b.watch(ctx, ids, stall, func(id string, s *firestore.DocumentSnapshot) bool {
		var m domain.Message
		if !s.Exists() || s.DataTo(&m) != nil || m.Status == domain.StatusAccepted || m.Status == domain.StatusDispatching {
			return false
		}
		o := outcome{status: m.Status}
		if m.Status == domain.StatusPending {
			o.pendingAt = s.UpdateTime
		}
		for _, h := range m.History {
			if o.pendingAt.IsZero() && (h.Status == domain.StatusPending || h.Status == domain.StatusSent) {
				o.pendingAt = h.At
			}
		}
		out[id] = o
		return true
	})
	if err == nil && len(left) > 0 {
		err = fmt.Errorf("%d of %d messages had no outcome after %s without one settling", len(left), len(ids), stall)
	}
	return out, err
}
