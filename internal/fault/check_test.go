package fault_test

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
)

// sentMessage is one send the gateway answered 2xx.
type sentMessage struct {
	ID, Phone string
	At        time.Time // when the 2xx answer arrived
}

// report is what the suite proves about the accepted messages, from
// Firestore and from the sandbox's own record of the calls it received.
type report struct {
	Accepted int
	ByStatus map[domain.Status]int
	// ThroughUnknown counts messages whose history passed through unknown
	// (a timeout after the request left, or a lease that ran out).
	ThroughUnknown int
	// ProviderCalls counts every send call the sandbox received for these
	// messages, refused ones included; ProviderAccepted the ones it took.
	ProviderCalls, ProviderAccepted int
	// Duplicates counts messages handed to the provider twice: two calls
	// the sandbox accepted, or any call after the message was marked
	// unknown once it had been called before.
	Duplicates int
	// LateFirstCalls counts messages whose only call reached the sandbox
	// after sweep had marked them unknown (a dispatch stalled past its
	// lease): handed over once, and reconciled by the webhook.
	LateFirstCalls int
	Problems       []string
}

// settledStates are where a message may rest once nothing is in flight.
// pending is not among them: it means Meta accepted the send and its
// statuses are on the way, and every status the sandbox posts is delivered
// here, so a message left pending lost a webhook.
var settledStates = map[domain.Status]bool{
	domain.StatusSent: true, domain.StatusDelivered: true, domain.StatusRead: true,
	domain.StatusFailed: true, domain.StatusUnknown: true,
}

// expectedFailure is the Meta error code a recipient of the sandbox's
// failure table ends failed with; recipients not listed end read.
var expectedFailure = map[string]int{
	"0001": 131026, // refused at once, permanent
	"0002": 131000, // 500 on every call: unknown, or failed once attempts run out
	"0009": 131026, // accepted, then reported failed by webhook
}

func (r report) line() string {
	return fmt.Sprintf("fault: accepted=%d read=%d delivered=%d sent=%d pending=%d failed=%d unknown=%d through_unknown=%d provider_calls=%d provider_accepted=%d late_first_calls=%d duplicates=%d",
		r.Accepted, r.ByStatus[domain.StatusRead], r.ByStatus[domain.StatusDelivered], r.ByStatus[domain.StatusSent],
		r.ByStatus[domain.StatusPending], r.ByStatus[domain.StatusFailed], r.ByStatus[domain.StatusUnknown],
		r.ThroughUnknown, r.ProviderCalls, r.ProviderAccepted, r.LateFirstCalls, r.Duplicates)
}

// check holds every accepted message to the invariants: it exists, it
// rests in a settled state that fits its recipient, its history only ever
// took steps the state machine allows, it was handed to the provider at
// most once and never called again after its outcome was unknown, and the
// counts add up.
func check(sent []sentMessage, msgs map[string]*domain.Message, calls []sandbox.Request) report {
	r := report{Accepted: len(sent), ByStatus: map[domain.Status]int{}}
	problem := func(id, format string, args ...any) {
		r.Problems = append(r.Problems, id+": "+fmt.Sprintf(format, args...))
	}
	byMessage := map[string][]sandbox.Request{}
	for _, c := range calls {
		byMessage[c.CallbackData] = append(byMessage[c.CallbackData], c)
	}
	known := map[string]bool{}
	for _, s := range sent {
		known[s.ID] = true
	}
	for id, cs := range byMessage {
		if !known[id] {
			problem(id, "%d provider calls for a message no 2xx answer named", len(cs))
		}
	}

	for _, s := range sent {
		m := msgs[s.ID]
		if m == nil {
			problem(s.ID, "accepted (2xx) but not in Firestore: lost")
			continue
		}
		r.ByStatus[m.Status]++
		hist := historyString(m.History)
		if !settledStates[m.Status] {
			problem(s.ID, "rests in %s (history %s)", m.Status, hist)
		}
		checkHistory(m, func(f string, a ...any) { problem(s.ID, f+" (history %s)", append(a, hist)...) })

		cs := byMessage[s.ID]
		r.ProviderCalls += len(cs)
		var ok []sandbox.Request
		for _, c := range cs {
			if c.Status/100 == 2 {
				ok = append(ok, c)
			}
		}
		r.ProviderAccepted += len(ok)
		duplicate := len(ok) > 1
		if duplicate {
			problem(s.ID, "handed to the provider %d times: %s", len(ok), callsString(cs))
		}
		if at, ok := firstUnknown(m.History); ok {
			r.ThroughUnknown++
			var after int
			for _, c := range cs {
				if c.At.After(at) {
					after++
				}
			}
			switch {
			case after > 0 && len(cs) > 1:
				duplicate = true
				problem(s.ID, "called again after it was marked unknown at %s: %s", at.Format(time.RFC3339Nano), callsString(cs))
			case after > 0:
				r.LateFirstCalls++
			}
		}
		if duplicate {
			r.Duplicates++
		}

		// The outcome fits the recipient. unknown fits any recipient the
		// provider never accepted a call for: a webhook reconciles every
		// accepted one.
		suffix := s.Phone[max(0, len(s.Phone)-4):]
		want, fails := expectedFailure[suffix]
		switch {
		case m.Status == domain.StatusUnknown:
			if len(ok) > 0 {
				problem(s.ID, "still unknown although the provider accepted it (%s): its webhook never reconciled it", ok[0].WAMID)
			}
		case fails:
			if m.Status != domain.StatusFailed || m.Error == nil || m.Error.Code != want {
				problem(s.ID, "recipient …%s ended %s with error %+v, want failed with %d", suffix, m.Status, m.Error, want)
			}
		default:
			if m.Status != domain.StatusRead {
				problem(s.ID, "recipient …%s ended %s (error %+v), want read", suffix, m.Status, m.Error)
			}
		}
		if m.ProviderMessageID != "" && (len(ok) != 1 || ok[0].WAMID != m.ProviderMessageID) {
			problem(s.ID, "provider message id %s does not match the sandbox's accepted calls %s", m.ProviderMessageID, callsString(cs))
		}
		if (m.Status == domain.StatusRead || m.Status == domain.StatusDelivered || m.Status == domain.StatusSent) && len(ok) != 1 {
			problem(s.ID, "%s with %d accepted provider calls", m.Status, len(ok))
		}
	}

	total := 0
	for _, n := range r.ByStatus {
		total += n
	}
	if missing := r.Accepted - total; missing != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("counts do not add up: %d accepted, %d found in Firestore", r.Accepted, total))
	}
	sort.Strings(r.Problems)
	return r
}

// checkHistory reports a history that does not start at accepted, does
// not end at the message's status, or takes a step the state machine
// refuses: such a message moved backwards.
func checkHistory(m *domain.Message, problem func(string, ...any)) {
	h := m.History
	if len(h) == 0 || h[0].Status != domain.StatusAccepted {
		problem("history does not start at accepted")
		return
	}
	if h[len(h)-1].Status != m.Status {
		problem("history ends at %s, status is %s", h[len(h)-1].Status, m.Status)
	}
	for i := 1; i < len(h); i++ {
		if !domain.CanMove(h[i-1].Status, h[i].Status) {
			problem("moved backwards: %s → %s", h[i-1].Status, h[i].Status)
		}
	}
}

func firstUnknown(h []domain.HistoryEntry) (time.Time, bool) {
	for _, e := range h {
		if e.Status == domain.StatusUnknown {
			return e.At, true
		}
	}
	return time.Time{}, false
}

func historyString(h []domain.HistoryEntry) string {
	parts := make([]string, len(h))
	for i, e := range h {
		parts[i] = string(e.Status) + "@" + e.At.Format("15:04:05.000")
	}
	return strings.Join(parts, " → ")
}

func callsString(cs []sandbox.Request) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%d/%d@%s", c.Status, c.ErrorCode, c.At.Format("15:04:05.000"))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
