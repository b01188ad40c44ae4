package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/templategw/templategw/internal/devstack"
	"github.com/templategw/templategw/internal/queue"
)

// ReplayEnv, set in a process's environment, makes MaybeReplay run the
// life phase's raw-client replay in it. The benchmark sets it when it
// starts its own binary again for the replay.
const ReplayEnv = "TEMPLATEGW_BENCH_REPLAY"

const (
	// replayWorkers are the replay's calls in flight: a few, as a
	// function instance has a few requests in flight at 25 messages a
	// second.
	replayWorkers = 4
	// replayWarmInbound are the requests sent to the replay before it
	// measures, to open its server's connections.
	replayWarmInbound = 20
	// replayPool is how many documents the replay reads and writes:
	// small, message-sized ones, spread so that concurrent commits rarely
	// meet.
	replayPool = 64
)

// replayBody is a request's: about a Pub/Sub push envelope's or a
// callback's size.
var replayBody = strings.Repeat("x", 512)

// replaySpec is what the replay is to do: the life phase's calls for
// Messages messages, as totals.
type replaySpec struct {
	Project   string `json:"project"`
	Firestore string `json:"firestore"` // the counting proxy's address
	Doc       string `json:"doc"`       // the replay's own document, under which it writes
	Topic     string `json:"topic"`     // a throwaway topic without subscriptions
	Messages  int    `json:"messages"`

	GetCalls, GetDocs         int
	CommitCalls, CommitWrites int
	Queries, Publishes        int
	// Inbound are the HTTP requests the replay serves (the benchmark
	// sends them), Outbound those it makes to OutboundURL.
	Inbound, Outbound int
	OutboundURL       string
}

// replayResult is the replay's own CPU over its measured part.
type replayResult struct {
	CPUSeconds float64 `json:"cpuSeconds"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
}

// rawClientCPU replays the life phase's measured calls for n messages
// with the plain client libraries, in a process of its own (see
// MaybeReplay), and returns that process's CPU milliseconds per message:
// what the calls a message needs cost a client that does nothing else.
// The Firestore calls go through the same counting proxy as the
// functions'; the publishes go to a throwaway topic without
// subscriptions, as the functions only publish (the Pusher pulls); the
// replay serves the HTTP requests the functions receive per message
// (sent from this process) and makes the ones they make (the provider's
// send, the callbacks) to a trivial server here.
func (b *Bench) rawClientCPU(ctx context.Context, f *LifeFigures, n int) (float64, error) {
	per := func(v float64) int { return int(v*float64(n) + 0.5) }
	calls, inv := f.LifeCallsByMethod, f.LifeInvocationsPerMessage
	for m := range calls {
		if m != "BatchGetDocuments" && m != "Commit" && m != "RunQuery" {
			return 0, fmt.Errorf("no replay for the life phase's %s calls", m)
		}
	}
	var in float64
	for _, v := range inv {
		in += v
	}
	sp := replaySpec{
		Project: devstack.Project, Firestore: b.proxy.Addr(), Doc: "bench/replay", Topic: "bench-replay", Messages: n,
		GetCalls: per(calls["BatchGetDocuments"]), CommitCalls: per(calls["Commit"]), Queries: per(calls["RunQuery"]),
		Publishes: per(f.LifePublishesPerMessage), Inbound: per(in), Outbound: per(inv["dispatch"] + inv["callbacks"]),
	}
	// The billed reads and writes say how many documents each call
	// carries; a query answers at most one.
	sp.GetDocs = max(sp.GetCalls, per(f.LifeReadsPerMessage)-sp.Queries)
	sp.CommitWrites = max(sp.CommitCalls, per(f.LifeWritesPerMessage))
	if err := queue.EnsureTopic(ctx, b.ps, sp.Topic); err != nil {
		return 0, err
	}
	defer func() {
		_ = b.ps.TopicAdminClient.DeleteTopic(context.Background(), &pubsubpb.DeleteTopicRequest{Topic: queue.TopicName(devstack.Project, sp.Topic)})
	}()
	sink, err := b.serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	if err != nil {
		return 0, err
	}
	sp.OutboundURL = sink + "/"

	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find own binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), ReplayEnv+"=1")
	cmd.Stderr = b.opts.Logs
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", exe, err)
	}
	res, err := b.driveReplay(ctx, sp, stdin, bufio.NewReader(stdout))
	stdin.Close()
	if werr := cmd.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("the replay process: %w", werr)
	}
	if err != nil {
		return 0, err
	}
	if res.Errors > 0 {
		b.prog.printf("raw-client replay: %d calls failed, first: %s", res.Errors, res.FirstError)
	}
	return 1000 * res.CPUSeconds / float64(n), nil
}

// driveReplay hands the replay sp, sends it its inbound requests once it
// is ready and reads its result.
func (b *Bench) driveReplay(ctx context.Context, sp replaySpec, stdin io.Writer, out *bufio.Reader) (replayResult, error) {
	var res replayResult
	raw, _ := json.Marshal(sp)
	if _, err := stdin.Write(append(raw, '\n')); err != nil {
		return res, fmt.Errorf("hand over the spec: %w", err)
	}
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		return res, fmt.Errorf("the replay did not get ready: %q, %v", line, err)
	}
	post := func(int) error { return postBody(ctx, b.hc, "http://"+addr+"/") }
	if n, err := parallel(1, replayWarmInbound, post); n > 0 {
		return res, fmt.Errorf("warm the replay's server: %w", err)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		return res, err
	}
	if n, err := parallel(replayWorkers, sp.Inbound, post); n > 0 {
		return res, fmt.Errorf("%d requests to the replay failed, first: %w", n, err)
	}
	if _, err := io.WriteString(stdin, "end\n"); err != nil {
		return res, err
	}
	if line, err = out.ReadString('\n'); err != nil {
		return res, fmt.Errorf("read the replay's result: %w", err)
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return res, fmt.Errorf("read the replay's result %q: %w", line, err)
	}
	return res, nil
}

// parallel runs f(0) to f(n-1), workers at a time, and returns how many
// failed and the first error.
func parallel(workers, n int, f func(i int) error) (failed int, first error) {
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := f(i); err != nil {
					mu.Lock()
					if failed++; first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return failed, first
}

// postBody posts replayBody to url and reads the answer through.
func postBody(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(replayBody))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// MaybeReplay runs the life phase's raw-client replay and exits when
// ReplayEnv is set; otherwise it returns at once. Binaries the benchmark
// runs in (cmd/bench, the package's tests) call it first thing. The
// replay runs in a process of its own so that its CPU is the client's
// alone: the benchmark's process also runs the proxy, the Pushers and
// the sandbox.
func MaybeReplay() {
	if os.Getenv(ReplayEnv) == "" {
		return
	}
	if err := replayChild(context.Background(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// replayChild reads the spec (one JSON line), sets up, warms up, says
// "ready ADDR" (where it serves the inbound requests), waits for "go",
// replays, waits for "end" (the inbound requests are all served) and
// writes its CPU as one JSON line.
func replayChild(ctx context.Context, in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	var sp replaySpec
	if line, err := r.ReadBytes('\n'); err != nil || json.Unmarshal(line, &sp) != nil {
		return fmt.Errorf("read the spec %q: %v", line, err)
	}
	fs, err := FirestoreAt(ctx, sp.Project, sp.Firestore)
	if err != nil {
		return err
	}
	defer fs.Close()
	ps, err := pubsub.NewClient(ctx, sp.Project)
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer ps.Close()
	pub := ps.Publisher(sp.Topic)
	defer pub.Stop()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	rp := &replayer{fs: fs, pub: pub, hc: newHTTPClient(), url: sp.OutboundURL, coll: fs.Doc(sp.Doc).Collection("docs")}
	wb := fs.Batch() //nolint:staticcheck // a blind multi-document write, set up only
	for i := range replayPool {
		rp.pool = append(rp.pool, rp.coll.Doc(fmt.Sprintf("d%02d", i)))
		wb.Set(rp.pool[i], smallDoc(i))
	}
	if _, err := wb.Commit(ctx); err != nil {
		return fmt.Errorf("replay documents: %w", err)
	}
	// Unmeasured: a tenth of the work (at least a few messages' worth),
	// so connections are open and the clients warm, as a function's are.
	if _, err := rp.run(ctx, scaled(sp, max(5, sp.Messages/10))); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Fprintf(out, "ready %s\n", l.Addr())
	wait := func(want string) error {
		if cmd, err := r.ReadString('\n'); err != nil || strings.TrimSpace(cmd) != want {
			return fmt.Errorf("waiting for %s: %q, %v", want, cmd, err)
		}
		return nil
	}
	if err := wait("go"); err != nil {
		return err
	}
	t0 := selfCPU()
	res, err := rp.run(ctx, sp)
	if err == nil {
		err = wait("end")
	}
	if err != nil {
		return err
	}
	res.CPUSeconds = selfCPU() - t0
	return json.NewEncoder(out).Encode(res)
}

// scaled is spec's calls for n messages instead of its own.
func scaled(sp replaySpec, n int) replaySpec {
	f := float64(n) / float64(max(sp.Messages, 1))
	s := func(v int) int { return int(float64(v)*f + 0.5) }
	return replaySpec{
		Messages: n, GetCalls: s(sp.GetCalls), GetDocs: s(sp.GetDocs), CommitCalls: s(sp.CommitCalls), CommitWrites: s(sp.CommitWrites),
		Queries: s(sp.Queries), Publishes: s(sp.Publishes), Outbound: s(sp.Outbound),
	}
}

// selfCPU is this process's user + system CPU time, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// replayer makes the replay's calls with the plain client libraries.
type replayer struct {
	fs   *firestore.Client
	pub  *pubsub.Publisher
	hc   *http.Client
	url  string
	coll *firestore.CollectionRef
	pool []*firestore.DocumentRef
}

func smallDoc(i int) map[string]any {
	return map[string]any{"status": "pending", "attempts": i, "phoneNumber": "5511999990000", "updatedAt": time.Now().UTC()}
}

// run makes sp's calls, replayWorkers at a time, in a shuffled order:
// each call kind's units (documents, writes) spread over its calls.
func (p *replayer) run(ctx context.Context, sp replaySpec) (replayResult, error) {
	var tasks []func(i int) error
	spread := func(calls, units int, f func(ctx context.Context, i, n int) error) {
		for i := range calls {
			n := units / calls
			if i < units%calls {
				n++
			}
			tasks = append(tasks, func(k int) error { return f(ctx, k, max(n, 1)) })
		}
	}
	spread(sp.GetCalls, sp.GetDocs, p.get)
	spread(sp.CommitCalls, sp.CommitWrites, p.commit)
	spread(sp.Queries, sp.Queries, p.query)
	spread(sp.Publishes, sp.Publishes, p.publish)
	spread(sp.Outbound, sp.Outbound, func(ctx context.Context, _, _ int) error { return postBody(ctx, p.hc, p.url) })
	rand.Shuffle(len(tasks), func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })
	failed, first := parallel(replayWorkers, len(tasks), func(i int) error { return tasks[i](i) })
	res := replayResult{Errors: failed}
	if first != nil {
		res.FirstError = first.Error()
	}
	if len(tasks) > 0 && failed == len(tasks) {
		return res, fmt.Errorf("every call failed: %s", res.FirstError)
	}
	return res, nil
}

// get is one BatchGetDocuments of n documents.
func (p *replayer) get(ctx context.Context, i, n int) error {
	refs := make([]*firestore.DocumentRef, n)
	for j := range refs {
		refs[j] = p.pool[(i+j*7)%len(p.pool)]
	}
	_, err := p.fs.GetAll(ctx, refs)
	return err
}

// commit is one Commit of n writes.
func (p *replayer) commit(ctx context.Context, i, n int) error {
	wb := p.fs.Batch() //nolint:staticcheck // one commit of n writes, as the gateway's
	for j := range n {
		wb.Set(p.pool[(i+j*7)%len(p.pool)], smallDoc(i))
	}
	_, err := wb.Commit(ctx)
	return err
}

// query is one RunQuery answering at most one document, as a cache
// refresh's.
func (p *replayer) query(ctx context.Context, _, _ int) error {
	_, err := p.coll.Where("status", "==", "pending").Limit(1).Documents(ctx).GetAll()
	return err
}

func (p *replayer) publish(ctx context.Context, _, _ int) error {
	_, err := p.pub.Publish(ctx, &pubsub.Message{Data: []byte(replayBody[:200]), Attributes: map[string]string{"tenant": "bench"}}).Get(ctx)
	return err
}
