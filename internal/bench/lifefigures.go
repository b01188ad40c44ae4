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
	CPURatios

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

// summarizeLife makes the figures of the repetitions' rounds.
func summarizeLife(n, pendingN int, pend, life []lifeRound) *LifeFigures {
	f := &LifeFigures{
		LifeMessages: n, LifePendingMessages: pendingN, LifeRepetitions: len(life), LifeRatePerSec: LifeRate,
		CostRegionalLocation: PricesRegional.Location, CostPriceDate: PriceDate,
	}
	stat := func(rounds []lifeRound, v func(lifeRound) float64) (float64, [2]float64) {
		vals := make([]float64, len(rounds))
		for i, r := range rounds {
			vals[i] = v(r)
		}
		med, lo, hi := medianRange(vals)
		return round(med, 2), [2]float64{round(lo, 2), round(hi, 2)}
	}
	f.LifeRpcsPerMessage, f.LifeRpcsPerMessageRange = stat(life, lifeRound.rpcs)
	f.PendingRpcsPerMessage, f.PendingRpcsPerMessageRange = stat(pend, lifeRound.rpcs)
	f.LifeReadsPerMessage, f.LifeReadsPerMessageRange = stat(life, func(r lifeRound) float64 { return r.usage().Reads })
	f.LifeWritesPerMessage, f.LifeWritesPerMessageRange = stat(life, func(r lifeRound) float64 { return r.usage().Writes })
	f.LifeDeletesPerMessage, _ = stat(life, func(r lifeRound) float64 { return r.usage().Deletes })
	f.PendingReadsPerMessage, _ = stat(pend, func(r lifeRound) float64 { return r.usage().Reads })
	f.PendingWritesPerMessage, _ = stat(pend, func(r lifeRound) float64 { return r.usage().Writes })
	f.CostPer1MUSD, f.CostPer1MUSDRange = stat(life, func(r lifeRound) float64 { return r.usage().PerMillion(PricesNam5).Total })
	f.CostPer1MRegionalUSD, f.CostPer1MRegionalUSDRange = stat(life, func(r lifeRound) float64 { return r.usage().PerMillion(PricesRegional).Total })
	f.LifePublishesPerMessage, _ = stat(life, func(r lifeRound) float64 { return float64(r.publishes) / float64(r.msgs) })
	f.LifePushesPerMessage, _ = stat(life, func(r lifeRound) float64 { return float64(r.pushes) / float64(r.msgs) })
	f.LifeFunctionCPUMs, _ = stat(life, func(r lifeRound) float64 { return 1000 * r.cpuSec / float64(r.msgs) })
	f.LifeRequestMs, _ = stat(life, func(r lifeRound) float64 { return 1000 * r.requestSec / float64(r.msgs) })

	// The breakdown is the median repetition's, so its parts add up to
	// its total.
	byCost := slices.Clone(life)
	slices.SortFunc(byCost, func(a, b lifeRound) int {
		return cmp.Compare(a.usage().PerMillion(PricesNam5).Total, b.usage().PerMillion(PricesNam5).Total)
	})
	if len(byCost) > 0 {
		mid := byCost[(len(byCost)-1)/2]
		f.CostBreakdown, f.CostRegionalBreakdown = mid.usage().PerMillion(PricesNam5), mid.usage().PerMillion(PricesRegional)
	}

	f.LifeCallsByMethod, f.PendingCallsByMethod = perMessageOver(life, func(r lifeRound) map[string]int64 { return r.calls }),
		perMessageOver(pend, func(r lifeRound) map[string]int64 { return r.calls })
	f.LifeInvocationsPerMessage = perMessageOver(life, func(r lifeRound) map[string]int64 { return r.invocations })
	for _, r := range life {
		f.LifeListenStreams += r.listen
		f.LifeNotRead += r.notReached
		f.LifeCallbacksMissing += r.missing
		f.LifeCallbacksUnsigned += r.unsigned
	}
	for _, r := range pend {
		f.LifeListenStreams += r.listen
		f.PendingNotReached += r.notReached
		f.LifeCallbacksMissing += r.missing
		f.LifeCallbacksUnsigned += r.unsigned
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

// medianRange is vals' median (the mean of the middle two for an even
// count), least and greatest.
func medianRange(vals []float64) (med, lo, hi float64) {
	if len(vals) == 0 {
		return 0, 0, 0
	}
	s := slices.Sorted(slices.Values(vals))
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// The life phase's targets (DESIGN §8).
const (
	TargetLifeRpcs          = 12
	TargetPendingRpcs       = 5
	TargetLifeReads         = 4
	TargetLifeWrites        = 7
	TargetCostPer1M         = 15
	TargetCostPer1MRegional = 9
)

// checks are the life phase's DESIGN §8 lines.
func (f *LifeFigures) checks() []Check {
	pass := func(ok bool) *bool { return &ok }
	rng := func(r [2]float64) string { return fmt.Sprintf("%.2f–%.2f", r[0], r[1]) }
	lost := f.LifeNotRead + f.LifeCallbacksMissing + f.PendingNotReached
	return []Check{
		{Figure: "Firestore calls per message, whole life", Target: "≤ 12",
			Value: fmt.Sprintf("%.2f (%s over %d × %d; %d not read, %d callbacks missing)", f.LifeRpcsPerMessage, rng(f.LifeRpcsPerMessageRange), f.LifeRepetitions, f.LifeMessages, f.LifeNotRead, f.LifeCallbacksMissing),
			Pass:  pass(f.LifeRpcsPerMessage <= TargetLifeRpcs && lost == 0)},
		{Figure: "Firestore calls per message to pending", Target: "≤ 5",
			Value: fmt.Sprintf("%.2f (%s)", f.PendingRpcsPerMessage, rng(f.PendingRpcsPerMessageRange)),
			Pass:  pass(f.PendingRpcsPerMessage <= TargetPendingRpcs && f.PendingNotReached == 0)},
		{Figure: "billed reads / writes per message, whole life", Target: "≤ 4 / ≤ 7",
			Value: fmt.Sprintf("%.2f / %.2f (%s / %s; %.2f deletes)", f.LifeReadsPerMessage, f.LifeWritesPerMessage, rng(f.LifeReadsPerMessageRange), rng(f.LifeWritesPerMessageRange), f.LifeDeletesPerMessage),
			Pass:  pass(f.LifeReadsPerMessage <= TargetLifeReads && f.LifeWritesPerMessage <= TargetLifeWrites)},
		{Figure: "US$ per million messages at list prices", Target: "≤ 15 (nam5), ≤ 9 (regional)",
			Value: fmt.Sprintf("%.2f nam5 (%s), %.2f %s (%s); prices of %s", f.CostPer1MUSD, rng(f.CostPer1MUSDRange), f.CostPer1MRegionalUSD, f.CostRegionalLocation, rng(f.CostPer1MRegionalUSDRange), f.CostPriceDate),
			Pass:  pass(f.CostPer1MUSD <= TargetCostPer1M && f.CostPer1MRegionalUSD <= TargetCostPer1MRegional)},
		f.CPURatios.check(f.LifeFunctionCPUMs),
	}
}

// report writes the life phase for a person.
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
	for _, c := range []struct {
		where string
		c     Cost
	}{{"nam5", f.CostBreakdown}, {f.CostRegionalLocation, f.CostRegionalBreakdown}} {
		fmt.Fprintf(w, "  US$ per million (%s, prices of %s): %.2f = reads %.2f + writes %.2f + deletes %.2f + Pub/Sub %.2f + invocations %.2f + CPU %.2f + memory %.2f\n",
			c.where, f.CostPriceDate, c.c.Total, c.c.FirestoreReads, c.c.FirestoreWrites, c.c.FirestoreDeletes, c.c.PubSub, c.c.Invocations, c.c.CPU, c.c.Memory)
	}
}

// sortedPer lists a per-message map as "k 1.00, …", largest first.
func sortedPer(m map[string]float64) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.2f", k, m[k])
	}
	return strings.Join(parts, ", ")
}
