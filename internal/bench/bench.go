// Package bench measures the gateway against DESIGN §8 on the emulators
// it runs on, in one run: costs per message (Firestore calls and billed
// operations, Pub/Sub traffic, function invocations and the dollars they
// come to) and latencies at a share of the gateway's own measured
// capacity, with baselines of the same machine beside them.
//
// It is a client of the dev stack: it starts one with a gRPC proxy
// between the functions and the Firestore emulator that counts calls and
// billed operations, and delivers the push subscriptions through
// emulator.Pusher. docs/benchmarks.md describes each phase.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/templategw/templategw/emulator"
	"github.com/templategw/templategw/internal/app"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/devstack"
)

// Options configure a run. The zero value of a field takes its default.
type Options struct {
	// Exe is the binary whose "serve" subcommand runs one function (the
	// templategw binary, or one that serves the same functions and calls
	// ServeProfiling, for ProfileDir).
	Exe string
	// Duration is each measured phase's length; default 3s.
	Duration time.Duration
	// Concurrency is the closed loops' (the raw creates' and accept's
	// capacity); default 32.
	Concurrency int
	// Contacts is the emkt 50.01's size; default (and at most) MaxContacts.
	Contacts int
	// PaceMessages and FairnessContacts size the pacing and fairness
	// phases' broadcasts, RecoveryMessages the recovery phase's backlog;
	// default DESIGN §8's and issue 16's.
	PaceMessages, FairnessContacts, RecoveryMessages int
	// LifeMessages is what one repetition of the life phase sends through
	// its whole life, Repetitions how many repetitions its median and
	// range are over; default DefaultLifeMessages and DefaultRepetitions.
	LifeMessages, Repetitions int
	// Only, when set, runs just these of Phases, with the phases they need.
	Only []string
	// ProfileDir, when set, receives CPU profiles of each function and of
	// the benchmark's own process for accept's capacity, the emkt batch
	// and the whole-life rounds.
	ProfileDir string
	// Progress receives a line per phase, Logs the functions' and
	// emulators' output; nil discards either.
	Progress, Logs io.Writer
}

// Bench is one benchmark run.
type Bench struct {
	opts   Options
	phases []string // the phases this run measures, in order

	hc      *http.Client
	stack   *devstack.Stack
	proxy   *Proxy
	fsRaw   *firestore.Client // through the proxy, so the baselines pay the gateway's hop
	fsRead  *firestore.Client // straight to the emulator: following messages is not the gateway's work
	ps      *pubsub.Client
	prog    *progress
	cpu     cpuWatch
	prof    *profiler
	fig     *Figures
	closers []func()

	nextPhone atomic.Int64
	// rawCreates and rawCreateTicks are the baselines' creates and the
	// Firestore emulator's CPU over them, the unit of the life phase's
	// emulator ratio.
	rawCreates, rawCreateTicks int64

	// The Pusher of each function fed by a push subscription and what it
	// delivered, which the life phase counts.
	pushers map[string]*emulator.Pusher
	pushed  map[string]*pushCounts

	rig *paceRig // the pacing phases' processes, once started
}

// New checks opts and fills in defaults.
func New(opts Options) (*Bench, error) {
	if opts.Duration <= 0 {
		opts.Duration = 3 * time.Second
	}
	phases, err := selectPhases(opts.Only)
	err = errors.Join(err,
		defaulted("concurrency", &opts.Concurrency, 32, 1024),
		defaulted("contacts", &opts.Contacts, MaxContacts, MaxContacts),
		defaulted("pace messages", &opts.PaceMessages, DefaultPaceMessages, MaxContacts),
		defaulted("fairness contacts", &opts.FairnessContacts, DefaultFairnessContacts, MaxContacts),
		defaulted("recovery messages", &opts.RecoveryMessages, DefaultRecoveryMessages, 10*DefaultRecoveryMessages),
		defaulted("life messages", &opts.LifeMessages, DefaultLifeMessages, 100_000),
		defaulted("repetitions", &opts.Repetitions, DefaultRepetitions, 100))
	if opts.Exe == "" {
		err = errors.Join(err, errors.New("Options.Exe, the binary that serves the functions, is required"))
	}
	if err != nil {
		return nil, err
	}
	// The stack's processes, the replay and the pacing instances all
	// write to Logs from goroutines of their own.
	opts.Logs = &lockedWriter{w: cmp.Or[io.Writer](opts.Logs, io.Discard)}
	return &Bench{opts: opts, phases: phases, pushers: map[string]*emulator.Pusher{}, pushed: map[string]*pushCounts{}}, nil
}

// defaulted sets *v to def when it is zero and checks it is 1 to most.
func defaulted(name string, v *int, def, most int) error {
	if *v == 0 {
		*v = def
	}
	if *v < 1 || *v > most {
		return fmt.Errorf("%s %d: want 1 to %d", name, *v, most)
	}
	return nil
}

// Phases are the phases a run can measure, in the order they run: what
// Options.Only and cmd/bench's --only name.
var Phases = []string{"baselines", "accept", "life", "emkt", "pacing", "fairness", "recovery"}

// selectPhases is only, in run order, with what the chosen phases need;
// every phase when only is empty.
func selectPhases(only []string) ([]string, error) {
	if len(only) == 0 {
		return slices.Clone(Phases), nil
	}
	want := map[string]bool{}
	for _, p := range only {
		p = strings.TrimSpace(p)
		if !slices.Contains(Phases, p) {
			return nil, fmt.Errorf("unknown phase %q: want some of %s", p, strings.Join(Phases, ", "))
		}
		want[p] = true
	}
	// Life's emulator CPU ratio is to the raw creates of the same run;
	// accept's capacity is shown beside their rate.
	want["baselines"] = want["baselines"] || want["accept"] || want["life"]
	return slices.DeleteFunc(slices.Clone(Phases), func(p string) bool { return !want[p] }), nil
}

// Run measures everything once and returns the figures. The stack it
// started is stopped before it returns.
func (b *Bench) Run(ctx context.Context) (*Figures, error) {
	started := time.Now()
	b.prog = &progress{w: cmp.Or[io.Writer](b.opts.Progress, io.Discard), start: started}
	b.fig = &Figures{
		Cores: runtime.NumCPU(), PhaseSeconds: b.opts.Duration.Seconds(), Concurrency: b.opts.Concurrency, EmktContacts: b.opts.Contacts,
		CPU: map[string]map[string]float64{}, Phases: b.phases,
	}
	defer b.close()
	if err := b.up(ctx); err != nil {
		return nil, err
	}
	steps := map[string]func(context.Context) error{
		"baselines": b.baselines, "accept": b.accept, "life": b.lifePhase, "emkt": b.emkt,
		"pacing": b.pacingPhase, "fairness": b.fairnessPhase, "recovery": b.recoveryPhase,
	}
	for _, p := range b.phases {
		if err := steps[p](ctx); err != nil {
			return nil, err
		}
		// Phases that ignore a failed op still end early when ctx does;
		// an interrupted run has no figures.
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	for _, p := range b.pushers {
		n, last := p.Errors()
		b.fig.PushPullErrors += int(n)
		b.fig.PushLastError = cmp.Or(last, b.fig.PushLastError)
	}
	b.fig.TotalSeconds = round(time.Since(started).Seconds(), 1)
	b.fig.check()
	return b.fig, nil
}

func (b *Bench) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
	b.closers = nil
}

// up starts the stack and the benchmark's own clients.
func (b *Bench) up(ctx context.Context) error {
	b.prog.printf("starting the dev stack (emulators, functions, sandbox)")
	// The dev stack's front door proxies with Go's default transport,
	// which keeps two idle connections per function: under concurrent
	// load it would dial the function for most requests, and the figures
	// would measure the stand-in for Google's front end instead of the
	// gateway.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 1024
	}
	b.hc = newHTTPClient()
	p, err := NewProxy()
	if err != nil {
		return err
	}
	b.proxy = p
	b.closers = append(b.closers, p.Close)
	// The benchmark measures the gateway's capacity, not a tenant's
	// request limit (100/s by default), which its closed loops pass. The
	// functions' caches of tenants, channels and templates refresh once
	// per CACHE_TTL per instance, a cost per instance and second, not per
	// message: the dev stack's 5 s would bill the life phase's figures six
	// times the refresh reads a deployment (config's default, 30 s) makes.
	env := []string{"FIRESTORE_EMULATOR_HOST=" + p.Addr(), "TENANT_RATE_LIMIT=10000", "CACHE_TTL=30s"}
	if b.opts.ProfileDir != "" {
		if err := os.MkdirAll(b.opts.ProfileDir, 0o755); err != nil {
			return err
		}
		env = append(env, ProfileEnv+"="+b.opts.ProfileDir)
	}
	// Sweep is the recovery path, not the happy path DESIGN §8 costs, and
	// on the emulator (no indexes) each of its queries reads the whole
	// messages collection: a period longer than any run keeps it off. (It
	// would also hand the recovery phase's backlog to dispatch: that phase
	// runs a sweep of its own, in this process.)
	st, err := devstack.Start(ctx, devstack.Options{
		DemoToken: demo.Token, Exe: b.opts.Exe, Out: b.opts.Logs, Logs: b.opts.Logs, Env: env, SweepEvery: 7 * 24 * time.Hour,
	})
	if err != nil {
		return fmt.Errorf("start the dev stack: %w", err)
	}
	b.closers = append(b.closers, func() { _ = st.Stop() })
	b.stack = st
	fsHost := st.Emulators.Firestore.Host
	p.SetUpstream(fsHost)
	// Meta's status webhooks are on in the life phase only, which costs
	// them: elsewhere each would add a transaction per status and load
	// the machine the figures are measured on.
	st.Sandbox.SetWebhook("", "")

	if b.fsRaw, err = FirestoreAt(ctx, devstack.Project, p.Addr()); err != nil {
		return err
	}
	b.closers = append(b.closers, func() { b.fsRaw.Close() })
	if b.fsRead, err = FirestoreAt(ctx, devstack.Project, fsHost); err != nil {
		return err
	}
	b.closers = append(b.closers, func() { b.fsRead.Close() })
	if b.ps, err = pubsub.NewClient(ctx, devstack.Project); err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	b.closers = append(b.closers, func() { b.ps.Close() })
	for _, fn := range []string{"dispatch", "dispatchbulk", "fanout"} {
		if _, err := b.takeOverPush(ctx, fn); err != nil {
			return err
		}
	}

	b.cpu = cpuWatch{"bench": os.Getpid()}
	if pid, err := listenerPID(fsHost); err == nil {
		b.cpu[emulatorProc] = pid
	}
	if pid, err := listenerPID(st.Emulators.PubSub.Host); err == nil {
		b.cpu["pubsub-emulator"] = pid
	}
	var names []string
	for _, f := range app.Functions {
		b.cpu[f.Name] = st.PID(f.Name)
		names = append(names, f.Name)
	}
	if b.opts.ProfileDir != "" {
		b.prof, err = newProfiler(ctx, b.opts.ProfileDir, names)
	}
	return err
}

// measure runs one phase, recording where the machine's CPU went during
// it, and profiling it when asked to.
func (b *Bench) measure(ctx context.Context, phase string, profile bool, f func() error) error {
	profile = profile && b.prof != nil
	if profile {
		if err := b.prof.start(ctx, phase); err != nil {
			b.prog.printf("profiling %s: %v", phase, err)
		}
	}
	s0 := b.cpu.sample()
	err := f()
	b.fig.CPU[phase] = b.cpu.sample().cores(s0)
	b.fig.cpuOrder = append(b.fig.cpuOrder, phase)
	if profile {
		if err := b.prof.stop(ctx); err != nil {
			b.prog.printf("profiling %s: %v", phase, err)
		}
	}
	return err
}

// takeOverPush delivers function fn's push subscription through an
// emulator.Pusher, counting what it delivers, until the run ends.
func (b *Bench) takeOverPush(ctx context.Context, fn string) (*emulator.Pusher, error) {
	c := &pushCounts{}
	p, err := emulator.TakeOverPush(ctx, b.ps, devstack.PushSubscription(fn), emulator.PushOptions{Client: b.hc, Observe: c.observe})
	if err != nil {
		return nil, err
	}
	b.pushers[fn], b.pushed[fn] = p, c
	b.closers = append(b.closers, func() {
		if err := p.Close(); err != nil {
			b.prog.printf("%v", err)
		}
	})
	return p, nil
}

// pushCounts are one function's deliveries, for the life phase's
// figures.
type pushCounts struct {
	delivered, refused atomic.Int64
	// busy is the time deliveries spent posted to the function
	// (nanoseconds), its request time; billedBytes Pub/Sub's billed
	// throughput of the messages delivered, each at least 1,000 bytes.
	busy, billedBytes atomic.Int64
}

func (c *pushCounts) observe(m *pubsubpb.PubsubMessage, took time.Duration, err error) {
	size := len(m.GetData())
	for k, v := range m.GetAttributes() {
		size += len(k) + len(v)
	}
	c.billedBytes.Add(int64(max(size, pubsubMinBytes)))
	c.busy.Add(int64(took))
	if err != nil {
		c.refused.Add(1)
	} else {
		c.delivered.Add(1)
	}
}

// phone is the next unused Atom recipient of this run.
func (b *Bench) phone() string { return atomPhones.full(int(b.nextPhone.Add(1))) }

// acceptOp sends one message and logs it when accepted.
func (b *Bench) acceptOp(log *sentLog) op {
	return func(ctx context.Context, _ int) error {
		at := time.Now()
		id, err := b.send(ctx, b.phone())
		if err == nil {
			log.add(id, at)
		}
		return err
	}
}

// quiet waits until the emulator's door has seen no commit for a moment,
// so that the next window starts with nothing of the last one in flight.
func (b *Bench) quiet(ctx context.Context) {
	last, since := b.proxy.Commits(), time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for time.Since(since) < 500*time.Millisecond && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if n := b.proxy.Commits(); n != last {
			last, since = n, time.Now()
		}
	}
}

// progress prints a line a phase and, in a long wait, where it stands
// at most twice a minute, so that a log shows a run that hangs.
type progress struct {
	w     io.Writer
	start time.Time

	mu      sync.Mutex
	printed time.Time
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printed = time.Now()
	fmt.Fprintf(p.w, "bench %s: %s\n", time.Since(p.start).Round(time.Second), fmt.Sprintf(format, args...))
}

// status is printf for a long wait's progress.
func (p *progress) status(format string, args ...any) {
	p.mu.Lock()
	due := time.Since(p.printed) >= 30*time.Second
	p.mu.Unlock()
	if due {
		p.printf(format, args...)
	}
}

// lockedWriter serializes writes that would otherwise interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
