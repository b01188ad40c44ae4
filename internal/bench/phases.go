package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"time"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/store"
)

// rawCreate is the create baseline's op: one document, shaped like a
// message, created in one commit.
func (b *Bench) rawCreate(ctx context.Context, i int) error {
	now := time.Now().UTC()
	_, err := b.fsRaw.Collection("bench").Doc(b.runID).Collection("raw").NewDoc().Create(ctx, map[string]any{
		"tenant": "bench", "status": "accepted", "phoneNumber": b.raw.full(i), "templateId": "welcome",
		"attempts": 0, "createdAt": now, "updatedAt": now,
	})
	return err
}

// warmUp runs creates and sends once, unmeasured: the emulators are JVMs
// that run interpreted until their JIT has compiled the hot paths, and
// the functions build their clients on first use. Without it the first
// phases measure a cold JVM.
func (b *Bench) warmUp(ctx context.Context) error {
	c, d := b.opts.Concurrency, b.opts.Duration
	b.prog.begin("warm-up", "warming up: one message end to end")
	id, err := b.send(ctx, b.phone())
	if err != nil {
		return fmt.Errorf("warm-up send: %w", err)
	}
	if _, err := b.settled(ctx, []string{id}, time.Minute); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	b.prog.set(0.1, "warming up the emulator: creates")
	closedLoop(ctx, c, d, b.rawCreate, func(f float64) { b.prog.set(0.1+f*0.3, "") })
	b.prog.set(0.4, "warming up the gateway: sends end to end")
	var log sentLog
	closedLoop(ctx, c, d, b.acceptOp(&log), func(f float64) { b.prog.set(0.4+f*0.3, "") })
	if err := waitAccepted(ctx, b.sb.requests, ids(log.all()), time.Minute, func(done, all int) {
		b.prog.set(0.7+0.3*float64(done)/float64(all), fmt.Sprintf("warming up the gateway: dispatched %d/%d", done, all))
	}); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	b.quiet(ctx)
	return nil
}

// baselines measures the Firestore emulator's one-document create rate,
// closed loop, and its CPU per create, the unit of the life phase's
// emulator ratio.
func (b *Bench) baselines(ctx context.Context) error {
	t0 := b.emulatorTicks()
	r, err := b.closedPhase(ctx, "raw-create", "baseline: Firestore emulator creates", false, b.rawCreate)
	if err != nil {
		return err
	}
	if t1 := b.emulatorTicks(); t0 >= 0 && t1 >= t0 {
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
	b.prog.begin("drain", "dispatching what the accept phases accepted")
	sent := ids(all.all())
	err = b.measure(ctx, "drain", false, func() error {
		return waitAccepted(ctx, b.sb.requests, sent, time.Minute, func(done, all int) {
			b.prog.set(float64(done)/float64(all), fmt.Sprintf("dispatching what the accept phases accepted: %d/%d", done, all))
		})
	})
	if err != nil {
		return fmt.Errorf("after the accept phases: %w", err)
	}
	b.quiet(ctx)
	return nil
}

func (b *Bench) acceptLoops(ctx context.Context, all *sentLog) error {
	r, err := b.closedPhase(ctx, "accept", "gateway: accept capacity through the front door", b.prof != nil, b.acceptOp(all))
	if err != nil {
		return err
	}
	b.fig.AcceptPerSec, b.fig.AcceptErrors = round(r.perSec(), 0), r.failed
	if r.failed > 0 {
		b.prog.note("accept: %d sends failed, first: %v", r.failed, r.firstErr)
	}
	b.quiet(ctx)
	rate := 0.5 * b.fig.AcceptPerSec
	b.prog.begin("accept-half", fmt.Sprintf("gateway: accept latency at %.0f sends/s (half its capacity), open loop", rate))
	var h run
	_ = b.measure(ctx, "accept-half", false, func() error {
		h = openLoop(ctx, rate, b.opts.Duration, 4096, b.acceptOp(all), func(f float64) { b.prog.set(f, "") })
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

// closedPhase runs do closed loop at the run's concurrency for one phase,
// with the progress bar, the CPU accounting and, when profile is set, the
// profiles; it fails when every operation failed.
func (b *Bench) closedPhase(ctx context.Context, phase, what string, profile bool, do op) (run, error) {
	what = fmt.Sprintf("%s, concurrency %d", what, b.opts.Concurrency)
	b.prog.begin(phase, what)
	var r run
	_ = b.measure(ctx, phase, profile, func() error {
		r = closedLoop(ctx, b.opts.Concurrency, b.opts.Duration, do, func(f float64) { b.prog.set(f, "") })
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
	n := b.opts.Contacts
	b.prog.begin("emkt-answer", fmt.Sprintf("emkt: a %d-contact 50.01 (warming up first)", n))
	// One small batch first, end to end, so the emkt and fanout processes
	// have built their clients: the figure is a warm instance's.
	warm := phones{ddd: "22", run: b.bulk.run}
	code, err := b.postEmkt(ctx, emktBody(1, warm.national))
	if err != nil {
		return fmt.Errorf("emkt warm-up: %w", err)
	}
	warmIDs, err := b.batchIDs(ctx, code, 1)
	if err != nil {
		return fmt.Errorf("emkt warm-up: %w", err)
	}
	if _, err := b.settled(ctx, warmIDs, time.Minute); err != nil {
		return fmt.Errorf("emkt warm-up: %w", err)
	}
	b.quiet(ctx)
	if err := b.sb.reset(ctx); err != nil {
		return err
	}

	body := emktBody(n, b.bulk.national)
	var c0 int64
	if b.proxy != nil {
		c0 = b.proxy.Commits()
	}
	pid := 0
	var base int64
	if b.stack != nil {
		pid = b.stack.PID("emkt")
		if err := resetPeakMemory(pid); err != nil {
			return fmt.Errorf("reset the emkt function's peak memory: %w", err)
		}
		if base, err = peakMemory(pid); err != nil {
			return err
		}
	}
	b.prog.set(0.1, fmt.Sprintf("emkt: posting %d contacts (%.1f MiB)", n, float64(len(body))/(1<<20)))
	start := time.Now()
	err = b.measure(ctx, "emkt-answer", b.prof != nil, func() error {
		code, err = b.postEmkt(ctx, body)
		return err
	})
	answered := time.Since(start)
	if err != nil {
		return fmt.Errorf("emkt 50.01: %w", err)
	}
	b.fig.EmktAnswerSeconds = round(answered.Seconds(), 2)
	if pid != 0 {
		peak, err := peakMemory(pid)
		if err != nil {
			return err
		}
		added := round(float64(peak-base)/(1<<20), 1)
		b.fig.EmktAddedPeakMiB = &added
	}

	b.prog.begin("emkt-dispatch", fmt.Sprintf("emkt: dispatching %d contacts", n))
	msgIDs, err := b.batchIDs(ctx, code, n)
	if err != nil {
		return err
	}
	// A stack that cannot dispatch the batch in EmktLimit is reported as
	// such (not exactly once) rather than waited for.
	dctx, cancel := context.WithTimeout(ctx, b.opts.EmktLimit)
	err = b.measure(ctx, "emkt-dispatch", b.prof != nil, func() error {
		return waitAccepted(dctx, b.sb.requests, msgIDs, time.Minute, func(done, all int) {
			b.prog.set(float64(done)/float64(all), fmt.Sprintf("emkt: provider took %d/%d contacts (%s)", done, all, time.Since(start).Round(time.Second)))
		})
	})
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		b.prog.note("emkt: %v", err)
	}
	reqs, err := b.sb.requests(ctx)
	if err != nil {
		return err
	}
	var last time.Time
	for _, r := range reqs {
		if r.Status == http.StatusOK {
			last = maxTime(last, r.At)
		}
	}
	// A duplicate would come late (a redelivered job, a second claim):
	// look again once everything has settled.
	if dctx.Err() == nil {
		if _, err := b.settled(ctx, msgIDs, time.Minute); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.prog.note("emkt: %v", err)
		}
	}
	b.quiet(ctx)
	if reqs, err = b.sb.requests(ctx); err != nil {
		return err
	}
	accepted := acceptedCalls(reqs)
	once := len(accepted) == len(msgIDs)
	for i, id := range msgIDs {
		calls := accepted[id]
		if len(calls) > 0 {
			b.fig.EmktDispatched++
		}
		if len(calls) > 1 {
			b.fig.EmktDuplicated++
		}
		if len(calls) != 1 || reqs[calls[0]].To != b.bulk.full(i) {
			if once && len(calls) > 0 {
				b.prog.note("emkt: contact %d (message %s) was accepted by the provider %d times, to %s", i, id, len(calls), reqs[calls[0]].To)
			}
			once = false
		}
	}
	b.fig.EmktExactlyOnce = once
	b.fig.EmktProviderCalls = len(reqs)
	if !last.IsZero() {
		b.fig.EmktDispatchSeconds = round(last.Sub(start).Seconds(), 1)
		b.fig.EmktDispatchPerSec = round(float64(n)/last.Sub(start).Seconds(), 0)
	}
	if b.proxy != nil {
		cpm := round(float64(b.proxy.Commits()-c0)/float64(n), 2)
		b.fig.EmktCommitsPerMessage = &cpm
	}
	return nil
}

// acceptedCalls indexes the provider's accepted calls by message id.
func acceptedCalls(reqs []sandbox.Request) map[string][]int {
	out := map[string][]int{}
	for i, r := range reqs {
		if r.Status == http.StatusOK {
			out[r.CallbackData] = append(out[r.CallbackData], i)
		}
	}
	return out
}

// postEmkt sends a 50.01 and returns its batch code.
func (b *Bench) postEmkt(ctx context.Context, body []byte) (string, error) {
	code, raw, err := b.post(ctx, "/emkt/", "application/xml", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	var a struct {
		Emkt struct {
			Return string `xml:"return"`
		} `xml:"emkt"`
	}
	if code != http.StatusOK || xml.Unmarshal(raw, &a) != nil || a.Emkt.Return == "" {
		return "", fmt.Errorf("50.01 answered %d %s", code, bytes.TrimSpace(raw))
	}
	return a.Emkt.Return, nil
}

// batchIDs are the message ids of a batch's n contacts, in order.
func (b *Bench) batchIDs(ctx context.Context, code string, n int) ([]string, error) {
	rec, err := store.New(b.fsRead).BatchByCode(ctx, demo.TenantID, code)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", code, err)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = batch.MessageID(rec.ID, i)
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
