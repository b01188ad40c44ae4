package bench

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// LifeFigures are the life phase's: per message, the median of the
// repetitions with its range ([min, max]).
type LifeFigures struct {
	LifeMessages        int     `json:"lifeMessages"`        // per repetition
	LifePendingMessages int     `json:"lifePendingMessages"` // per repetition, webhooks off
	LifeRepetitions     int     `json:"lifeRepetitions"`
	LifeRatePerSec      float64 `json:"lifeRatePerSec"`

	// Firestore calls (Listen left out) and billed operations.
	LifeRpcsPerMessage         float64    `json:"lifeRpcsPerMessage"`
	LifeRpcsPerMessageRange    [2]float64 `json:"lifeRpcsPerMessageRange"`
	PendingRpcsPerMessage      float64    `json:"pendingRpcsPerMessage"`
	PendingRpcsPerMessageRange [2]float64 `json:"pendingRpcsPerMessageRange"`
	LifeReadsPerMessage        float64    `json:"lifeReadsPerMessage"`
	LifeReadsPerMessageRange   [2]float64 `json:"lifeReadsPerMessageRange"`
	LifeWritesPerMessage       float64    `json:"lifeWritesPerMessage"`
	LifeWritesPerMessageRange  [2]float64 `json:"lifeWritesPerMessageRange"`
	LifeDeletesPerMessage      float64    `json:"lifeDeletesPerMessage"`
	PendingReadsPerMessage     float64    `json:"pendingReadsPerMessage"`
	PendingWritesPerMessage    float64    `json:"pendingWritesPerMessage"`
	// LifeCallsByMethod and PendingCallsByMethod are the calls per
	// message by method, over every repetition.
	LifeCallsByMethod    map[string]float64 `json:"lifeCallsByMethod"`
	PendingCallsByMethod map[string]float64 `json:"pendingCallsByMethod"`
	// LifeListenStreams are the Listen streams the functions opened
	// during the repetitions: their caches, not any one message's cost.
	LifeListenStreams int64 `json:"lifeListenStreams"`

	LifePublishesPerMessage float64 `json:"lifePublishesPerMessage"`
	LifePushesPerMessage    float64 `json:"lifePushesPerMessage"`
	// LifeInvocationsPerMessage is by function: templates (the send),
	// dispatch, whatsapp (Meta's webhooks) and callbacks.
	LifeInvocationsPerMessage map[string]float64 `json:"lifeInvocationsPerMessage"`
	LifeFunctionCPUMs         float64            `json:"lifeFunctionCpuMsPerMessage"`
	LifeRequestMs             float64            `json:"lifeRequestMsPerMessage"`

	// LifeEmulatorCPUMs is the Firestore emulator's CPU per message;
	// RawCreateEmulatorCPUMs its CPU per one-document create in the
	// baselines of the same run; EmulatorCPURatio the first over the
	// second: what the gateway asks of the database, in creates.
	LifeEmulatorCPUMs      float64    `json:"lifeEmulatorCpuMsPerMessage"`
	LifeEmulatorCPUMsRange [2]float64 `json:"lifeEmulatorCpuMsPerMessageRange"`
	RawCreateEmulatorCPUMs float64    `json:"rawCreateEmulatorCpuMs"`
	EmulatorCPURatio       float64    `json:"emulatorCpuPerMessageRatio"`
	// RawClientCPUMs is the CPU per message of a process that makes the
	// life phase's calls per message with the plain client libraries and
	// nothing else (see rawClientCPU); GatewayCPURatio the functions' CPU
	// per message (LifeFunctionCPUMs) over it.
	RawClientCPUMs  float64 `json:"rawClientCpuMsPerMessage"`
	GatewayCPURatio float64 `json:"gatewayCpuPerMessageRatio"`

	// Every message read, every callback received, signed.
	LifeNotRead           int `json:"lifeNotRead"`
	LifeCallbacksMissing  int `json:"lifeCallbacksMissing"`
	LifeCallbacksUnsigned int `json:"lifeCallbacksUnsigned"`
	PendingNotReached     int `json:"pendingNotReached"`

	CostPer1MUSD              float64    `json:"costPer1MUSD"`
	CostPer1MUSDRange         [2]float64 `json:"costPer1MUSDRange"`
	CostPer1MRegionalUSD      float64    `json:"costPer1MRegionalUSD"`
	CostPer1MRegionalUSDRange [2]float64 `json:"costPer1MRegionalUSDRange"`
	// The median repetition's (by nam5 total) cost, by part.
	CostBreakdown         Cost   `json:"costPer1MBreakdown"`
	CostRegionalBreakdown Cost   `json:"costPer1MRegionalBreakdown"`
	CostRegionalLocation  string `json:"costRegionalLocation"`
	CostPriceDate         string `json:"costPriceDate"`
}

// usage is a round's billed units per message.
func (r lifeRound) usage() Usage {
	n := float64(r.msgs)
	var inv int64
	for _, v := range r.invocations {
		inv += v
	}
	return Usage{
		Reads: float64(r.bill.Reads) / n, Writes: float64(r.bill.Writes) / n, Deletes: float64(r.bill.Deletes) / n,
		PubSubBytes: r.pubsubBytes / n, Invocations: float64(inv) / n,
		CPUSeconds: r.cpuSec / n, RequestSeconds: r.requestSec / n,
	}
}

func (r lifeRound) rpcs() float64 {
	var c int64
	for _, v := range r.calls {
		c += v
	}
	return float64(c) / float64(r.msgs)
}

// summarizeLife makes the figures of the repetitions' rounds; rawCreateMs
// is the emulator's CPU per raw create in the baselines, 0 when unknown.
func summarizeLife(n, pendingN int, rawCreateMs float64, pend, life []lifeRound) *LifeFigures {
	f := &LifeFigures{
		LifeMessages: n, LifePendingMessages: pendingN, LifeRepetitions: len(life), LifeRatePerSec: LifeRate,
		CostRegionalLocation: PricesRegional.Location, CostPriceDate: PriceDate,
	}
	// stat is the median over rounds of v, and the range.
	stat := func(rounds []lifeRound, v func(lifeRound) float64) (float64, [2]float64) {
		s := make([]float64, len(rounds))
		for i, r := range rounds {
			s[i] = v(r)
		}
		slices.Sort(s)
		k := len(s)
		med := (s[(k-1)/2] + s[k/2]) / 2
		return round(med, 2), [2]float64{round(s[0], 2), round(s[k-1], 2)}
	}
	perMsg := func(v func(lifeRound) float64) func(lifeRound) float64 {
		return func(r lifeRound) float64 { return v(r) / float64(r.msgs) }
	}
	nam5 := func(r lifeRound) float64 { return r.usage().PerMillion(PricesNam5).Total }
	f.LifeRpcsPerMessage, f.LifeRpcsPerMessageRange = stat(life, lifeRound.rpcs)
	f.PendingRpcsPerMessage, f.PendingRpcsPerMessageRange = stat(pend, lifeRound.rpcs)
	f.LifeReadsPerMessage, f.LifeReadsPerMessageRange = stat(life, func(r lifeRound) float64 { return r.usage().Reads })
	f.LifeWritesPerMessage, f.LifeWritesPerMessageRange = stat(life, func(r lifeRound) float64 { return r.usage().Writes })
	f.LifeDeletesPerMessage, _ = stat(life, func(r lifeRound) float64 { return r.usage().Deletes })
	f.PendingReadsPerMessage, _ = stat(pend, func(r lifeRound) float64 { return r.usage().Reads })
	f.PendingWritesPerMessage, _ = stat(pend, func(r lifeRound) float64 { return r.usage().Writes })
	f.CostPer1MUSD, f.CostPer1MUSDRange = stat(life, nam5)
	f.CostPer1MRegionalUSD, f.CostPer1MRegionalUSDRange = stat(life, func(r lifeRound) float64 { return r.usage().PerMillion(PricesRegional).Total })
	f.LifePublishesPerMessage, _ = stat(life, perMsg(func(r lifeRound) float64 { return float64(r.publishes) }))
	f.LifePushesPerMessage, _ = stat(life, perMsg(func(r lifeRound) float64 { return float64(r.pushes) }))
	f.LifeFunctionCPUMs, _ = stat(life, perMsg(func(r lifeRound) float64 { return 1000 * r.cpuSec }))
	f.LifeRequestMs, _ = stat(life, perMsg(func(r lifeRound) float64 { return 1000 * r.requestSec }))
	f.LifeEmulatorCPUMs, f.LifeEmulatorCPUMsRange = stat(life, perMsg(func(r lifeRound) float64 { return 1000 * r.emulatorSec }))
	if rawCreateMs > 0 {
		f.RawCreateEmulatorCPUMs = round(rawCreateMs, 3)
		f.EmulatorCPURatio = round(f.LifeEmulatorCPUMs/rawCreateMs, 2)
	}

	// The breakdown is the median repetition's, so its parts add up to
	// its total.
	mid := slices.SortedFunc(slices.Values(life), func(a, b lifeRound) int { return cmp.Compare(nam5(a), nam5(b)) })[(len(life)-1)/2]
	f.CostBreakdown, f.CostRegionalBreakdown = mid.usage().PerMillion(PricesNam5), mid.usage().PerMillion(PricesRegional)

	f.LifeCallsByMethod = perMessageOver(life, func(r lifeRound) map[string]int64 { return r.calls })
	f.PendingCallsByMethod = perMessageOver(pend, func(r lifeRound) map[string]int64 { return r.calls })
	f.LifeInvocationsPerMessage = perMessageOver(life, func(r lifeRound) map[string]int64 { return r.invocations })
	for _, r := range slices.Concat(life, pend) {
		f.LifeListenStreams += r.listen
		f.LifeCallbacksMissing += r.missing
		f.LifeCallbacksUnsigned += r.unsigned
	}
	for _, r := range life {
		f.LifeNotRead += r.notReached
	}
	for _, r := range pend {
		f.PendingNotReached += r.notReached
	}
	return f
}

// perMessageOver adds up a count map over rounds and divides it by their
// messages.
func perMessageOver(rounds []lifeRound, m func(lifeRound) map[string]int64) map[string]float64 {
	sum, msgs := map[string]int64{}, 0
	for _, r := range rounds {
		msgs += r.msgs
		for k, v := range m(r) {
			sum[k] += v
		}
	}
	out := map[string]float64{}
	for k, v := range sum {
		out[k] = round(float64(v)/float64(max(msgs, 1)), 2)
	}
	return out
}

// checks are the life phase's DESIGN §8 lines.
func (f *LifeFigures) checks() []Check {
	rng := func(r [2]float64) string { return fmt.Sprintf("%.2f–%.2f", r[0], r[1]) }
	lost := f.LifeNotRead + f.LifeCallbacksMissing + f.PendingNotReached
	return []Check{
		{Figure: "Firestore calls per message, whole life", Target: "≤ 12",
			Value: fmt.Sprintf("%.2f (%s over %d × %d; %d not read, %d callbacks missing)", f.LifeRpcsPerMessage, rng(f.LifeRpcsPerMessageRange), f.LifeRepetitions, f.LifeMessages, f.LifeNotRead, f.LifeCallbacksMissing),
			Pass:  f.LifeRpcsPerMessage <= 12 && lost == 0},
		{Figure: "Firestore calls per message to pending", Target: "≤ 5",
			Value: fmt.Sprintf("%.2f (%s)", f.PendingRpcsPerMessage, rng(f.PendingRpcsPerMessageRange)),
			Pass:  f.PendingRpcsPerMessage <= 5 && f.PendingNotReached == 0},
		{Figure: "billed reads / writes per message, whole life", Target: "≤ 4 / ≤ 7",
			Value: fmt.Sprintf("%.2f / %.2f (%s / %s; %.2f deletes)", f.LifeReadsPerMessage, f.LifeWritesPerMessage, rng(f.LifeReadsPerMessageRange), rng(f.LifeWritesPerMessageRange), f.LifeDeletesPerMessage),
			Pass:  f.LifeReadsPerMessage <= 4 && f.LifeWritesPerMessage <= 7},
		{Figure: "US$ per million messages at list prices", Target: "≤ 15 (nam5), ≤ 9 (regional)",
			Value: fmt.Sprintf("%.2f nam5 (%s), %.2f %s (%s); prices of %s", f.CostPer1MUSD, rng(f.CostPer1MUSDRange), f.CostPer1MRegionalUSD, f.CostRegionalLocation, rng(f.CostPer1MRegionalUSDRange), f.CostPriceDate),
			Pass:  f.CostPer1MUSD <= 15 && f.CostPer1MRegionalUSD <= 9},
		{Figure: "gateway CPU per message ÷ a raw client's for the same calls", Target: "≤ 2",
			Value: fmt.Sprintf("%.2f (the functions %.2f ms, a raw client %.2f ms per message)", f.GatewayCPURatio, f.LifeFunctionCPUMs, f.RawClientCPUMs),
			Pass:  f.GatewayCPURatio > 0 && f.GatewayCPURatio <= 2},
	}
}

// report writes the life phase for a person: the calls, reads and writes
// of each stage (whole life, to pending), the emulator's ratio, which has
// no target, and the cost by part.
func (f *LifeFigures) report(w io.Writer) {
	fmt.Fprintf(w, "\nwhole life (accept → pending → sent → delivered → read, a callback per status change; %d × %d messages at %.0f/s; to pending: %d × %d with webhooks off)\n",
		f.LifeRepetitions, f.LifeMessages, f.LifeRatePerSec, f.LifeRepetitions, f.LifePendingMessages)
	fmt.Fprintf(w, "  Firestore calls per message: %.2f (%s), to pending %.2f (%s)\n", f.LifeRpcsPerMessage, sortedPer(f.LifeCallsByMethod), f.PendingRpcsPerMessage, sortedPer(f.PendingCallsByMethod))
	fmt.Fprintf(w, "  billed per message: %.2f reads, %.2f writes, %.2f deletes; to pending %.2f reads, %.2f writes; %d Listen streams opened (left out)\n",
		f.LifeReadsPerMessage, f.LifeWritesPerMessage, f.LifeDeletesPerMessage, f.PendingReadsPerMessage, f.PendingWritesPerMessage, f.LifeListenStreams)
	fmt.Fprintf(w, "  Pub/Sub per message: %.2f publishes, %.2f deliveries; invocations per message: %s; functions' CPU %.2f ms, request time %.1f ms\n",
		f.LifePublishesPerMessage, f.LifePushesPerMessage, sortedPer(f.LifeInvocationsPerMessage), f.LifeFunctionCPUMs, f.LifeRequestMs)
	fmt.Fprintf(w, "  Firestore emulator CPU per message %.2f ms (%.2f–%.2f) = %.2f × its CPU per raw create (%.3f ms; reported, lower is better)\n",
		f.LifeEmulatorCPUMs, f.LifeEmulatorCPUMsRange[0], f.LifeEmulatorCPUMsRange[1], f.EmulatorCPURatio, f.RawCreateEmulatorCPUMs)
	fmt.Fprintf(w, "  functions' CPU per message %.2f ms = %.2f × a raw client's for the same calls (%.2f ms)\n", f.LifeFunctionCPUMs, f.GatewayCPURatio, f.RawClientCPUMs)
	for i, c := range []Cost{f.CostBreakdown, f.CostRegionalBreakdown} {
		fmt.Fprintf(w, "  US$ per million (%s, prices of %s): %.2f = reads %.2f + writes %.2f + deletes %.2f + Pub/Sub %.2f + invocations %.2f + CPU %.2f + memory %.2f\n",
			[]string{"nam5", f.CostRegionalLocation}[i], f.CostPriceDate, c.Total, c.FirestoreReads, c.FirestoreWrites, c.FirestoreDeletes, c.PubSub, c.Invocations, c.CPU, c.Memory)
	}
}

// sortedPer lists a per-message map as "k 1.00, …", largest first.
func sortedPer(m map[string]float64) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.2f", k, m[k])
	}
	return strings.Join(parts, ", ")
}
