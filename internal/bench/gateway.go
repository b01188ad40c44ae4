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
	// calls reports how many provider calls carried each id as
	// biz_opaque_callback_data, refused ones included.
	calls(ctx context.Context, ids []string) ([]int, error)
	requests(ctx context.Context) ([]sandbox.Request, error)
	reset(ctx context.Context) error
}

type localSandbox struct{ sb *sandbox.Sandbox }

func (l localSandbox) calls(_ context.Context, ids []string) ([]int, error) {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = l.sb.CountByCallback(id)
	}
	return out, nil
}

func (l localSandbox) requests(context.Context) ([]sandbox.Request, error) {
	return l.sb.Requests(), nil
}

func (l localSandbox) reset(context.Context) error { l.sb.Reset(); return nil }

type remoteSandbox struct {
	url string
	hc  *http.Client
}

func (r remoteSandbox) calls(ctx context.Context, ids []string) ([]int, error) {
	all, err := r.requests(ctx)
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, q := range all {
		n[q.CallbackData]++
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = n[id]
	}
	return out, nil
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

// waitCalled waits until the provider has been called for every id (the
// cheap, in-process part of following messages), reporting the fraction
// done. It gives up when no new call arrives for stall.
func (b *Bench) waitCalled(ctx context.Context, ids []string, stall time.Duration, report func(done, all int)) error {
	left := ids
	lastProgress := time.Now()
	for {
		n, err := b.sb.calls(ctx, left)
		if err != nil {
			return err
		}
		var still []string
		for i, id := range left {
			if n[i] == 0 {
				still = append(still, id)
			}
		}
		if len(still) < len(left) {
			lastProgress = time.Now()
		}
		left = still
		if report != nil {
			report(len(ids)-len(left), len(ids))
		}
		if len(left) == 0 {
			return nil
		}
		if time.Since(lastProgress) > stall {
			return fmt.Errorf("%d of %d messages never reached the provider (nothing new for %s)", len(left), len(ids), stall)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
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
// outcome. A message still pending has the outcome's commit time as its
// update time; one the provider's webhooks have moved on (a reused stack
// may send them) has it in its history.
func (b *Bench) settled(ctx context.Context, ids []string, limit time.Duration) (map[string]outcome, error) {
	out := make(map[string]outcome, len(ids))
	left := ids
	deadline := time.Now().Add(limit)
	coll := b.fsRead.Collection("tenants").Doc(demo.TenantID).Collection("messages")
	for len(left) > 0 {
		var still []string
		for start := 0; start < len(left); start += 500 {
			chunk := left[start:min(start+500, len(left))]
			refs := make([]*firestore.DocumentRef, len(chunk))
			for i, id := range chunk {
				refs[i] = coll.Doc(id)
			}
			snaps, err := b.fsRead.GetAll(ctx, refs)
			if err != nil {
				return nil, fmt.Errorf("read messages: %w", err)
			}
			for i, s := range snaps {
				var m domain.Message
				if !s.Exists() || s.DataTo(&m) != nil {
					still = append(still, chunk[i])
					continue
				}
				switch m.Status {
				case domain.StatusAccepted, domain.StatusDispatching:
					still = append(still, chunk[i])
					continue
				case domain.StatusPending:
					out[chunk[i]] = outcome{status: m.Status, pendingAt: s.UpdateTime}
					continue
				}
				o := outcome{status: m.Status}
				for _, h := range m.History {
					if h.Status == domain.StatusPending || h.Status == domain.StatusSent {
						o.pendingAt = h.At
						break
					}
				}
				out[chunk[i]] = o
			}
		}
		left = still
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return out, fmt.Errorf("%d of %d messages had no outcome after %s", len(left), len(ids), limit)
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return out, nil
}
