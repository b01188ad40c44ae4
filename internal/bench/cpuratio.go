package bench

import (
	"context"
	"fmt"
)

// emulatorProc is the Firestore emulator's name in the CPU figures.
const emulatorProc = "firestore-emulator"

// TargetGatewayCPURatio is DESIGN §8's bound on the gateway's CPU per
// message over a raw client's for the same calls.
const TargetGatewayCPURatio = 2

// CPURatios are the life phase's two CPU figures (DESIGN §8), each per
// message over the whole life, the median of the repetitions.
type CPURatios struct {
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
}

// emulatorTicks is the Firestore emulator's CPU so far in clock ticks,
// or -1 when it is not known.
func (b *Bench) emulatorTicks() int64 {
	pid, ok := b.cpu.pids[emulatorProc]
	if !ok {
		return -1
	}
	t, err := procCPU(pid)
	if err != nil {
		return -1
	}
	return t
}

// cpuRatios fills in f's CPU ratios from the repetitions' rounds, the
// baselines' creates and a raw-client replay of the measured calls.
func (b *Bench) cpuRatios(ctx context.Context, f *LifeFigures, life []lifeRound) error {
	vals := make([]float64, len(life))
	for i, r := range life {
		vals[i] = 1000 * r.emulatorSec / float64(r.msgs)
	}
	med, lo, hi := medianRange(vals)
	f.LifeEmulatorCPUMs, f.LifeEmulatorCPUMsRange = round(med, 2), [2]float64{round(lo, 2), round(hi, 2)}
	if b.rawCreates > 0 {
		f.RawCreateEmulatorCPUMs = round(1000*float64(b.rawCreateTicks)/clockTicks/float64(b.rawCreates), 3)
		if f.RawCreateEmulatorCPUMs > 0 {
			f.EmulatorCPURatio = round(med/f.RawCreateEmulatorCPUMs, 2)
		}
	}
	b.prog.set(1, "life: replaying its calls with a raw client")
	raw, err := b.rawClientCPU(ctx, f, b.opts.LifeMessages)
	if err != nil {
		return err
	}
	f.RawClientCPUMs = round(raw, 2)
	if raw > 0 {
		f.GatewayCPURatio = round(f.LifeFunctionCPUMs/raw, 2)
	}
	return nil
}

// check is the gateway's CPU line of DESIGN §8; the emulator's ratio has
// no target and is in the report only.
func (c CPURatios) check(gatewayMs float64) Check {
	ok := c.GatewayCPURatio > 0 && c.GatewayCPURatio <= TargetGatewayCPURatio
	return Check{
		Figure: "gateway CPU per message ÷ a raw client's for the same calls",
		Value:  fmt.Sprintf("%.2f (the functions %.2f ms, a raw client %.2f ms per message)", c.GatewayCPURatio, gatewayMs, c.RawClientCPUMs),
		Target: "≤ 2", Pass: &ok,
	}
}
