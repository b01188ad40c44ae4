// Package bench measures the gateway against DESIGN §8 on the emulators
// it runs on, in one run: costs per message (Firestore calls and billed
// operations, Pub/Sub traffic, function invocations and the dollars they
// come to) and latencies at a share of the gateway's own measured
// capacity, with baselines of the same machine beside them.
//
// It starts the dev stack (or reuses a running one), with a gRPC proxy
// between the functions and the Firestore emulator that counts calls and
// billed operations, and measures: the emulator's raw create and
// transaction rates and the sandbox provider's direct send rate; accept
// throughput and latency through the front door; the end-to-end rate and
// latency to pending; a message's whole life, webhooks and callbacks on,
// and its cost; a large emkt 50.01's answer time, added peak memory and
// exactly-once dispatch; pacing, fairness and sweep's recovery.
package bench

import (
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

	"github.com/templategw/templategw/internal/app"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/devstack"
	"github.com/templategw/templategw/internal/queue"
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
	// them (commits per message, the emkt function's memory) are left
	// out.
	Base string
	// SandboxURL is the reused stack's sandbox provider (with Base).
	SandboxURL string
	// Token is the demo tenant's bearer token; default demo.Token.
	Token string
	// Duration is each measured phase's length; default 3s.
	Duration time.Duration
	// Concurrency is the accept sweep's concurrencies; the largest is
	// also the baselines' and the end-to-end phase's. Default 1, 4, 16,
	// 32.
	Concurrency []int
	// Contacts is the emkt 50.01's size; default (and at most)
	// MaxContacts.
	Contacts int
	// Progress receives the progress bar (a terminal) or a line per
	// phase (anything else); nil shows none.
	Progress io.Writer
	// Logs receives the functions' and emulators' output; nil discards it.
	Logs io.Writer
	// EmulatorPush keeps the Pub/Sub emulator's own push subscriptions
	// feeding dispatch and fanout, which deliver two messages at a time;
	// by default a bridge delivers with Lanes in flight instead (see
	// pushBridge).
	EmulatorPush bool
	// Lanes is the bridge's deliveries in flight per function; default
	// DefaultLanes.
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
	// accept, e2e and life need the baselines, which need the warm-up.
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
	// the benchmark's own process for the main phases. The functions must
	// run a binary that calls ServeProfiling.
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
	sandbox string // the sandbox provider's URL
	prog    *progress
	cpu     *cpuWatch
	prof    *profiler
	fig     *Figures
	closers []func()

	runID     string
	gw        phones // the Atom sends' recipients
	direct    phones // the direct sandbox sends' recipients
	bulk      phones // the emkt batch's recipients
	nextPhone atomic.Int64
	txPool    []*firestore.DocumentRef
	// rawCreates and rawCreateTicks are the baselines' creates and the
	// Firestore emulator's CPU over them, for the life phase's ratio.
	rawCreates, rawCreateTicks int64

	dispatchBridge, fanoutBridge *pushBridge // nil with EmulatorPush
	// bulkBridge carries the bulk dispatch lane (dispatchbulk).
	bulkBridge *pushBridge

	rig    *paceRig           // the pacing phases' processes, once started
	phases []string           // the phases this run measures, in order
	warmID string             // the warm-up's message
	wall   map[string]float64 // each measured phase's wall time, seconds
}

// New checks opts and fills in defaults.
func New(opts Options) (*Bench, error) {
	if opts.Token == "" {
		opts.Token = demo.Token
	}
	if opts.Duration <= 0 {
		opts.Duration = 3 * time.Second
	}
	if len(opts.Concurrency) == 0 {
		opts.Concurrency = []int{1, 4, 16, 32}
	}
	for _, c := range opts.Concurrency {
		if c < 1 || c > 1024 {
			return nil, fmt.Errorf("concurrency %d: want 1 to 1024", c)
		}
	}
	opts.Concurrency = slices.Sorted(slices.Values(opts.Concurrency))
	opts.Concurrency = slices.Compact(opts.Concurrency)
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
		opts.Lanes = DefaultLanes
	}
	if opts.EmktLimit <= 0 {
		opts.EmktLimit = 15 * time.Minute
	}
	run := 10 + randInt(90)
	return &Bench{
		phases: phases,
		opts:   opts, runID: fmt.Sprintf("run%d-%d", time.Now().Unix(), run),
		gw: phones{ddd: "11", run: run}, direct: phones{ddd: "12", run: run}, bulk: phones{ddd: "21", run: run},
	}, nil
}

// Phases are the phases a run can measure, in the order they run: what
// Options.Only and cmd/bench's --only name.
var Phases = []string{"baselines", "store", "accept", "e2e", "life", "emkt", "pacing", "fairness", "recovery"}

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
	// Their ratios are to the baselines of the same run (life's to the
	// emulator's CPU per raw create).
	if want["accept"] || want["e2e"] || want["life"] {
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

func (b *Bench) top() int { return b.opts.Concurrency[len(b.opts.Concurrency)-1] }

// Run measures everything once and returns the figures. The stack it
// started is stopped before it returns.
func (b *Bench) Run(ctx context.Context) (_ *Figures, err error) {
	started := time.Now()
	d := b.opts.Duration.Seconds()
	weights := map[string]float64{"start": 30}
	if b.runs("baselines") {
		weights["warm-up"], weights["raw-tx"], weights["sandbox"] = 3*d+10, d+1, d
		for _, c := range b.opts.Concurrency {
			weights[fmt.Sprintf("raw-create-%d", c)] = d
		}
	}
	if b.runs("store") {
		weights["store-accept"], weights["store-dispatch"] = d, d
	}
	if b.runs("accept") {
		weights["accept-half"], weights["accept-own-half"], weights["drain"] = d, d, 15
		for _, c := range b.opts.Concurrency {
			weights[fmt.Sprintf("accept-%d", c)] = d
		}
	}
	if b.runs("e2e") {
		weights["e2e"], weights["e2e-latency"] = d+10, d+3
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
		Cores: runtime.NumCPU(), PhaseSeconds: d, Concurrency: b.top(), EmktContacts: b.opts.Contacts,
		CPU: map[string]map[string]float64{}, DoorCalls: map[string]map[string]int64{},
		CPUPerOp: map[string]map[string]float64{}, Phases: b.phases,
	}
	b.wall = map[string]float64{}
	defer b.close()
	if err := b.up(ctx); err != nil {
		return nil, err
	}
	steps := map[string]func(context.Context) error{
		"baselines": b.baselines, "store": b.storeWork, "accept": b.accept, "e2e": b.endToEnd, "life": b.lifePhase, "emkt": b.emkt,
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
	b.bridgeFigures()
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
		b.base, b.sandbox, b.sb = st.Base, st.SandboxURL, localSandbox{st.Sandbox}
		// Meta's status webhooks are not the happy path DESIGN §8 costs
		// (accept, claim, outcome): each would add a transaction per
		// status and load the machine the figures are measured on.
		st.Sandbox.SetWebhook("", "")
	} else {
		b.base = strings.TrimRight(b.opts.Base, "/")
		b.sandbox = strings.TrimRight(b.opts.SandboxURL, "/")
		b.sb = remoteSandbox{url: b.sandbox, hc: b.hc}
		b.prog.note("reusing %s: commits per message and the emkt function's memory are not measured; the sandbox's webhooks stay as they are", b.base)
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

	if !b.opts.EmulatorPush {
		for _, fn := range []string{"dispatch", "dispatchbulk", "fanout"} {
			br, err := b.newBridge(ctx, fn)
			if err != nil {
				return err
			}
			b.closers = append(b.closers, func() {
				if err := br.close(); err != nil {
					b.prog.note("%v", err)
				}
			})
			switch fn {
			case "dispatch":
				b.dispatchBridge = br
			case "dispatchbulk":
				b.bulkBridge = br
			default:
				b.fanoutBridge = br
			}
		}
		b.fig.Delivery = fmt.Sprintf("bridge, %d in flight per function", b.opts.Lanes)
	} else {
		b.fig.Delivery = "emulator push"
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
	var calls0 map[string]int64
	if b.proxy != nil {
		calls0 = b.proxy.Counts()
	}
	err := f()
	s1 := b.cpu.sample()
	b.fig.CPU[phase] = s1.cores(s0)
	b.wall[phase] = s1.at.Sub(s0.at).Seconds()
	if b.proxy != nil {
		calls := map[string]int64{}
		for m, n := range b.proxy.Counts() {
			if n -= calls0[m]; n > 0 {
				calls[shortMethod(m)] = n
			}
		}
		b.fig.DoorCalls[phase] = calls
	}
	if profile {
		if err := b.prof.stop(ctx); err != nil {
			b.prog.note("profiling %s: %v", phase, err)
		}
	}
	return err
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

// bridgeFigures records how the bridges fared.
func (b *Bench) bridgeFigures() {
	for _, br := range []*pushBridge{b.dispatchBridge, b.bulkBridge, b.fanoutBridge} {
		if br == nil {
			continue
		}
		if br == b.dispatchBridge {
			b.fig.PushPeakInFlight = br.peak.Load()
		}
		b.fig.PushPullErrors += int(br.pullErrors.Load())
		if e, ok := br.lastErr.Load().(string); ok {
			b.fig.PushLastError = e
		}
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

// pauseDispatch stops deliveries to dispatch until resume: what is
// published meanwhile waits in its subscription and is delivered on
// resume. With the emulator's push, the subscription is detached (made a
// pull subscription nobody pulls) and attached again.
func (b *Bench) pauseDispatch(ctx context.Context) (resume func() error, err error) {
	if br := b.dispatchBridge; br != nil {
		br.pause()
		return func() error { br.start(); return nil }, nil
	}
	name := queue.SubscriptionName(devstack.Project, devstack.PushSubscription("dispatch"))
	push, err := b.detachPush(ctx, name)
	if err != nil {
		return nil, err
	}
	return func() error { return b.restorePush(name, push) }, nil
}
