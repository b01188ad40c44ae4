package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Figures are one run's measurements. Rates are per second, latencies in
// milliseconds. A figure the run could not measure (a reused stack's
// commits and memory) is null in JSON.
type Figures struct {
	Cores        int     `json:"cores"`
	PhaseSeconds float64 `json:"phaseSeconds"`
	// Concurrency is the closed loops': the raw creates' and accept's.
	Concurrency int `json:"concurrency"`
	// PushPullErrors is how often a Pusher's pull failed (and was tried
	// again); PushLastError is the last pull, ack or nack error.
	PushPullErrors int    `json:"pushPullErrors"`
	PushLastError  string `json:"pushLastError,omitempty"`

	// RawCreatePerSec is the Firestore emulator's one-document create
	// rate, closed loop.
	RawCreatePerSec float64 `json:"rawCreatePerSec"`

	// Accept, dispatch paused: its capacity, closed loop, and the latency
	// at AcceptHalfLoadPerSec, half of it offered open loop (DESIGN §8's
	// 50 % of the gateway's measured capacity).
	AcceptPerSec         float64 `json:"acceptPerSec"`
	AcceptHalfLoadPerSec float64 `json:"acceptHalfLoadPerSec"`
	AcceptP50Ms          float64 `json:"acceptP50Ms"`
	AcceptP95Ms          float64 `json:"acceptP95Ms"`
	AcceptP99Ms          float64 `json:"acceptP99Ms"`
	AcceptErrors         int     `json:"acceptErrors"`

	// The emkt batch (EmktContacts contacts; DESIGN's figure is for
	// 100,000).
	EmktContacts        int      `json:"emktContacts"`
	EmktAnswerSeconds   float64  `json:"emkt100kAnswerSeconds"`
	EmktAddedPeakMiB    *float64 `json:"emkt100kAddedPeakMiB"`
	EmktDispatchSeconds float64  `json:"emkt100kDispatchSeconds"` // from the request to the last contact's accepted call
	EmktDispatchPerSec  float64  `json:"emkt100kDispatchPerSec"`
	EmktExactlyOnce     bool     `json:"emkt100kDispatchedExactlyOnce"`
	// EmktDispatched counts the contacts the provider accepted at least
	// once within Options.EmktLimit, EmktDuplicated those it accepted more
	// than once: exactly once is EmktDispatched = EmktContacts and
	// EmktDuplicated = 0.
	EmktDispatched        int      `json:"emkt100kDispatched"`
	EmktDuplicated        int      `json:"emkt100kDuplicated"`
	EmktProviderCalls     int      `json:"emkt100kProviderCalls"`
	EmktCommitsPerMessage *float64 `json:"emkt100kCommitsPerMessage"`

	// CPU is the cores each process used in each phase: the functions by
	// name, the emulators, "bench" (load generator, proxy, sandbox and
	// front door), "others" (the rest of the machine) and "machine".
	CPU map[string]map[string]float64 `json:"cpuCores"`

	// The life, pacing, fairness and recovery phases' figures; absent
	// from a run that does not measure them.
	*LifeFigures
	*PacingFigures
	*FairnessFigures
	*RecoveryFigures

	// Phases are the phases the run measured (Phases, or what
	// Options.Only chose).
	Phases []string `json:"phases"`

	Checks       []Check `json:"checks"`
	TotalSeconds float64 `json:"totalSeconds"`
}

// PacingFigures are the pacing phase's: a broadcast of PaceMessages
// contacts through PaceInstances dispatch processes, each with its own
// Pacer, to one number the provider limits to PaceRate.
type PacingFigures struct {
	PaceMessages  int `json:"pacingMessages"`
	PaceInstances int `json:"pacingInstances"`
	PaceRate      int `json:"pacingRate"`
	// PaceAchievedPerSec is the provider's accepted calls over the time
	// from its first to its last; PaceAchievedRatio that over PaceRate.
	PaceAchievedPerSec float64 `json:"pacingAchievedPerSec"`
	PaceAchievedRatio  float64 `json:"pacingAchievedRatio"`
	PaceFailed         int     `json:"pacingFailed"`
	PaceUnknown        int     `json:"pacingUnknown"`
	// PaceUnsettled are the messages still accepted (or held) when the
	// phase gave up waiting: neither sent nor failed.
	PaceUnsettled     int     `json:"pacingUnsettled"`
	PaceProviderCalls int     `json:"pacingProviderCalls"`
	Pace130429Share   float64 `json:"pacing130429Share"` // of PaceProviderCalls
}

// FairnessFigures are the fairness phase's: single sends, one every
// 200 ms, while a broadcast of FairnessContacts drains through the same
// dispatch processes and number as the pacing phase's.
type FairnessFigures struct {
	FairnessContacts int `json:"fairnessContacts"`
	// FairnessBulkSeconds is from the broadcast's request to its last
	// contact accepted by the provider.
	FairnessBulkSeconds float64 `json:"fairnessBulkSeconds"`
	FairnessSingles     int     `json:"fairnessSingles"`
	FairnessSendErrors  int     `json:"fairnessSendErrors"`
	FairnessNotPending  int     `json:"fairnessNotPending"`
	// SingleDuringBulk* are the times from a single send's 202 to its
	// outcome, pending, being written.
	SingleDuringBulkP50Ms float64 `json:"singleDuringBulkP50Ms"`
	SingleDuringBulkP99Ms float64 `json:"singleDuringBulkP99Ms"`
	SingleDuringBulkMaxMs float64 `json:"singleDuringBulkMaxMs"`
}

// Check is one DESIGN §8 figure against its target.
type Check struct {
	Figure string `json:"figure"`
	Value  string `json:"value"`
	Target string `json:"target"`
	// Pass is null when the figure was not measured.
	Pass *bool `json:"pass"`
}

// The targets of DESIGN §8.
const (
	TargetAcceptP50Ms       = 10
	TargetAcceptP99Ms       = 30
	TargetEmktAnswerSeconds = 5
	TargetEmktAddedPeakMiB  = 64
	TargetPaceRatio         = 0.9
	TargetPace130429Share   = 0.05
	TargetSingleP99Ms       = 3000
)

// ran reports whether the run measured phase.
func (f *Figures) ran(phase string) bool { return slices.Contains(f.Phases, phase) }

func (f *Figures) check() {
	pass := func(ok bool) *bool { return &ok }
	add := func(figure, value, target string, ok *bool) {
		f.Checks = append(f.Checks, Check{Figure: figure, Value: value, Target: target, Pass: ok})
	}
	if f.ran("accept") {
		add("accept latency at 50 % of the gateway's measured capacity",
			fmt.Sprintf("p50 %.1f ms, p99 %.1f ms at %.0f/s (half of %.0f/s)", f.AcceptP50Ms, f.AcceptP99Ms, f.AcceptHalfLoadPerSec, f.AcceptPerSec),
			"p50 ≤ 10 ms, p99 ≤ 30 ms", pass(f.AcceptP50Ms <= TargetAcceptP50Ms && f.AcceptP99Ms <= TargetAcceptP99Ms))
	}
	if l := f.LifeFigures; l != nil {
		f.Checks = append(f.Checks, l.checks()...)
	}
	if f.ran("emkt") {
		add(fmt.Sprintf("emkt %d-contact answer", f.EmktContacts), fmt.Sprintf("%.2f s", f.EmktAnswerSeconds), "≤ 5 s", pass(f.EmktAnswerSeconds <= TargetEmktAnswerSeconds))
		if f.EmktAddedPeakMiB != nil {
			add("emkt added peak memory", fmt.Sprintf("%.1f MiB", *f.EmktAddedPeakMiB), "≤ 64 MiB", pass(*f.EmktAddedPeakMiB <= TargetEmktAddedPeakMiB))
		} else {
			add("emkt added peak memory", "not measured", "≤ 64 MiB", nil)
		}
		once := fmt.Sprintf("%v (%d of %d contacts at the provider, %d twice or more; the last after %.0f s)",
			f.EmktExactlyOnce, f.EmktDispatched, f.EmktContacts, f.EmktDuplicated, f.EmktDispatchSeconds)
		add("emkt dispatched exactly once", once, "every contact once", pass(f.EmktExactlyOnce))
	}
	if p := f.PacingFigures; p != nil {
		add(fmt.Sprintf("pacing: %d dispatch processes, one number at %d/s, %d messages", p.PaceInstances, p.PaceRate, p.PaceMessages),
			fmt.Sprintf("%.2f × %d/s (%.1f/s); %d failed, %d unknown, %d unsettled; 130429 on %.1f %% of %d calls",
				p.PaceAchievedRatio, p.PaceRate, p.PaceAchievedPerSec, p.PaceFailed, p.PaceUnknown, p.PaceUnsettled, 100*p.Pace130429Share, p.PaceProviderCalls),
			"≥ 0.90 ×; 0 failed; 0 unknown; 130429 ≤ 5 %",
			pass(p.PaceAchievedRatio >= TargetPaceRatio && p.PaceFailed == 0 && p.PaceUnknown == 0 && p.PaceUnsettled == 0 && p.Pace130429Share <= TargetPace130429Share))
	}
	if q := f.FairnessFigures; q != nil {
		add(fmt.Sprintf("a single send while a %d-contact batch drains", q.FairnessContacts),
			fmt.Sprintf("p99 %.0f ms to pending (%d sends, %d not pending, %d refused)", q.SingleDuringBulkP99Ms, q.FairnessSingles, q.FairnessNotPending, q.FairnessSendErrors),
			"p99 ≤ 3 s", pass(q.SingleDuringBulkP99Ms <= TargetSingleP99Ms && q.FairnessNotPending == 0 && q.FairnessSendErrors == 0))
	}
	if q := f.RecoveryFigures; q != nil {
		f.Checks = append(f.Checks, q.check())
	}
}

// Passed reports whether every measured figure met its target.
func (f *Figures) Passed() bool {
	for _, c := range f.Checks {
		if c.Pass != nil && !*c.Pass {
			return false
		}
	}
	return true
}

// WriteJSON writes the figures as indented JSON.
func (f *Figures) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// WriteReport writes the figures for a person: each phase's, then every
// DESIGN §8 figure beside its target, and where the CPU went.
func (f *Figures) WriteReport(w io.Writer) error {
	if f.ran("baselines") {
		fmt.Fprintf(w, "Firestore emulator creates: %.0f/s (concurrency %d, %d cores, %.0f s phases)\n", f.RawCreatePerSec, f.Concurrency, f.Cores, f.PhaseSeconds)
	}
	if f.ran("accept") {
		fmt.Fprintf(w, "\naccept through the front door (dispatch paused): %.0f/s closed loop; at %.0f/s open loop (half that): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms; %d errors\n",
			f.AcceptPerSec, f.AcceptHalfLoadPerSec, f.AcceptP50Ms, f.AcceptP95Ms, f.AcceptP99Ms, f.AcceptErrors)
	}
	if f.PushPullErrors > 0 {
		fmt.Fprintf(w, "\nPub/Sub delivery: %d pulls failed, last error: %s\n", f.PushPullErrors, f.PushLastError)
	}

	if f.ran("emkt") {
		fmt.Fprintf(w, "\nemkt 50.01 of %d contacts: answered in %.2f s", f.EmktContacts, f.EmktAnswerSeconds)
		if f.EmktAddedPeakMiB != nil {
			fmt.Fprintf(w, ", +%.1f MiB peak", *f.EmktAddedPeakMiB)
		}
		fmt.Fprintf(w, "; every contact at the provider after %.1f s (%.0f/s), %d provider calls", f.EmktDispatchSeconds, f.EmktDispatchPerSec, f.EmktProviderCalls)
		if f.EmktCommitsPerMessage != nil {
			fmt.Fprintf(w, ", %.2f commits per message", *f.EmktCommitsPerMessage)
		}
		fmt.Fprintln(w)
	}

	if l := f.LifeFigures; l != nil {
		l.report(w)
	}

	if p := f.PacingFigures; p != nil {
		fmt.Fprintf(w, "\npacing (%d dispatch processes, each with its own pacer; one number the provider limits to %d/s): %d messages at %.1f/s, %.2f × the limit; %d failed, %d unknown, %d unsettled; %d provider calls, %.1f %% refused with 130429\n",
			p.PaceInstances, p.PaceRate, p.PaceMessages, p.PaceAchievedPerSec, p.PaceAchievedRatio, p.PaceFailed, p.PaceUnknown, p.PaceUnsettled, p.PaceProviderCalls, 100*p.Pace130429Share)
	}
	if q := f.FairnessFigures; q != nil {
		fmt.Fprintf(w, "\nfairness (a %d-contact broadcast through the same processes and number, drained in %.0f s): %d single sends, one every 200 ms, 202 to pending p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d refused, %d not pending)\n",
			q.FairnessContacts, q.FairnessBulkSeconds, q.FairnessSingles, q.SingleDuringBulkP50Ms, q.SingleDuringBulkP99Ms, q.SingleDuringBulkMaxMs, q.FairnessSendErrors, q.FairnessNotPending)
	}
	if q := f.RecoveryFigures; q != nil {
		q.report(w)
	}

	fmt.Fprintln(w, "\nDESIGN §8")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range f.Checks {
		verdict := "not measured"
		if c.Pass != nil {
			verdict = map[bool]string{true: "pass", false: "FAIL"}[*c.Pass]
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Figure, c.Value, c.Target, verdict)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nCPU (cores used, largest first)")
	phases := make([]string, 0, len(f.CPU))
	for p := range f.CPU {
		phases = append(phases, p)
	}
	slices.SortFunc(phases, func(a, b string) int { return phaseOrder(a) - phaseOrder(b) })
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range phases {
		fmt.Fprintf(tw, "  %s\tmachine %.2f:\t%s\n", p, f.CPU[p]["machine"], topCores(f.CPU[p], 6))
	}
	fmt.Fprintf(tw, "total %.0f s\n", f.TotalSeconds)
	return tw.Flush()
}

// phaseOrder sorts phases in the order they run.
func phaseOrder(p string) int {
	name, c := p, 0
	if i := strings.LastIndexByte(p, '-'); i > 0 {
		if _, err := fmt.Sscanf(p[i+1:], "%d", &c); err == nil {
			name = p[:i]
		}
	}
	order := []string{"raw-create", "accept", "accept-half", "drain", "life-warm-up", "life-pending", "life", "emkt-answer", "emkt-dispatch", "pacing", "fairness", "recovery-write", "recovery"}
	if i := slices.Index(order, name); i >= 0 {
		return i*10000 + c
	}
	return len(order) * 10000
}

// shortMethod is a gRPC method's last element: Commit, RunQuery, …
func shortMethod(m string) string { return m[strings.LastIndexByte(m, '/')+1:] }

func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
