package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// Figures are one run's measurements. Rates are per second, latencies in
// milliseconds.
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
	EmktContacts        int     `json:"emktContacts"`
	EmktAnswerSeconds   float64 `json:"emkt100kAnswerSeconds"`
	EmktAddedPeakMiB    float64 `json:"emkt100kAddedPeakMiB"`
	EmktDispatchSeconds float64 `json:"emkt100kDispatchSeconds"` // from the request to the last contact's accepted call
	EmktDispatchPerSec  float64 `json:"emkt100kDispatchPerSec"`
	EmktExactlyOnce     bool    `json:"emkt100kDispatchedExactlyOnce"`
	// EmktDispatched counts the contacts the provider accepted at least
	// once within emktLimit, EmktDuplicated those it accepted more than
	// once: exactly once is EmktDispatched = EmktContacts and
	// EmktDuplicated = 0.
	EmktDispatched        int     `json:"emkt100kDispatched"`
	EmktDuplicated        int     `json:"emkt100kDuplicated"`
	EmktProviderCalls     int     `json:"emkt100kProviderCalls"`
	EmktCommitsPerMessage float64 `json:"emkt100kCommitsPerMessage"`

	// CPU is the cores each process used in each phase: the functions by
	// name, the emulators, "bench" (load generator, proxy, sandbox and
	// front door), "others" (the rest of the machine) and "machine".
	CPU      map[string]map[string]float64 `json:"cpuCores"`
	cpuOrder []string                      // CPU's phases as they ran

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
	// SingleDuringBulkClaimP99Ms is the part of that time before
	// dispatch claimed the message: Pub/Sub's delivery and the pacer's
	// wait, where the rest is the provider's call and the outcome.
	SingleDuringBulkClaimP99Ms float64 `json:"singleDuringBulkClaimP99Ms"`
}

// RecoveryFigures are the recovery phase's: one sweep run, in the
// benchmark's process, over a backlog of RecoveryMessages accepted,
// never-published messages of three tenants (80, 15 and 5 %),
// republishing to a topic of the phase's own that only it pulls.
type RecoveryFigures struct {
	RecoveryMessages int `json:"sweepRecoveryMessages"`
	// RecoverySeconds is from the run's start to the backlog's last publish.
	RecoverySeconds float64 `json:"sweepRecoverySeconds"`
	// RepublishedTwice counts backlog messages on the topic more than
	// once, RecoveryMissing those never on it.
	RepublishedTwice int `json:"sweepRepublishedTwice"`
	RecoveryMissing  int `json:"sweepRecoveryMissing"`
	// TenantLastSeconds is each tenant's last publish since the run's
	// start, largest share first; SmallTenantLastSeconds the 5 % one's.
	TenantLastSeconds      []float64 `json:"sweepTenantLastSeconds"`
	SmallTenantLastSeconds float64   `json:"sweepSmallTenantLastSeconds"`
	RecoveryPages          int       `json:"sweepRecoveryPages"`
	RecoveryOverBudget     bool      `json:"sweepRecoveryOverBudget"`
	RecoveryWriteSeconds   float64   `json:"sweepRecoveryWriteSeconds"`
}

// Check is one DESIGN §8 figure against its target.
type Check struct {
	Figure string `json:"figure"`
	Value  string `json:"value"`
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
}

// check adds DESIGN §8's line of each figure the run measured, the
// targets' numbers beside their text.
func (f *Figures) check() {
	add := func(figure, value, target string, ok bool) {
		f.Checks = append(f.Checks, Check{Figure: figure, Value: value, Target: target, Pass: ok})
	}
	if slices.Contains(f.Phases, "accept") {
		add("accept latency at 50 % of the gateway's measured capacity",
			fmt.Sprintf("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms at %.0f/s (half of %.0f/s; dispatch paused); %d errors",
				f.AcceptP50Ms, f.AcceptP95Ms, f.AcceptP99Ms, f.AcceptHalfLoadPerSec, f.AcceptPerSec, f.AcceptErrors),
			"p50 ≤ 10 ms, p99 ≤ 30 ms", f.AcceptP50Ms <= 10 && f.AcceptP99Ms <= 30)
	}
	if l := f.LifeFigures; l != nil {
		f.Checks = append(f.Checks, l.checks()...)
	}
	if slices.Contains(f.Phases, "emkt") {
		add(fmt.Sprintf("emkt %d-contact answer", f.EmktContacts), fmt.Sprintf("%.2f s", f.EmktAnswerSeconds), "≤ 5 s", f.EmktAnswerSeconds <= 5)
		add("emkt added peak memory", fmt.Sprintf("%.1f MiB", f.EmktAddedPeakMiB), "≤ 64 MiB", f.EmktAddedPeakMiB <= 64)
		add("emkt dispatched exactly once",
			fmt.Sprintf("%v (%d of %d contacts at the provider, %d twice or more, %d calls; the last after %.0f s, %.0f/s; %.2f commits per message)",
				f.EmktExactlyOnce, f.EmktDispatched, f.EmktContacts, f.EmktDuplicated, f.EmktProviderCalls, f.EmktDispatchSeconds, f.EmktDispatchPerSec, f.EmktCommitsPerMessage),
			"every contact once", f.EmktExactlyOnce)
	}
	if p := f.PacingFigures; p != nil {
		add(fmt.Sprintf("pacing: %d dispatch processes, one number at %d/s, %d messages", p.PaceInstances, p.PaceRate, p.PaceMessages),
			fmt.Sprintf("%.2f × %d/s (%.1f/s); %d failed, %d unknown, %d unsettled; 130429 on %.1f %% of %d calls",
				p.PaceAchievedRatio, p.PaceRate, p.PaceAchievedPerSec, p.PaceFailed, p.PaceUnknown, p.PaceUnsettled, 100*p.Pace130429Share, p.PaceProviderCalls),
			"≥ 0.90 ×; 0 failed; 0 unknown; 130429 ≤ 5 %",
			p.PaceAchievedRatio >= 0.9 && p.PaceFailed == 0 && p.PaceUnknown == 0 && p.PaceUnsettled == 0 && p.Pace130429Share <= 0.05)
	}
	if q := f.FairnessFigures; q != nil {
		add(fmt.Sprintf("a single send while a %d-contact batch drains", q.FairnessContacts),
			fmt.Sprintf("p99 %.0f ms to pending, %.0f ms to the claim (p50 %.0f ms, max %.0f ms; %d sends, %d not pending, %d refused; the batch drained in %.0f s)",
				q.SingleDuringBulkP99Ms, q.SingleDuringBulkClaimP99Ms, q.SingleDuringBulkP50Ms, q.SingleDuringBulkMaxMs, q.FairnessSingles, q.FairnessNotPending, q.FairnessSendErrors, q.FairnessBulkSeconds),
			"p99 ≤ 3 s", q.SingleDuringBulkP99Ms <= 3000 && q.FairnessNotPending == 0 && q.FairnessSendErrors == 0)
	}
	if q := f.RecoveryFigures; q != nil {
		add(fmt.Sprintf("sweep recovery: a %d-message backlog of 3 tenants (80/15/5 %%), one run", q.RecoveryMessages),
			fmt.Sprintf("%.1f s (%d missing, %d twice; each tenant's last after %v s; %d pages%s; written in %.1f s)",
				q.RecoverySeconds, q.RecoveryMissing, q.RepublishedTwice, q.TenantLastSeconds, q.RecoveryPages,
				map[bool]string{true: ", stopped by its budget"}[q.RecoveryOverBudget], q.RecoveryWriteSeconds),
			"≤ 300 s; 0 twice; 0 missing", q.RecoverySeconds <= 300 && q.RepublishedTwice == 0 && q.RecoveryMissing == 0)
	}
}

// WriteJSON writes the figures as indented JSON.
func (f *Figures) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// WriteReport writes the figures for a person: the baselines and the
// life phase's detail, every DESIGN §8 figure beside its target, and
// where the CPU went.
func (f *Figures) WriteReport(w io.Writer) error {
	if slices.Contains(f.Phases, "baselines") {
		fmt.Fprintf(w, "Firestore emulator creates: %.0f/s (concurrency %d, %d cores, %.0f s phases)\n", f.RawCreatePerSec, f.Concurrency, f.Cores, f.PhaseSeconds)
	}
	if f.PushPullErrors > 0 {
		fmt.Fprintf(w, "Pub/Sub delivery: %d pulls failed, last error: %s\n", f.PushPullErrors, f.PushLastError)
	}
	if l := f.LifeFigures; l != nil {
		l.report(w)
	}
	fmt.Fprintln(w, "\nDESIGN §8")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range f.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Figure, c.Value, c.Target, map[bool]string{true: "pass", false: "FAIL"}[c.Pass])
	}
	fmt.Fprintln(tw, "\nCPU (cores used, largest first)")
	for _, p := range f.cpuOrder {
		fmt.Fprintf(tw, "  %s\tmachine %.2f:\t%s\n", p, f.CPU[p]["machine"], topCores(f.CPU[p], 6))
	}
	fmt.Fprintf(tw, "total %.0f s\n", f.TotalSeconds)
	return tw.Flush()
}

func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
