package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/store"
)

// MaxContacts is the most contacts one emkt 50.01 may carry: the batch
// service's limit (docs/emkt.md).
const MaxContacts = batch.DefaultMaxRecipients

// newHTTPClient keeps enough idle connections for the highest
// concurrency; Go's default of two per host would measure connection
// setup instead of the gateway.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 1024
	t.MaxIdleConns = 1024
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}

// send posts one Atom send of the welcome template to phone through the
// front door and returns the message id of its 202 Pending.
func (b *Bench) send(ctx context.Context, phone string) (string, error) {
	body := `{"templateId":"welcome","phoneNumber":"` + phone + `","firstName":"Cliente","params":{"1":"Cliente","2":"templategw"}}`
	code, raw, err := b.post(ctx, "/templates", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	var a struct {
		Data struct {
			MessageID string `json:"message_id"`
		} `json:"data"`
	}
	if code != http.StatusAccepted || json.Unmarshal(raw, &a) != nil || a.Data.MessageID == "" {
		return "", fmt.Errorf("send answered %d %s, want 202 Pending", code, bytes.TrimSpace(raw))
	}
	return a.Data.MessageID, nil
}

// postEmkt sends a 50.01 and returns its batch code.
func (b *Bench) postEmkt(ctx context.Context, body []byte) (string, error) {
	code, raw, err := b.post(ctx, "/emkt/", "application/xml", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	var a struct {
		Emkt struct {
			Return string `xml:"return"`
		} `xml:"emkt"`
	}
	if code != http.StatusOK || xml.Unmarshal(raw, &a) != nil || a.Emkt.Return == "" {
		return "", fmt.Errorf("50.01 answered %d %s", code, bytes.TrimSpace(raw))
	}
	return a.Emkt.Return, nil
}

// batchIDs are the message ids of a batch's n contacts, in order.
func (b *Bench) batchIDs(ctx context.Context, code string, n int) ([]string, error) {
	rec, err := store.New(b.fsRead).BatchByCode(ctx, demo.TenantID, code)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", code, err)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = batch.MessageID(rec.ID, i)
	}
	return out, nil
}

// postBatch sends a 50.01 of n contacts and returns their message ids.
func (b *Bench) postBatch(ctx context.Context, body []byte, n int) ([]string, error) {
	code, err := b.postEmkt(ctx, body)
	if err != nil {
		return nil, err
	}
	return b.batchIDs(ctx, code, n)
}

// post sends body to path behind the front door with the demo token and
// returns the answer's status and (up to 64 KiB of) body.
func (b *Bench) post(ctx context.Context, path, contentType string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.stack.Base+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+demo.Token)
	req.Header.Set("Content-Type", contentType)
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, raw, err
}

// emktBody is demo.EmktBatch in memory: the request is generated before
// it is timed, so the generator's work is not counted against the gateway
// on a machine they share.
func emktBody(n int, phone func(i int) string) []byte {
	var b bytes.Buffer
	b.Grow(n * 150)
	_ = demo.EmktBatch(&b, "", n, phone) // a bytes.Buffer does not fail
	return b.Bytes()
}

// phones numbers one kind of recipient by its DDD: distinct Brazilian
// mobiles (DDD, then 9 and eight digits) whose last four digits stay
// clear of the sandbox's failure suffixes (0001 to 0009).
type phones string

// The recipients' DDDs, one a kind, so that no two phases share a
// number or a conversation.
const (
	atomPhones     phones = "11" // the Atom sends
	rawPhones      phones = "12" // the raw creates' documents
	emktPhones     phones = "21" // the emkt batch
	emktWarmPhones phones = "22"
	pacePhones     phones = "23"
	fairnessPhones phones = "24"
	recoveryPhones phones = "25" // the recovery phase's backlog
)

// national is recipient i's number without the country code: 11 digits.
func (p phones) national(i int) string {
	return fmt.Sprintf("%s9%04d%04d", string(p), i/9000, 1000+i%9000)
}

// full is recipient i's number with Brazil's country code, as the Atom
// API and Meta take it.
func (p phones) full(i int) string { return demo.CountryCode + p.national(i) }

// sent is one accepted message of a measured phase.
type sent struct {
	id string
	at time.Time
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
	return slices.Clone(l.msgs)
}

func ids(s []sent) []string {
	out := make([]string, len(s))
	for i, m := range s {
		out[i] = m.id
	}
	return out
}

// poll calls step every 200 ms until it says it is done, and gives up,
// stalled, when it has not said it progressed for stall.
func poll(ctx context.Context, stall time.Duration, step func() (progressed, done bool, err error)) (stalled bool, err error) {
	last := time.Now()
	for {
		progressed, done, err := step()
		if err != nil || done {
			return false, err
		}
		if progressed {
			last = time.Now()
		} else if time.Since(last) > stall {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitAccepted follows the provider's calls until it has accepted one for
// every id: a call refused for throughput is tried again, so only an
// accepted one means the message went. tick, when set, is told how many
// are. It gives up when nothing new is accepted for stall.
func (b *Bench) waitAccepted(ctx context.Context, requests func() []sandbox.Request, ids []string, stall time.Duration, what string, tick func(done int)) error {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	seen, done := 0, 0
	stalled, err := poll(ctx, stall, func() (bool, bool, error) {
		reqs := requests()
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
		b.prog.status("%s: %d of %d messages at the provider", what, done, len(ids))
		if tick != nil {
			tick(done)
		}
		return done > before, done == len(ids), nil
	})
	if stalled {
		return fmt.Errorf("%d of %d messages never accepted by the provider (nothing new for %s)", len(ids)-done, len(ids), stall)
	}
	return err
}

// watch reads the demo tenant's messages ids straight from the emulator,
// 500 to a call, every 200 ms, and hands each to done until done says it
// is finished with it. It returns the ids left when every one is
// finished or when none has been for stall.
func (b *Bench) watch(ctx context.Context, ids []string, stall time.Duration, done func(id string, s *firestore.DocumentSnapshot) bool) ([]string, error) {
	coll := b.fsRead.Collection("tenants").Doc(demo.TenantID).Collection("messages")
	left := ids
	_, err := poll(ctx, stall, func() (bool, bool, error) {
		var still []string
		for chunk := range slices.Chunk(left, 500) {
			refs := make([]*firestore.DocumentRef, len(chunk))
			for i, id := range chunk {
				refs[i] = coll.Doc(id)
			}
			snaps, err := b.fsRead.GetAll(ctx, refs)
			if err != nil {
				return false, false, fmt.Errorf("read messages: %w", err)
			}
			for i, s := range snaps {
				if !done(chunk[i], s) {
					still = append(still, chunk[i])
				}
			}
		}
		progressed := len(still) < len(left)
		left = still
		return progressed, len(left) == 0, nil
	})
	return left, err
}

// outcome is where a message settled and when.
type outcome struct {
	status    domain.Status
	pendingAt time.Time // when dispatch's outcome was committed; zero if it failed
	claimedAt time.Time // when dispatch's last claim was made, by its clock
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
			if h.Status == domain.StatusDispatching {
				o.claimedAt = h.At
			}
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
