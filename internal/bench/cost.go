package bench

import "math"

// PriceDate is when the list prices below were taken (US$, before free
// tiers and committed-use discounts) from cloud.google.com/firestore/pricing,
// cloud.google.com/pubsub/pricing and cloud.google.com/run/pricing (Cloud
// Run functions, tier 1). Check them against the pages when the date is
// old; docs/benchmarks.md repeats the table.
const PriceDate = "2026-12"

// FirestorePrices are one location's document operation prices, US$ per
// 100,000.
type FirestorePrices struct {
	Location               string
	Reads, Writes, Deletes float64
}

// Firestore's prices in the gateway's default location (nam5, the
// multi-region DESIGN §8's $15 is for) and in one regional location,
// us-central1, priced beside it.
var (
	PricesNam5     = FirestorePrices{Location: "nam5", Reads: 0.06, Writes: 0.18, Deletes: 0.02}
	PricesRegional = FirestorePrices{Location: "us-central1", Reads: 0.03, Writes: 0.09, Deletes: 0.01}
)

// The other list prices.
const (
	// PubSubPerTiB is Pub/Sub's throughput price; each publish and each
	// delivery is billed at least pubsubMinBytes.
	PubSubPerTiB   = 40.0
	pubsubMinBytes = 1000
	// InvocationsPerMillion is Cloud Run functions' request price.
	InvocationsPerMillion = 0.40
	// VCPUSecond and GiBSecond are its CPU and memory prices; the
	// gateway's functions run with 256 MiB (FunctionMemoryGiB).
	VCPUSecond        = 0.000024
	GiBSecond         = 0.0000025
	FunctionMemoryGiB = 0.25
)

// Usage is what one message costs in billed units, whole life.
type Usage struct {
	Reads, Writes, Deletes float64
	// PubSubBytes is the billed throughput of the message's publishes
	// and deliveries.
	PubSubBytes float64
	Invocations float64
	// CPUSeconds is the functions' measured CPU; RequestSeconds the time
	// their requests took, which memory is billed over.
	CPUSeconds, RequestSeconds float64
}

// Cost is US$ per million messages, by part.
type Cost struct {
	FirestoreReads   float64 `json:"firestoreReads"`
	FirestoreWrites  float64 `json:"firestoreWrites"`
	FirestoreDeletes float64 `json:"firestoreDeletes"`
	PubSub           float64 `json:"pubsub"`
	Invocations      float64 `json:"invocations"`
	CPU              float64 `json:"cpu"`
	Memory           float64 `json:"memory"`
	Total            float64 `json:"total"`
}

// PerMillion prices a million messages of u with Firestore at p.
//
// CPU is billed as the CPU the functions measurably used, a lower bound:
// Cloud Run bills the vCPU an instance is allocated for the whole time it
// serves, and an instance waiting on Firestore is billed for that wait
// too (at a 256 MiB instance's fraction of a vCPU). Memory is billed over
// the requests' measured time. Network egress and Firestore's storage
// (docs/data.md) are left out.
func (u Usage) PerMillion(p FirestorePrices) Cost {
	const m = 1e6
	c := Cost{
		FirestoreReads:   u.Reads * m / 1e5 * p.Reads,
		FirestoreWrites:  u.Writes * m / 1e5 * p.Writes,
		FirestoreDeletes: u.Deletes * m / 1e5 * p.Deletes,
		PubSub:           u.PubSubBytes * m / math.Exp2(40) * PubSubPerTiB,
		Invocations:      u.Invocations * InvocationsPerMillion,
		CPU:              u.CPUSeconds * m * VCPUSecond,
		Memory:           u.RequestSeconds * m * FunctionMemoryGiB * GiBSecond,
	}
	c.Total = c.FirestoreReads + c.FirestoreWrites + c.FirestoreDeletes + c.PubSub + c.Invocations + c.CPU + c.Memory
	return c.rounded()
}

func (c Cost) rounded() Cost {
	return Cost{
		FirestoreReads: round(c.FirestoreReads, 3), FirestoreWrites: round(c.FirestoreWrites, 3), FirestoreDeletes: round(c.FirestoreDeletes, 3),
		PubSub: round(c.PubSub, 3), Invocations: round(c.Invocations, 3), CPU: round(c.CPU, 3), Memory: round(c.Memory, 3), Total: round(c.Total, 2),
	}
}
