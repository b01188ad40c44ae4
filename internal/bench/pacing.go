package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// paceStall is how long the pacing phases wait for the next message to
// reach the provider before giving up: longer than the push
// subscriptions' largest backoff (30 s), which a job refused several
// times by the pacer waits before it is delivered again.
const paceStall = 90 * time.Second

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
	// contention that keeps DefaultLanes low does not apply.
	paceLanes = 40
	// DefaultPaceMessages and DefaultFairnessContacts are DESIGN §8's
	// sizes of the pacing and fairness phases.
	DefaultPaceMessages     = 4000
	DefaultFairnessContacts = 20000
	// singleEvery is the gap between single sends in the fairness phase.
	singleEvery = 200 * time.Millisecond
)

// errNoPaceRig says the pacing phases cannot run on this stack.
var errNoPaceRig = errors.New("the pacing phases need a stack the benchmark started")

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

func (r *paceRig) requests(context.Context) ([]sandbox.Request, error) { return r.sb.Requests(), nil }

// endpoints are the rig's processes at the path of the push endpoint
// given: the Functions Framework reads the topic from it.
func (r *paceRig) endpoints(push string) []string {
	path := "/"
	if u, err := url.Parse(push); err == nil && u.Path != "" {
		path = u.RequestURI()
	}
	out := make([]string, len(r.addrs))
	for i, a := range r.addrs {
		out[i] = "http://" + a + path
	}
	return out
}

// paceRig starts the rig once, for whichever pacing phase comes first.
// The processes and the sandbox stop with the run.
func (b *Bench) paceRig(ctx context.Context) (*paceRig, error) {
	if b.rig != nil {
		return b.rig, nil
	}
	if b.stack == nil {
		return nil, errNoPaceRig
	}
	cfg := sandbox.Default()
	cfg.Numbers[0].MessagesPerSecond = PaceRate
	sb := sandbox.New(cfg)
	sbURL, closeSB, err := serveLoopback(sb.Handler())
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, func() { closeSB(); sb.Close() })
	rig := &paceRig{sb: sb}

	// The channel's setting is what the pacers keep to; it goes back to
	// the demo's when the run ends, so a reused data directory is left as
	// it was seeded.
	st := store.New(b.fsRead)
	ch := demo.Channel()
	ch.MessagesPerSecond = PaceRate
	if err := st.PutChannel(ctx, demo.TenantID, ch); err != nil {
		return nil, fmt.Errorf("set the channel's rate: %w", err)
	}
	b.closers = append(b.closers, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.PutChannel(cctx, demo.TenantID, demo.Channel()); err != nil {
			b.prog.note("restore the channel's rate: %v", err)
		}
	})

	env, err := functionEnv(b.stack.PID("dispatch"))
	if err != nil {
		return nil, err
	}
	env = append(env, "META_BASE_URL="+sbURL, "FUNCTION_TARGET=dispatch")
	logs := &lockedWriter{w: b.opts.Logs}
	for i := range PaceInstances {
		port, err := emulator.FreePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(b.opts.Exe, "serve")
		cmd.Env = append(env, "PORT="+strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = logs, logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start dispatch instance %d: %w", i+1, err)
		}
		b.closers = append(b.closers, func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
		b.cpu.pids[fmt.Sprintf("dispatch-%d", i+1)] = cmd.Process.Pid
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if err := waitListening(ctx, addr, 30*time.Second); err != nil {
			return nil, fmt.Errorf("dispatch instance %d: %w", i+1, err)
		}
		rig.addrs = append(rig.addrs, addr)
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

// waitListening polls until addr accepts connections.
func waitListening(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %s: %w", addr, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lockedWriter serializes the extra processes' output, which their
// copying goroutines would otherwise interleave mid-write.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// onRig points both dispatch Pushers at the rig's instances for f, and
// back at the stack's functions after.
func (b *Bench) onRig(rig *paceRig, f func() error) error {
	lanes := paceLanes * len(rig.addrs)
	for _, fn := range []string{"dispatch", "dispatchbulk"} {
		p := b.pushers[fn]
		p.Route(rig.endpoints(p.Endpoint()), lanes)
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
	b.prog.begin("pacing", fmt.Sprintf("pacing: %d dispatch processes, one number at %d/s", PaceInstances, PaceRate))
	rig, err := b.paceRig(ctx)
	if err != nil {
		return err
	}
	rig.sb.Reset()
	body := emktBody(n, phones{ddd: "23", run: b.bulk.run}.national)
	b.prog.set(0.02, fmt.Sprintf("pacing: a %d-contact broadcast through %d dispatch processes at %d/s", n, PaceInstances, PaceRate))
	var outs map[string]outcome
	var msgIDs []string
	err = b.onRig(rig, func() error {
		return b.measure(ctx, "pacing", false, func() error {
			code, err := b.postEmkt(ctx, body)
			if err != nil {
				return err
			}
			if msgIDs, err = b.batchIDs(ctx, code, n); err != nil {
				return err
			}
			if err := waitAccepted(ctx, rig.requests, msgIDs, paceStall, func(done, all int) {
				b.prog.set(0.02+0.95*float64(done)/float64(all), fmt.Sprintf("pacing: %d/%d at the provider", done, all))
			}); err != nil {
				// A message that failed never reaches the provider: the
				// statuses below count it.
				b.prog.note("pacing: %v", err)
			}
			outs, err = b.settled(ctx, msgIDs, time.Minute)
			if err != nil && ctx.Err() == nil {
				b.prog.note("pacing: %v", err)
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
	b.prog.begin("fairness", fmt.Sprintf("fairness: single sends while a %d-contact broadcast drains at %d/s", n, PaceRate))
	rig, err := b.paceRig(ctx)
	if err != nil {
		return err
	}
	rig.sb.Reset()
	body := emktBody(n, phones{ddd: "24", run: b.bulk.run}.national)
	var (
		singles  sentLog
		failures int
		firstErr error
		bulkDone time.Duration
		nSingles atomic.Int64
	)
	err = b.onRig(rig, func() error {
		return b.measure(ctx, "fairness", false, func() error {
			start := time.Now()
			code, err := b.postEmkt(ctx, body)
			if err != nil {
				return err
			}
			bulkIDs, err := b.batchIDs(ctx, code, n)
			if err != nil {
				return err
			}
			var (
				mu      sync.Mutex
				started bool
			)
			drained := make(chan error, 1)
			go func() {
				drained <- waitAccepted(ctx, rig.requests, bulkIDs, paceStall, func(done, all int) {
					mu.Lock()
					started = started || done > 0
					mu.Unlock()
					b.prog.set(0.95*float64(done)/float64(all), fmt.Sprintf("fairness: broadcast %d/%d at the provider, %d single sends", done, all, nSingles.Load()))
				})
			}()
			var wg sync.WaitGroup
			tick := time.NewTicker(singleEvery)
			defer tick.Stop()
		loop:
			for {
				select {
				case err := <-drained:
					bulkDone = time.Since(start)
					if err != nil {
						b.prog.note("fairness: %v", err)
					}
					break loop
				case <-ctx.Done():
					break loop
				case <-tick.C:
				}
				mu.Lock()
				draining := started
				mu.Unlock()
				if !draining {
					continue // until the broadcast is draining
				}
				wg.Go(func() {
					id, err := b.send(ctx, b.phone())
					if err != nil {
						mu.Lock()
						failures++
						firstErr = cmpErr(firstErr, err)
						mu.Unlock()
						return
					}
					// From the 202: what the sender waits for after its
					// request was taken.
					singles.add(id, time.Now())
					nSingles.Add(1)
				})
			}
			wg.Wait()
			return ctx.Err()
		})
	})
	if err != nil {
		return fmt.Errorf("fairness: %w", err)
	}
	sent := singles.all()
	if len(sent) == 0 {
		return fmt.Errorf("fairness: no single send was accepted while the broadcast drained (%d failed: %v)", failures, firstErr)
	}
	outs, err := b.settled(ctx, ids(sent), time.Minute)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.prog.note("fairness: %v", err)
	}
	var lat []time.Duration
	notPending := 0
	for _, m := range sent {
		if o := outs[m.id]; !o.pendingAt.IsZero() {
			lat = append(lat, max(o.pendingAt.Sub(m.at), 0))
		} else {
			notPending++
		}
	}
	b.fig.FairnessFigures = &FairnessFigures{
		FairnessContacts: n, FairnessSingles: len(sent), FairnessSendErrors: failures, FairnessNotPending: notPending,
		FairnessBulkSeconds:   round(bulkDone.Seconds(), 1),
		SingleDuringBulkP50Ms: round(percentileMs(lat, 50), 1), SingleDuringBulkP99Ms: round(percentileMs(lat, 99), 1),
		SingleDuringBulkMaxMs: round(percentileMs(lat, 100), 1),
	}
	return nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
