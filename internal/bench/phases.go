package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// emktLimit bounds the wait for the emkt batch to be dispatched: a batch
// not dispatched by then is reported as not dispatched exactly once.
const emktLimit = 15 * time.Minute

// rawCreate is the create baseline's op: one document, shaped like a
// message, created in one commit.
func (b *Bench) rawCreate(ctx context.Context, i int) error {
	now := time.Now().UTC()
	_, err := b.fsRaw.Collection("bench-raw").NewDoc().Create(ctx, map[string]any{
		"tenant": "bench", "status": "accepted", "phoneNumber": rawPhones.full(i), "templateId": "welcome",
		"attempts": 0, "createdAt": now, "updatedAt": now,
	})
	return err
}

// warmUp runs creates and sends once, unmeasured: the emulators are JVMs
// that run interpreted until their JIT has compiled the hot paths, and
// the functions build their clients on first use. Without it the first
// phases measure a cold JVM.
func (b *Bench) warmUp(ctx context.Context) error {
	b.prog.printf("warming up: one message end to end, then creates and sends")
	id, err := b.send(ctx, b.phone())
	if err == nil {
		_, err = b.settled(ctx, []string{id}, time.Minute)
	}
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	closedLoop(ctx, b.opts.Concurrency, b.opts.Duration, b.rawCreate)
	var log sentLog
	closedLoop(ctx, b.opts.Concurrency, b.opts.Duration, b.acceptOp(&log))
	if err := b.waitAccepted(ctx, b.stack.Sandbox.Requests, ids(log.all()), time.Minute, "warm-up", nil); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	b.quiet(ctx)
	return nil
}

// baselines measures, after the warm-up, the Firestore emulator's
// one-document create rate, closed loop, and its CPU per create, the
// unit of the life phase's emulator ratio.
func (b *Bench) baselines(ctx context.Context) error {
	if err := b.warmUp(ctx); err != nil {
		return err
	}
	t0 := procCPU(b.cpu[emulatorProc])
	r, err := b.closedPhase(ctx, "raw-create", "baseline: Firestore emulator creates", false, b.rawCreate)
	if err != nil {
		return err
	}
	if t1 := procCPU(b.cpu[emulatorProc]); t0 >= 0 && t1 >= t0 {
		b.rawCreates, b.rawCreateTicks = int64(r.ok), t1-t0
	}
	b.fig.RawCreatePerSec = round(r.perSec(), 0)
	return nil
}

// accept measures the gateway's accept capacity through the front door,
// closed loop, then the latency at half of it, open loop: DESIGN §8's
// 50 % of the gateway's measured capacity. Dispatch is paused meanwhile,
// as its work would otherwise share the machine and the emulator with
// accept's (in the cloud it runs on instances of its own); what is
// accepted waits in its subscription and is dispatched afterwards, before
// anything else is measured.
func (b *Bench) accept(ctx context.Context) error {
	var all sentLog
	dispatch := b.pushers["dispatch"]
	dispatch.Pause()
	err := b.acceptLoops(ctx, &all)
	dispatch.Start()
	if err != nil {
		return err
	}
	b.prog.printf("dispatching what the accept phases accepted")
	err = b.measure(ctx, "drain", false, func() error {
		return b.waitAccepted(ctx, b.stack.Sandbox.Requests, ids(all.all()), time.Minute, "drain", nil)
	})
	if err != nil {
		return fmt.Errorf("after the accept phases: %w", err)
	}
	b.quiet(ctx)
	return nil
}

func (b *Bench) acceptLoops(ctx context.Context, all *sentLog) error {
	r, err := b.closedPhase(ctx, "accept", "gateway: accept capacity through the front door", true, b.acceptOp(all))
	if err != nil {
		return err
	}
	b.fig.AcceptPerSec, b.fig.AcceptErrors = round(r.perSec(), 0), r.failed
	if r.failed > 0 {
		b.prog.printf("accept: %d sends failed, first: %v", r.failed, r.firstErr)
	}
	b.quiet(ctx)
	rate := 0.5 * b.fig.AcceptPerSec
	b.prog.printf("gateway: accept latency at %.0f sends/s (half its capacity), open loop", rate)
	var h run
	_ = b.measure(ctx, "accept-half", false, func() error {
		h = openLoop(ctx, rate, b.opts.Duration, 4096, b.acceptOp(all))
		return nil
	})
	if h.ok == 0 {
		return fmt.Errorf("accept at half its capacity: every send failed: %v", h.firstErr)
	}
	b.fig.AcceptErrors += h.failed
	b.fig.AcceptHalfLoadPerSec = round(rate, 0)
	b.fig.AcceptP50Ms, b.fig.AcceptP95Ms, b.fig.AcceptP99Ms = round(h.ms(50), 1), round(h.ms(95), 1), round(h.ms(99), 1)
	return nil
}

// closedPhase runs do closed loop at the run's concurrency for one
// phase; it fails when every operation failed.
func (b *Bench) closedPhase(ctx context.Context, phase, what string, profile bool, do op) (run, error) {
	what = fmt.Sprintf("%s, concurrency %d", what, b.opts.Concurrency)
	b.prog.printf("%s", what)
	var r run
	_ = b.measure(ctx, phase, profile, func() error {
		r = closedLoop(ctx, b.opts.Concurrency, b.opts.Duration, do)
		return nil
	})
	if r.ok == 0 {
		return r, fmt.Errorf("%s: every operation failed: %v", what, r.firstErr)
	}
	return r, nil
}

// emkt sends one large 50.01 through the front door and measures its
// answer time, the emkt function's added peak memory, and the time until
// the provider has every contact, each exactly once.
func (b *Bench) emkt(ctx context.Context) error {
	n, sb := b.opts.Contacts, b.stack.Sandbox
	// One contact first, end to end, so the emkt and fanout processes
	// have built their clients: the figure is a warm instance's.
	b.prog.printf("emkt: a %d-contact 50.01, after a one-contact one", n)
	warm, err := b.postBatch(ctx, emktBody(1, emktWarmPhones.national), 1)
	if err == nil {
		_, err = b.settled(ctx, warm, time.Minute)
	}
	if err != nil {
		return fmt.Errorf("emkt warm-up: %w", err)
	}
	b.quiet(ctx)
	sb.Reset()

	body := emktBody(n, emktPhones.national)
	c0, pid := b.proxy.Commits(), b.stack.PID("emkt")
	if err := resetPeakMemory(pid); err != nil {
		return fmt.Errorf("reset the emkt function's peak memory: %w", err)
	}
	base, err := peakMemory(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	var code string
	err = b.measure(ctx, "emkt-answer", true, func() (err error) {
		code, err = b.postEmkt(ctx, body)
		return err
	})
	if err != nil {
		return fmt.Errorf("emkt 50.01: %w", err)
	}
	b.fig.EmktAnswerSeconds = round(time.Since(start).Seconds(), 2)
	peak, err := peakMemory(pid)
	if err != nil {
		return err
	}
	b.fig.EmktAddedPeakMiB = round(float64(peak-base)/(1<<20), 1)

	msgIDs, err := b.batchIDs(ctx, code, n)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, emktLimit)
	err = b.measure(ctx, "emkt-dispatch", true, func() error {
		return b.waitAccepted(dctx, sb.Requests, msgIDs, time.Minute, "emkt dispatch", nil)
	})
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var last time.Time
	for _, r := range sb.Requests() {
		if r.Status == http.StatusOK {
			last = maxTime(last, r.At)
		}
	}
	if err != nil {
		b.prog.printf("emkt: %v", err)
	}
	// A duplicate would come late (a redelivered job, a second claim):
	// look again once the stack is quiet.
	b.quiet(ctx)
	reqs := sb.Requests()
	accepted := map[string][]string{} // message id → the numbers the provider took it for
	for _, r := range reqs {
		if r.Status == http.StatusOK {
			accepted[r.CallbackData] = append(accepted[r.CallbackData], r.To)
		}
	}
	once := len(accepted) == len(msgIDs)
	for i, id := range msgIDs {
		to := accepted[id]
		if len(to) > 0 {
			b.fig.EmktDispatched++
		}
		if len(to) > 1 {
			b.fig.EmktDuplicated++
		}
		once = once && len(to) == 1 && to[0] == emktPhones.full(i)
	}
	b.fig.EmktExactlyOnce, b.fig.EmktProviderCalls = once, len(reqs)
	if !last.IsZero() {
		b.fig.EmktDispatchSeconds = round(last.Sub(start).Seconds(), 1)
		b.fig.EmktDispatchPerSec = round(float64(n)/last.Sub(start).Seconds(), 0)
	}
	b.fig.EmktCommitsPerMessage = round(float64(b.proxy.Commits()-c0)/float64(n), 2)
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
