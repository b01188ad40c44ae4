package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/templategw/templategw/emulator"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/pacing"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/store"
)

const (
	// PaceRate is the number's limit in the pacing phases: Meta's default
	// throughput, the figure DESIGN §8 states.
	PaceRate = 80
	// PaceInstances is how many dispatch processes share the number.
	PaceInstances = 4
	// paceLanes is each dispatch process's deliveries in flight in the
	// pacing phases: the request concurrency a dispatch instance is
	// deployed with (TestFourInstancesKeepOneNumbersRate pushes as many).
	// Most of them wait in the pacer, not on the emulator, so the
	// contention that keeps the Pushers' default low does not apply.
	paceLanes = 40
	// DefaultPaceMessages and DefaultFairnessContacts are DESIGN §8's
	// sizes of the pacing and fairness phases.
	DefaultPaceMessages     = 4000
	DefaultFairnessContacts = 20000
	// singleEvery is the gap between single sends in the fairness phase.
	singleEvery = 200 * time.Millisecond
	// paceStall is how long the pacing phases wait for the next message
	// to reach the provider before giving up: longer than the push
	// subscriptions' largest backoff (30 s), which a job refused several
	// times by the pacer waits before it is delivered again.
	paceStall = 90 * time.Second
)

// paceRig is what the pacing phases run on: PaceInstances dispatch
// processes of their own, each with its own Pacer, all calling a sandbox
// whose one number takes PaceRate messages a second, and the demo
// channel set to that rate. The stack's sandbox stays at 1,000/s so that
// the other phases measure the gateway, not Meta's limit; the processes
// are extra instances of the dispatch function, as Cloud Run would start
// under load, and both dispatch Pushers spread their deliveries across
// them.
type paceRig struct {
	sb    *sandbox.Sandbox
	addrs []string // the dispatch processes' host:port
}

// paceRig starts the rig once, for whichever pacing phase comes first.
// The processes and the sandbox stop with the run.
func (b *Bench) paceRig(ctx context.Context) (*paceRig, error) {
	if b.rig != nil {
		return b.rig, nil
	}
	cfg := sandbox.Default()
	cfg.Numbers[0].MessagesPerSecond = PaceRate
	rig := &paceRig{sb: sandbox.New(cfg)}
	b.closers = append(b.closers, rig.sb.Close)
	sbURL, err := b.serveLoopback(rig.sb.Handler())
	if err != nil {
		return nil, err
	}
	// The channel's setting is what the pacers keep to. It stays for the
	// rest of the run, whose stack goes with it.
	ch := demo.Channel()
	ch.MessagesPerSecond = PaceRate
	if err := store.New(b.fsRead).PutChannel(ctx, demo.TenantID, ch); err != nil {
		return nil, fmt.Errorf("set the channel's rate: %w", err)
	}

	env, err := functionEnv(b.stack.PID("dispatch"))
	if err != nil {
		return nil, err
	}
	env = append(env, "META_BASE_URL="+sbURL, "FUNCTION_TARGET=dispatch")
	for i := range PaceInstances {
		port, err := emulator.FreePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(b.opts.Exe, "serve")
		cmd.Env = append(env, "PORT="+strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = b.opts.Logs, b.opts.Logs
		// Its own process group, killed whole at the end, and with us.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start dispatch instance %d: %w", i+1, err)
		}
		b.closers = append(b.closers, func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
		b.cpu[fmt.Sprintf("dispatch-%d", i+1)] = cmd.Process.Pid
		rig.addrs = append(rig.addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	for i, addr := range rig.addrs {
		stalled, err := poll(ctx, 30*time.Second, func() (bool, bool, error) {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return false, err == nil, nil
		})
		if stalled {
			err = fmt.Errorf("dispatch instance %d: not listening on %s after 30 s", i+1, addr)
		}
		if err != nil {
			return nil, err
		}
	}
	b.rig = rig
	return rig, nil
}

// functionEnv is the environment the stack gave the function process pid,
// less what each process gets of its own (its port and function) and the
// profiler's directory (a second profiler of the same name would write
// over the first's profiles). Reading it from /proc keeps the extra
// instances configured exactly as the stack's.
func functionEnv(pid int) ([]string, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil, fmt.Errorf("the dispatch function's environment: %w", err)
	}
	var env []string
	for _, kv := range bytes.Split(raw, []byte{0}) {
		k, _, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "PORT", "FUNCTION_TARGET", "META_BASE_URL", ProfileEnv:
			continue
		}
		env = append(env, string(kv))
	}
	return env, nil
}

// onRig points both dispatch Pushers at the rig's instances for f, and
// back at the stack's functions after. The path is the push endpoint's:
// the Functions Framework reads the topic from it.
func (b *Bench) onRig(rig *paceRig, f func() error) error {
	for _, fn := range []string{"dispatch", "dispatchbulk"} {
		p := b.pushers[fn]
		path := "/"
		if u, err := url.Parse(p.Endpoint()); err == nil && u.Path != "" {
			path = u.RequestURI()
		}
		var endpoints []string
		for _, a := range rig.addrs {
			endpoints = append(endpoints, "http://"+a+path)
		}
		p.Route(endpoints, paceLanes*len(rig.addrs))
		defer p.Route(nil, 0)
	}
	return f()
}

// pacingPhase sends one broadcast of PaceMessages contacts through the
// rig's PaceInstances dispatch processes to the number limited to
// PaceRate, and measures what DESIGN §8 asks of pacing: the rate the
// provider accepted them at against the limit, how many failed or ended
// unknown, and the share of provider calls refused with 130429.
func (b *Bench) pacingPhase(ctx context.Context) error {
	n := b.opts.PaceMessages
	b.prog.printf("pacing: a %d-contact broadcast through %d dispatch processes, one number at %d/s", n, PaceInstances, PaceRate)
	rig, err := b.paceRig(ctx)
	if err != nil {
		return err
	}
	rig.sb.Reset()
	body := emktBody(n, pacePhones.national)
	var (
		outs   map[string]outcome
		msgIDs []string
	)
	err = b.onRig(rig, func() error {
		return b.measure(ctx, "pacing", false, func() error {
			var err error
			if msgIDs, err = b.postBatch(ctx, body, n); err != nil {
				return err
			}
			// A message that failed never reaches the provider: the
			// statuses below count it.
			if err := b.waitAccepted(ctx, rig.sb.Requests, msgIDs, paceStall, "pacing", nil); err != nil {
				b.prog.printf("pacing: %v", err)
			}
			outs, err = b.settled(ctx, msgIDs, time.Minute)
			if err != nil && ctx.Err() == nil {
				b.prog.printf("pacing: %v", err)
				return nil
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("pacing: %w", err)
	}
	pf := &PacingFigures{PaceMessages: n, PaceInstances: PaceInstances, PaceRate: PaceRate}
	for _, id := range msgIDs {
		o, ok := outs[id]
		switch {
		case !ok:
			pf.PaceUnsettled++
		case o.status == domain.StatusFailed:
			pf.PaceFailed++
		case o.status == domain.StatusUnknown:
			pf.PaceUnknown++
		}
	}
	var first, last time.Time
	accepted, refused := 0, 0
	reqs := rig.sb.Requests()
	for _, r := range reqs {
		switch {
		case r.Status == http.StatusOK:
			accepted++
			if first.IsZero() || r.At.Before(first) {
				first = r.At
			}
			last = maxTime(last, r.At)
		case r.ErrorCode == pacing.CodeNumberRate:
			refused++
		}
	}
	pf.PaceProviderCalls = len(reqs)
	if accepted > 1 && last.After(first) {
		// Accepted calls over the time between the first and the last:
		// the first opens the window, so it is not counted in it.
		pf.PaceAchievedPerSec = round(float64(accepted-1)/last.Sub(first).Seconds(), 1)
		pf.PaceAchievedRatio = round(pf.PaceAchievedPerSec/PaceRate, 3)
	}
	if len(reqs) > 0 {
		pf.Pace130429Share = round(float64(refused)/float64(len(reqs)), 4)
	}
	b.fig.PacingFigures = pf
	return nil
}

// fairnessPhase sends a broadcast of FairnessContacts contacts through
// the rig and, from its first contact at the provider until its last,
// one single Atom send every singleEvery: DESIGN §8 asks that each reach
// pending within 3 s (p99) of its 202, however long the broadcast's
// queue.
func (b *Bench) fairnessPhase(ctx context.Context) error {
	n := b.opts.FairnessContacts
	b.prog.printf("fairness: single sends while a %d-contact broadcast drains at %d/s", n, PaceRate)
	rig, err := b.paceRig(ctx)
	if err != nil {
		return err
	}
	rig.sb.Reset()
	body := emktBody(n, fairnessPhones.national)
	var (
		singles  sentLog
		refused  recorder
		bulkDone time.Duration
	)
	err = b.onRig(rig, func() error {
		return b.measure(ctx, "fairness", false, func() error {
			start := time.Now()
			bulkIDs, err := b.postBatch(ctx, body, n)
			if err != nil {
				return err
			}
			var draining atomic.Bool
			drained := make(chan error, 1)
			go func() {
				drained <- b.waitAccepted(ctx, rig.sb.Requests, bulkIDs, paceStall, "fairness: the broadcast", func(done int) { draining.Store(done > 0) })
			}()
			var wg sync.WaitGroup
			defer wg.Wait()
			tick := time.NewTicker(singleEvery)
			defer tick.Stop()
			for {
				select {
				case err := <-drained:
					bulkDone = time.Since(start)
					if err != nil {
						b.prog.printf("fairness: %v", err)
					}
					return nil
				case <-ctx.Done():
					return ctx.Err()
				case <-tick.C:
				}
				if !draining.Load() {
					continue
				}
				wg.Go(func() {
					id, err := b.send(ctx, b.phone())
					if err != nil {
						refused.add(0, err)
						return
					}
					// From the 202: what the sender waits for after its
					// request was taken.
					singles.add(id, time.Now())
				})
			}
		})
	})
	if err != nil {
		return fmt.Errorf("fairness: %w", err)
	}
	sent := singles.all()
	if len(sent) == 0 {
		return fmt.Errorf("fairness: no single send was accepted while the broadcast drained (%d failed: %v)", refused.failed, refused.firstErr)
	}
	outs, err := b.settled(ctx, ids(sent), time.Minute)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.prog.printf("fairness: %v", err)
	}
	// A send's wait is split at its claim: before it, Pub/Sub's delivery
	// and the pacer (and any redelivery's backoff); after it, the
	// provider's call and the outcome's commit.
	var lat, claim []time.Duration
	for _, m := range sent {
		if o := outs[m.id]; !o.pendingAt.IsZero() {
			lat = append(lat, max(o.pendingAt.Sub(m.at), 0))
			claim = append(claim, max(o.claimedAt.Sub(m.at), 0))
		}
	}
	b.fig.FairnessFigures = &FairnessFigures{
		FairnessContacts: n, FairnessSingles: len(sent), FairnessSendErrors: refused.failed, FairnessNotPending: len(sent) - len(lat),
		FairnessBulkSeconds:   round(bulkDone.Seconds(), 1),
		SingleDuringBulkP50Ms: round(percentileMs(lat, 50), 1), SingleDuringBulkP99Ms: round(percentileMs(lat, 99), 1),
		SingleDuringBulkMaxMs: round(percentileMs(lat, 100), 1), SingleDuringBulkClaimP99Ms: round(percentileMs(claim, 99), 1),
	}
	return nil
}
