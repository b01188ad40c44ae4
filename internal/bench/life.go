package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/app"
	"github.com/templategw/templategw/internal/domain"
)

// The life phase's defaults.
const (
	// DefaultLifeMessages is the messages one repetition sends through
	// their whole life.
	DefaultLifeMessages = 300
	// DefaultRepetitions is how many times the life phase repeats, for
	// a median and a range.
	DefaultRepetitions = 3
	// LifeRate is the sends a second the life phase offers: a small
	// share of what accept carries on two cores, so the figures are
	// costs, not queueing.
	LifeRate = 25.0
)

// lifePhase measures what a message costs over its whole life (accept,
// dispatch, Meta's sent, delivered and read webhooks, a callback for each
// status change) and to pending: the Firestore calls and billed
// operations at the proxy, Pub/Sub's publishes and deliveries at the
// Pushers, the functions' invocations and CPU, and the dollars those
// come to. Each repetition first sends a few messages with the sandbox's
// webhooks off, which stop at pending (the to-pending figures: with
// webhooks on, the statuses follow pending within 150 ms), then
// LifeMessages with them on, and waits until every message is read and
// every callback has arrived.
func (b *Bench) lifePhase(ctx context.Context) (err error) {
	n, reps := b.opts.LifeMessages, b.opts.Repetitions
	b.prog.printf("life: %d × %d messages at %.0f/s, webhooks and callbacks on", reps, n, LifeRate)
	rig, err := b.startLife(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rig.stop()) }()
	// Unmeasured: the whatsapp and callbacks functions build their
	// clients on first use.
	if _, err := rig.round(ctx, "life-warm-up", 5, true); err != nil {
		return err
	}
	pendingN := min(n, 100)
	var pend, life []lifeRound
	for i := range reps {
		b.prog.printf("life: repetition %d of %d", i+1, reps)
		p, err := rig.round(ctx, fmt.Sprintf("life-pending-%d", i+1), pendingN, false)
		if err != nil {
			return err
		}
		l, err := rig.round(ctx, fmt.Sprintf("life-%d", i+1), n, true)
		if err != nil {
			return err
		}
		pend, life = append(pend, p), append(life, l)
	}
	var rawCreateMs float64
	if b.rawCreates > 0 {
		rawCreateMs = 1000 * float64(b.rawCreateTicks) / clockTicks / float64(b.rawCreates)
	}
	f := summarizeLife(n, pendingN, rawCreateMs, pend, life)
	b.prog.printf("life: replaying its calls with a raw client")
	raw, err := b.rawClientCPU(ctx, f, n)
	if err != nil {
		return fmt.Errorf("raw-client replay: %w", err)
	}
	f.RawClientCPUMs = round(raw, 2)
	if raw > 0 {
		f.GatewayCPURatio = round(f.LifeFunctionCPUMs/raw, 2)
	}
	b.fig.LifeFigures = f
	return nil
}

// lifeRound is what one round of the life phase counted, as deltas.
type lifeRound struct {
	msgs        int
	calls       map[string]int64 // by short method, Listen left out
	listen      int64            // Listen streams opened
	bill        Billing
	publishes   int64
	pushes      int64
	pubsubBytes float64
	invocations map[string]int64 // by function
	cpuSec      float64          // the functions' CPU
	emulatorSec float64          // the Firestore emulator's CPU
	requestSec  float64          // the functions' request time
	notReached  int              // messages that never reached the round's status
	missing     int              // callbacks expected and never received
	unsigned    int              // callbacks whose signature did not verify
}

// lifeCounters is a snapshot of everything a round counts.
type lifeCounters struct {
	calls                       map[string]int64
	bill                        Billing
	cpu                         cpuSample
	dispatch, dispatchRefused   int64
	callbacks, callbacksRefused int64
	pushBusy, pushBytes         int64
	hooks, hookBusy, unsigned   int64
}

func (r *lifeRig) snapshot() lifeCounters {
	b, d, c := r.b, r.b.pushed["dispatch"], r.b.pushed["callbacks"]
	return lifeCounters{
		calls: b.proxy.Counts(), bill: b.proxy.Billed(), cpu: b.cpu.sample(),
		dispatch: d.delivered.Load(), dispatchRefused: d.refused.Load(),
		callbacks: c.delivered.Load(), callbacksRefused: c.refused.Load(),
		pushBusy: d.busy.Load() + c.busy.Load(), pushBytes: d.billedBytes.Load() + c.billedBytes.Load(),
		hooks: r.relay.n.Load(), hookBusy: r.relay.busy.Load(), unsigned: r.sink.unsigned.Load(),
	}
}

// round sends n messages at LifeRate, the sandbox's webhooks on or off,
// follows them to read (on) or pending (off) with every callback
// received, and counts what it took.
func (r *lifeRig) round(ctx context.Context, phase string, n int, webhooks bool) (lifeRound, error) {
	b := r.b
	to := domain.StatusPending
	b.stack.Sandbox.SetWebhook("", "")
	if webhooks {
		to = domain.StatusRead
		b.stack.Sandbox.SetWebhook(r.relay.url+"/whatsapp/", "")
	}
	b.quiet(ctx)
	c0 := r.snapshot()
	var (
		log  sentLog
		sent run
		out  = lifeRound{calls: map[string]int64{}, invocations: map[string]int64{}}
	)
	err := b.measure(ctx, phase, webhooks, func() error {
		// Half a period more, so the loop's count of sends is n.
		d := time.Duration((float64(n) + 0.5) / LifeRate * float64(time.Second))
		sent = openLoop(ctx, LifeRate, d, 256, b.acceptOp(&log))
		if sent.ok == 0 {
			return fmt.Errorf("%s: every send failed: %v", phase, sent.firstErr)
		}
		var err error
		out.notReached, out.missing, err = r.follow(ctx, ids(log.all()), to, time.Minute)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("life phase: %w", err)
	}
	b.quiet(ctx)
	c1 := r.snapshot()

	out.msgs = sent.ok
	for m, v := range c1.calls {
		switch v -= c0.calls[m]; {
		case v <= 0:
		case m == methodListen:
			out.listen = v
		default:
			out.calls[shortMethod(m)] = v
		}
	}
	out.bill = c1.bill.Sub(c0.bill)
	dispatched, callbacks := c1.dispatch-c0.dispatch, c1.callbacks-c0.callbacks
	out.invocations["templates"] = int64(sent.ok + sent.failed)
	out.invocations["whatsapp"] = c1.hooks - c0.hooks
	out.invocations["dispatch"] = dispatched + c1.dispatchRefused - c0.dispatchRefused
	out.invocations["callbacks"] = callbacks + c1.callbacksRefused - c0.callbacksRefused
	// A publish is counted when its delivery is acked; a refused
	// delivery is a delivery, not a publish. Each publish is billed at its
	// delivery's size, as is each delivery.
	out.publishes = dispatched + callbacks
	out.pushes = out.invocations["dispatch"] + out.invocations["callbacks"]
	if bytes := float64(c1.pushBytes - c0.pushBytes); out.pushes > 0 {
		out.pubsubBytes = bytes + bytes*float64(out.publishes)/float64(out.pushes)
	}
	for _, f := range app.Functions {
		out.cpuSec += float64(c1.cpu.ticks[f.Name]-c0.cpu.ticks[f.Name]) / clockTicks
	}
	out.emulatorSec = float64(c1.cpu.ticks[emulatorProc]-c0.cpu.ticks[emulatorProc]) / clockTicks
	for _, l := range sent.latencies {
		out.requestSec += l.Seconds()
	}
	out.requestSec += time.Duration(c1.pushBusy - c0.pushBusy + c1.hookBusy - c0.hookBusy).Seconds()
	out.unsigned = int(c1.unsigned - c0.unsigned)
	return out, nil
}

// follow reads the messages until each has reached status to (pending
// counts anything after it; read only read) and the callback of each of
// its status changes has arrived. It gives up when nothing moves for
// stall, and reports the messages that never got there and the callbacks
// missing from those that did.
func (r *lifeRig) follow(ctx context.Context, ids []string, to domain.Status, stall time.Duration) (notReached, missing int, err error) {
	// What each message still waits for: -1 its status, else callbacks.
	waits := map[string]int{}
	left, err := r.b.watch(ctx, ids, stall, func(id string, s *firestore.DocumentSnapshot) bool {
		var m domain.Message
		if !s.Exists() || s.DataTo(&m) != nil || !reached(m.Status, to) {
			waits[id] = -1
			return false
		}
		waits[id] = r.sink.missing(id, m)
		return waits[id] == 0
	})
	for _, id := range left {
		if waits[id] < 0 {
			notReached++
		} else {
			missing += waits[id]
		}
	}
	if len(left) > 0 && err == nil {
		r.b.prog.printf("life: %d of %d messages not %s, %d callbacks missing, after %s without progress", notReached, len(ids), to, missing, stall)
	}
	return notReached, missing, err
}

// reached reports whether a message in status s has got to status to:
// pending counts anything after it, read only read.
func reached(s, to domain.Status) bool {
	return s == domain.StatusRead || to == domain.StatusPending && (s == domain.StatusPending || s == domain.StatusSent || s == domain.StatusDelivered)
}
