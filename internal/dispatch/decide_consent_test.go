package dispatch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
)

// consentRecorder records opt-outs and their callbacks.
type consentRecorder struct {
	mu      sync.Mutex
	optOuts []string
	urls    []string
}

func (c *consentRecorder) SetMarketingOptOut(_ context.Context, _, phone string, out bool, at time.Time, source string) (domain.Contact, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if out && source == domain.OptOutByMeta {
		c.optOuts = append(c.optOuts, phone)
	}
	return domain.Contact{Phone: phone, Marketing: domain.OptOut{Out: out, At: at, Source: source}}, true, nil
}

func (c *consentRecorder) NotifyOptOut(_ context.Context, _, url string, _ domain.Contact) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.urls = append(c.urls, url)
}

// TestDecide131050OptsOutAnd131049DoesNot: Meta refusing a send because
// its user stopped marketing opts the contact out and tells the tenant;
// the per-user marketing limit fails the message and opts no one out.
func TestDecide131050OptsOutAnd131049DoesNot(t *testing.T) {
	for code, want := range map[int]int{131050: 1, 131049: 0} {
		r := newRig(t)
		rec := &consentRecorder{}
		r.d = dispatch.New(r.st, &memChannels{store: r.st}, r.sender, memSecrets{secretRef: "EAAG-token"}, dispatch.Options{
			Lease: lease, MaxAttempts: 3, MaxDeliveries: maxDeliveries, Notifier: r.notes, Holds: r.notes, Now: func() time.Time { return now },
			Consent: rec, ConsentNotifier: rec,
		})
		r.sender.answer = failWith(&provider.Error{HTTPStatus: 400, Code: code, Title: "refused", Class: provider.Permanent})
		m := r.accepted("m1", "5511987650001")
		if err := r.dispatch(m.ID); err != nil {
			t.Fatalf("%d: %v", code, err)
		}
		if got := r.message(m.ID); got.Status != domain.StatusFailed || got.Attempts != 1 {
			t.Errorf("%d: message %s after %d attempts, want failed after 1", code, got.Status, got.Attempts)
		}
		if len(rec.optOuts) != want || len(rec.urls) != want {
			t.Errorf("%d: opt-outs %v callbacks %v, want %d", code, rec.optOuts, rec.urls, want)
		}
	}
}
