// Package bench measures the gateway against DESIGN §8 on the emulators
// it runs on, in one run: costs per message (Firestore calls and billed
// operations, Pub/Sub traffic, function invocations and the dollars they
// come to) and latencies at a share of the gateway's own measured
// capacity, with baselines of the same machine beside them.
//
// It is a client of the dev stack: it starts one (or reuses a running
// one), with a gRPC proxy between the functions and the Firestore
// emulator that counts calls and billed operations, delivers the push
// subscriptions through emulator.Pusher, and measures: the emulator's raw
// create rate and CPU per create; accept capacity and the latency at half
// of it; a message's whole life, webhooks and callbacks on, and its cost;
// a large emkt 50.01's answer time, added peak memory and exactly-once
// dispatch; pacing, fairness and sweep's recovery.
package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
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
	// templategw binary, or one that serves the same functions), for the
	// stack the benchmark starts.
	Exe string
	// Base, when set, is a running dev stack's front door to reuse
	// instead of starting one; the emulators are then the ones
	// FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST name. A reused
	// stack's processes are not the benchmark's, so the figures that need
	// them (the life phase's, the emkt function's memory, pacing) are
	// left out.
	Base string
	// SandboxURL is the reused stack's sandbox provider (with Base).
	SandboxURL string
	// Token is the demo tenant's bearer token; default demo.Token.
	Token string
	// Duration is each measured phase's length; default 3s.
	Duration time.Duration
	// Concurrency is the closed loops' (the raw creates' and accept's
	// capacity); default 32.
	Concurrency int
	// Contacts is the emkt 50.01's size; default (and at most)
	// MaxContacts.
	Contacts int
	// Progress receives the progress bar (a terminal) or a line per
	// phase (anything else); nil shows none.
	Progress io.Writer
	// Logs receives the functions' and emulators' output; nil discards it.
	Logs io.Writer
	// Lanes is the deliveries in flight per function (see
	// emulator.Pusher); default emulator.DefaultPushLanes.
	Lanes int
	// EmktLimit bounds the wait for the emkt batch to be dispatched; a
	// batch not dispatched by then is reported as not dispatched exactly
	// once. Default 15 minutes.
	EmktLimit time.Duration
	// SweepEvery is how often the stack fires sweep during the run; 0
	// keeps it from firing. Sweep is the recovery path, not the happy path
	// DESIGN §8 measures, and on the emulator its queries read the whole
	// messages collection (the emulator has no indexes): against a large
	// backlog each sweep costs the emulator seconds of CPU (docs/
	// benchmarks.md). Only a stack the benchmark starts is affected.
	SweepEvery time.Duration
	// Only, when set, runs just these phases (see Phases); the others'
	// figures are left out. The phases the chosen ones need run too:
	// accept and life need the baselines, which need the warm-up.
	Only []string
	// PaceMessages is the pacing phase's broadcast size; default
	// DefaultPaceMessages.
	PaceMessages int
	// FairnessContacts is the size of the broadcast the fairness phase's
	// single sends compete with; default DefaultFairnessContacts.
	FairnessContacts int
	// RecoveryMessages is the recovery phase's backlog; default
	// DefaultRecoveryMessages. SweepEvery's sweep would see it too, and
	// hand it to dispatch.
	RecoveryMessages int
	// LifeMessages is what one repetition of the life phase sends
	// through its whole life; default DefaultLifeMessages.
	LifeMessages int
	// Repetitions is how many times the life phase repeats; default
	// DefaultRepetitions.
	Repetitions int
	// ProfileDir, when set, receives CPU profiles of each function and of
	// the benchmark's own process for accept's capacity, the emkt batch
	// and the whole-life rounds. The functions must run a binary that
	// calls ServeProfiling.
	ProfileDir string
}

// Bench is one benchmark run.
type Bench struct {
	opts Options

	base    string
	hc      *http.Client
	sb      sandboxView
	stack   *devstack.Stack // nil when reusing one
	proxy   *Proxy          // nil when reusing a stack
	fsRaw   *firestore.Client
	fsRead  *firestore.Client
	ps      *pubsub.Client
	prog    *progress
	cpu     *cpuWatch
	prof    *profiler
	fig     *Figures
	closers []func()

	runID     string
	gw        phones // the Atom sends' recipients
	raw       phones // the raw creates' phone numbers
	bulk      phones // the emkt batch's recipients
	nextPhone atomic.Int64
	// rawCreates and rawCreateTicks are the baselines' creates and the
	// Firestore emulator's CPU over them, for the life phase's ratio.
	rawCreates, rawCreateTicks int64

	// The Pusher of each function fed by a push subscription (dispatch,
	// dispatchbulk, fanout; callbacks during the life phase) and what it
	// delivered.
	pushers map[string]*emulator.Pusher
	pushed  map[string]*pushCounts

	rig    *paceRig // the pacing phases' processes, once started
	phases []string // the phases this run measures, in order
}

// New checks opts and fills in defaults.
func New(opts Options) (*Bench, error) {
	if opts.Token == "" {
		opts.Token = demo.Token
	}
	if opts.Duration <= 0 {
		opts.Duration = 3 * time.Second
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 32
	}
	if opts.Concurrency < 1 || opts.Concurrency > 1024 {
		return nil, fmt.Errorf("concurrency %d: want 1 to 1024", opts.Concurrency)
	}
	if opts.Contacts == 0 {
		opts.Contacts = MaxContacts
	}
	if opts.Contacts < 1 || opts.Contacts > MaxContacts {
		return nil, fmt.Errorf("contacts %d: want 1 to %d (one 50.01's limit)", opts.Contacts, MaxContacts)
	}
	if opts.PaceMessages == 0 {
		opts.PaceMessages = DefaultPaceMessages
	}
	if opts.FairnessContacts == 0 {
		opts.FairnessContacts = DefaultFairnessContacts
	}
	if opts.RecoveryMessages == 0 {
		opts.RecoveryMessages = DefaultRecoveryMessages
	}
	if opts.RecoveryMessages < 1 || opts.RecoveryMessages > 10*DefaultRecoveryMessages {
		return nil, fmt.Errorf("recovery messages %d: want 1 to %d", opts.RecoveryMessages, 10*DefaultRecoveryMessages)
	}
	if opts.PaceMessages < 1 || opts.PaceMessages > MaxContacts {
		return nil, fmt.Errorf("pace messages %d: want 1 to %d (one 50.01's limit)", opts.PaceMessages, MaxContacts)
	}
	if opts.FairnessContacts < 1 || opts.FairnessContacts > MaxContacts {
		return nil, fmt.Errorf("fairness contacts %d: want 1 to %d (one 50.01's limit)", opts.FairnessContacts, MaxContacts)
	}
	if opts.LifeMessages == 0 {
		opts.LifeMessages = DefaultLifeMessages
	}
	if opts.Repetitions == 0 {
		opts.Repetitions = DefaultRepetitions
	}
	if opts.LifeMessages < 1 || opts.LifeMessages > 100_000 {
		return nil, fmt.Errorf("life messages %d: want 1 to 100000", opts.LifeMessages)
	}
	if opts.Repetitions < 1 || opts.Repetitions > 100 {
		return nil, fmt.Errorf("repetitions %d: want 1 to 100", opts.Repetitions)
	}
	phases, err := selectPhases(opts.Only)
	if err != nil {
		return nil, err
	}
	if opts.Base == "" && opts.Exe == "" {
		return nil, errors.New("either Exe (start a stack) or Base (reuse one) is required")
	}
	if opts.Base != "" && (os.Getenv("FIRESTORE_EMULATOR_HOST") == "" || os.Getenv("PUBSUB_EMULATOR_HOST") == "") {
		return nil, errors.New("reusing a stack needs FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST set to its emulators")
	}
	if opts.Base != "" && opts.SandboxURL == "" {
		return nil, errors.New("reusing a stack needs its sandbox provider's URL")
	}
	if opts.Logs == nil {
		opts.Logs = io.Discard
	}
	if opts.Lanes <= 0 {
		opts.Lanes = emulator.DefaultPushLanes
	}
	if opts.EmktLimit <= 0 {
		opts.EmktLimit = 15 * time.Minute
	}
	run := 10 + randInt(90)
	return &Bench{
		phases: phases,
		opts:   opts, runID: fmt.Sprintf("run%d-%d", time.Now().Unix(), run),
		gw: phones{ddd: "11", run: run}, raw: phones{ddd: "12", run: run}, bulk: phones{ddd: "21", run: run},
		pushers: map[string]*emulator.Pusher{}, pushed: map[string]*pushCounts{},
	}, nil
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
	if want["accept"] || want["life"] {
		want["baselines"] = true
	}
	var out []string
	for _, p := range Phases {
		if want[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// runs reports whether the run measures phase.
func (b *Bench) runs(phase string) bool { return slices.Contains(b.phases, phase) }

func randInt(n int64) int {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		return int(time.Now().UnixNano() % n)
	}
	return int(v.Int64())
}

// Run measures everything once and returns the figures. The stack it
// started is stopped before it returns.
func (b *Bench) Run(ctx context.Context) (_ *Figures, err error) {
	started := time.Now()
	d := b.opts.Duration.Seconds()
	weights := map[string]float64{"start": 30}
	if b.runs("baselines") {
		weights["warm-up"], weights["raw-create"] = 2*d+10, d
	}
	if b.runs("accept") {
		weights["accept"], weights["accept-half"], weights["drain"] = d, d, 15
	}
	if b.runs("life") {
		// Each repetition: the sends, the last statuses and callbacks, and
		// a small round to pending.
		weights["life"] = 15 + float64(b.opts.Repetitions)*(float64(b.opts.LifeMessages)/LifeRate+10)
	}
	if b.runs("emkt") {
		weights["emkt-answer"] = 5 + float64(b.opts.Contacts)/20000
		weights["emkt-dispatch"] = float64(b.opts.Contacts) / 150
	}
	if b.runs("pacing") {
		weights["pacing"] = 10 + float64(b.opts.PaceMessages)/PaceRate
	}
	if b.runs("fairness") {
		weights["fairness"] = 10 + float64(b.opts.FairnessContacts)/PaceRate
	}
	if b.runs("recovery") {
		weights["recovery-write"], weights["recovery"] = 2+float64(b.opts.RecoveryMessages)/5000, 5+float64(b.opts.RecoveryMessages)/500
	}
	b.prog = newProgress(b.opts.Progress, weights)
	defer b.prog.finish()
	b.fig = &Figures{
		Cores: runtime.NumCPU(), PhaseSeconds: d, Concurrency: b.opts.Concurrency, EmktContacts: b.opts.Contacts,
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
	var run []func(context.Context) error
	if b.runs("baselines") {
		run = append(run, b.warmUp)
	}
	for _, p := range b.phases {
		run = append(run, steps[p])
	}
	for _, step := range run {
		if err := step(ctx); errors.Is(err, errNoPaceRig) || errors.Is(err, errNoLifeRig) {
			b.prog.note("%v: left out", err)
			continue
		} else if err != nil {
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

// up starts (or finds) the stack and the benchmark's own clients.
func (b *Bench) up(ctx context.Context) error {
	b.prog.begin("start", "starting the dev stack (emulators, functions, sandbox)")
	// The dev stack's front door proxies with Go's default transport,
	// which keeps two idle connections per function: under concurrent
	// load it would dial the function for most requests, and the figures
	// would measure the stand-in for Google's front end instead of the
	// gateway.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 1024
	}
	b.hc = newHTTPClient()
	emulatorHost := os.Getenv("FIRESTORE_EMULATOR_HOST")
	if b.opts.Base == "" {
		p, err := NewProxy()
		if err != nil {
			return err
		}
		b.proxy = p
		b.closers = append(b.closers, p.Close)
		// The benchmark measures the gateway's capacity, not a tenant's
		// request limit (100/s by default), which its closed loops pass.
		env := []string{"FIRESTORE_EMULATOR_HOST=" + p.Addr(), "TENANT_RATE_LIMIT=10000"}
		if b.opts.ProfileDir != "" {
			if err := os.MkdirAll(b.opts.ProfileDir, 0o755); err != nil {
				return err
			}
			env = append(env, ProfileEnv+"="+b.opts.ProfileDir)
		}
		sweep := b.opts.SweepEvery
		if sweep <= 0 {
			// Longer than any run: the ticker never fires.
			sweep = 7 * 24 * time.Hour
		}
		st, err := devstack.Start(ctx, devstack.Options{
			DemoToken: b.opts.Token, Exe: b.opts.Exe, Out: b.opts.Logs, Logs: b.opts.Logs, Env: env, SweepEvery: sweep,
		})
		if err != nil {
			return fmt.Errorf("start the dev stack: %w", err)
		}
		b.closers = append(b.closers, func() { _ = st.Stop() })
		b.stack = st
		emulatorHost = st.Emulators.Firestore.Host
		p.SetUpstream(emulatorHost)
		b.base, b.sb = st.Base, localSandbox{st.Sandbox}
		// Meta's status webhooks are on in the life phase only, which
		// costs them: elsewhere each would add a transaction per status
		// and load the machine the figures are measured on.
		st.Sandbox.SetWebhook("", "")
	} else {
		b.base = strings.TrimRight(b.opts.Base, "/")
		b.sb = remoteSandbox{url: strings.TrimRight(b.opts.SandboxURL, "/"), hc: b.hc}
		b.prog.note("reusing %s: the life phase, pacing and the emkt function's memory are not measured; the sandbox's webhooks stay as they are", b.base)
	}

	var err error
	rawAddr := emulatorHost
	if b.proxy != nil {
		// The baselines go through the proxy too, so they pay the same
		// extra hop the gateway's commits pay.
		rawAddr = b.proxy.Addr()
	}
	if b.fsRaw, err = FirestoreAt(ctx, devstack.Project, rawAddr); err != nil {
		return err
	}
	b.closers = append(b.closers, func() { b.fsRaw.Close() })
	// Following the messages reads the emulator directly, so it never
	// counts as the gateway's work.
	if b.fsRead, err = FirestoreAt(ctx, devstack.Project, emulatorHost); err != nil {
		return err
	}
	b.closers = append(b.closers, func() { b.fsRead.Close() })
	if b.ps, err = pubsub.NewClient(ctx, devstack.Project); err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	b.closers = append(b.closers, func() { b.ps.Close() })

	for _, fn := range []string{"dispatch", "dispatchbulk", "fanout"} {
		p, err := b.takeOverPush(ctx, fn)
		if err != nil {
			return err
		}
		b.closers = append(b.closers, func() {
			if err := p.Close(); err != nil {
				b.prog.note("%v", err)
			}
		})
	}

	b.cpu = &cpuWatch{pids: map[string]int{"bench": os.Getpid()}}
	if pid, err := listenerPID(emulatorHost); err == nil {
		b.cpu.pids[emulatorProc] = pid
	}
	if pid, err := listenerPID(os.Getenv("PUBSUB_EMULATOR_HOST")); err == nil {
		b.cpu.pids["pubsub-emulator"] = pid
	}
	if b.stack != nil {
		var names []string
		for _, f := range app.Functions {
			b.cpu.pids[f.Name] = b.stack.PID(f.Name)
			names = append(names, f.Name)
		}
		if b.opts.ProfileDir != "" {
			if b.prof, err = newProfiler(ctx, b.opts.ProfileDir, names); err != nil {
				return err
			}
		}
	}
	return nil
}

// measure runs one phase, recording where the machine's CPU went during
// it, and profiling it when asked to.
func (b *Bench) measure(ctx context.Context, phase string, profile bool, f func() error) error {
	if profile {
		if err := b.prof.start(ctx, phase); err != nil {
			b.prog.note("profiling %s: %v", phase, err)
		}
	}
	s0 := b.cpu.sample()
	err := f()
	b.fig.CPU[phase] = b.cpu.sample().cores(s0)
	if profile {
		if err := b.prof.stop(ctx); err != nil {
			b.prog.note("profiling %s: %v", phase, err)
		}
	}
	return err
}

// takeOverPush delivers function fn's push subscription through an
// emulator.Pusher, counting what it delivers.
func (b *Bench) takeOverPush(ctx context.Context, fn string) (*emulator.Pusher, error) {
	c := &pushCounts{}
	p, err := emulator.TakeOverPush(ctx, b.ps, devstack.PushSubscription(fn), emulator.PushOptions{Lanes: b.opts.Lanes, Client: b.hc, Observe: c.observe})
	if err != nil {
		return nil, err
	}
	b.pushers[fn], b.pushed[fn] = p, c
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
func (b *Bench) phone() string { return b.gw.full(int(b.nextPhone.Add(1))) }

// acceptOp sends one message and logs it when accepted.
func (b *Bench) acceptOp(log *sentLog) op {
	return func(ctx context.Context, _ int) error {
		at := time.Now()
		id, err := b.send(ctx, b.phone())
		if err == nil && log != nil {
			log.add(id, at)
		}
		return err
	}
}

// quiet waits until the emulator's door has seen no commit for a moment,
// so that the next window starts with nothing of the last one in flight.
func (b *Bench) quiet(ctx context.Context) {
	if b.proxy == nil {
		time.Sleep(time.Second)
		return
	}
	last, since := b.proxy.Commits(), time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for time.Since(since) < 500*time.Millisecond && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if n := b.proxy.Commits(); n != last {
			last, since = n, time.Now()
		}
	}
}
