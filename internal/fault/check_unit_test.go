package fault_test

import (
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
)

// TestFaultCheckCatchesViolations proves the suite's checker fails what it
// must: a lost message, a double hand-over, a resend after unknown, a step
// backwards, a message left pending and counts that do not add up, and
// passes a clean run.
func TestFaultCheckCatchesViolations(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	hist := func(steps ...domain.Status) []domain.HistoryEntry {
		h := make([]domain.HistoryEntry, len(steps))
		for i, s := range steps {
			h[i] = domain.HistoryEntry{Status: s, At: at(i)}
		}
		return h
	}
	read := func(id string) *domain.Message {
		return &domain.Message{ID: id, Status: domain.StatusRead, ProviderMessageID: "wamid." + id,
			History: hist(domain.StatusAccepted, domain.StatusDispatching, domain.StatusPending, domain.StatusSent, domain.StatusDelivered, domain.StatusRead)}
	}
	call := func(id string, status int, s int) sandbox.Request {
		c := sandbox.Request{CallbackData: id, Status: status, At: at(s)}
		if status == 200 {
			c.WAMID = "wamid." + id
		}
		return c
	}
	clean := func() ([]sentMessage, map[string]*domain.Message, []sandbox.Request) {
		unknown := &domain.Message{ID: "u", Status: domain.StatusRead, ProviderMessageID: "wamid.u",
			History: hist(domain.StatusAccepted, domain.StatusDispatching, domain.StatusUnknown, domain.StatusSent, domain.StatusRead)}
		failed := &domain.Message{ID: "f", Status: domain.StatusFailed, Error: &domain.MessageError{Code: 131000},
			History: hist(domain.StatusAccepted, domain.StatusDispatching, domain.StatusAccepted, domain.StatusDispatching, domain.StatusFailed)}
		return []sentMessage{{ID: "a", Phone: "5511900001234"}, {ID: "u", Phone: "5511900010003"}, {ID: "f", Phone: "5511900020002"}},
			map[string]*domain.Message{"a": read("a"), "u": unknown, "f": failed},
			[]sandbox.Request{call("a", 200, 1), call("u", 200, 1), call("f", 500, 1), call("f", 500, 3)}
	}

	sent, msgs, calls := clean()
	if r := check(sent, msgs, calls); len(r.Problems) > 0 || r.Duplicates != 0 || r.ThroughUnknown != 1 || r.ProviderCalls != 4 || r.ProviderAccepted != 2 {
		t.Fatalf("clean run: %s %q", r.line(), r.Problems)
	}

	for _, tt := range []struct {
		name   string
		mutate func(sent *[]sentMessage, msgs map[string]*domain.Message, calls *[]sandbox.Request)
		want   string
		dup    bool
	}{
		{"lost", func(_ *[]sentMessage, msgs map[string]*domain.Message, _ *[]sandbox.Request) { delete(msgs, "a") }, "lost", false},
		{"twice", func(_ *[]sentMessage, _ map[string]*domain.Message, calls *[]sandbox.Request) {
			*calls = append(*calls, call("a", 200, 5))
		}, "handed to the provider 2 times", true},
		{"resent after unknown", func(_ *[]sentMessage, _ map[string]*domain.Message, calls *[]sandbox.Request) {
			*calls = append(*calls, call("u", 500, 9))
		}, "called again after it was marked unknown", true},
		{"backwards", func(_ *[]sentMessage, msgs map[string]*domain.Message, _ *[]sandbox.Request) {
			m := msgs["a"]
			m.History = append(m.History, domain.HistoryEntry{Status: domain.StatusSent, At: at(9)})
			m.Status = domain.StatusSent
		}, "moved backwards: read → sent", false},
		{"pending", func(_ *[]sentMessage, msgs map[string]*domain.Message, _ *[]sandbox.Request) {
			m := msgs["a"]
			m.Status, m.History = domain.StatusPending, m.History[:3]
		}, "rests in pending", false},
		{"stray call", func(_ *[]sentMessage, _ map[string]*domain.Message, calls *[]sandbox.Request) {
			*calls = append(*calls, call("zz", 200, 1))
		}, "no 2xx answer named", false},
		{"unknown never reconciled", func(_ *[]sentMessage, msgs map[string]*domain.Message, _ *[]sandbox.Request) {
			m := msgs["u"]
			m.Status, m.History = domain.StatusUnknown, m.History[:3]
		}, "never reconciled", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sent, msgs, calls := clean()
			tt.mutate(&sent, msgs, &calls)
			r := check(sent, msgs, calls)
			if !strings.Contains(strings.Join(r.Problems, "\n"), tt.want) {
				t.Errorf("problems %q, want one saying %q", r.Problems, tt.want)
			}
			if tt.dup != (r.Duplicates > 0) {
				t.Errorf("duplicates = %d", r.Duplicates)
			}
		})
	}
}
