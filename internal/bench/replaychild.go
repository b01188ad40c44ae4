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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
)

// ReplayEnv, set in a process's environment, makes MaybeReplay run the
// life phase's raw-client replay in it. The benchmark sets it when it
// starts its own binary again for the replay.
const ReplayEnv = "TEMPLATEGW_BENCH_REPLAY"

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
	Inbound, WarmInbound, Outbound int
	OutboundURL                    string
}

// replayResult is the replay's own CPU over its measured part.
type replayResult struct {
	CPUSeconds float64 `json:"cpuSeconds"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
}

// replayWorkers are the replay's calls in flight: a few, as a function
// instance has a few requests in flight at 25 messages a second.
const replayWorkers = 4

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
// replays and writes its CPU as one JSON line.
func replayChild(ctx context.Context, in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read the spec: %w", err)
	}
	var sp replaySpec
	if err := json.Unmarshal(line, &sp); err != nil {
		return fmt.Errorf("read the spec: %w", err)
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

	// Every request in is counted; done closes at the last one expected.
	var served atomic.Int64
	done := make(chan struct{})
	want := int64(sp.WarmInbound + sp.Inbound)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusNoContent)
		if served.Add(1) == want {
			close(done)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	rp := &replayer{fs: fs, pub: pub, hc: newHTTPClient(), url: sp.OutboundURL, coll: fs.Doc(sp.Doc).Collection("docs")}
	if err := rp.makePool(ctx); err != nil {
		return err
	}
	// Unmeasured: a tenth of the work (at least a few messages' worth),
	// so connections are open and the clients warm, as a function's are.
	if _, err := rp.run(ctx, scaled(sp, max(5, sp.Messages/10))); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Fprintf(out, "ready %s\n", l.Addr())
	if cmd, err := r.ReadString('\n'); err != nil || strings.TrimSpace(cmd) != "go" {
		return fmt.Errorf("waiting for go: %q, %v", cmd, err)
	}
	t0 := selfCPU()
	res, err := rp.run(ctx, sp)
	if err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("served %d of %d requests", served.Load(), want)
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

// replayPool is how many documents the replay reads and writes: small,
// message-sized ones, spread so that concurrent commits rarely meet.
const replayPool = 64

func (p *replayer) makePool(ctx context.Context) error {
	wb := p.fs.Batch() //nolint:staticcheck // a blind multi-document write, set up only
	for i := range replayPool {
		ref := p.coll.Doc(fmt.Sprintf("d%02d", i))
		p.pool = append(p.pool, ref)
		wb.Set(ref, smallDoc(i))
	}
	if _, err := wb.Commit(ctx); err != nil {
		return fmt.Errorf("replay documents: %w", err)
	}
	return nil
}

func smallDoc(i int) map[string]any {
	return map[string]any{"status": "pending", "attempts": i, "phoneNumber": "5511999990000", "updatedAt": time.Now().UTC()}
}

// body is a request's: about a Pub/Sub push envelope's or a callback's size.
var replayBody = strings.Repeat("x", 512)

// run makes sp's calls, replayWorkers at a time, in a shuffled order.
func (p *replayer) run(ctx context.Context, sp replaySpec) (replayResult, error) {
	var tasks []func(context.Context, int) error
	spread := func(calls, units int, f func(ctx context.Context, i, n int) error) {
		for i := range calls {
			n := units / calls
			if i < units%calls {
				n++
			}
			tasks = append(tasks, func(ctx context.Context, k int) error { return f(ctx, k, max(n, 1)) })
		}
	}
	spread(sp.GetCalls, sp.GetDocs, p.get)
	spread(sp.CommitCalls, sp.CommitWrites, p.commit)
	spread(sp.Queries, sp.Queries, p.query)
	spread(sp.Publishes, sp.Publishes, p.publish)
	spread(sp.Outbound, sp.Outbound, p.post)
	rand.Shuffle(len(tasks), func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })

	var (
		res  replayResult
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range replayWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(tasks) || ctx.Err() != nil {
					return
				}
				if err := tasks[i](ctx, i); err != nil {
					mu.Lock()
					if res.Errors++; res.FirstError == "" {
						res.FirstError = err.Error()
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(tasks) > 0 && res.Errors == len(tasks) {
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

func (p *replayer) publish(ctx context.Context, i, _ int) error {
	_, err := p.pub.Publish(ctx, &pubsub.Message{Data: []byte(replayBody[:200]), Attributes: map[string]string{"tenant": "bench"}}).Get(ctx)
	return err
}

// post is one outbound request: a send to the provider or a callback.
func (p *replayer) post(ctx context.Context, _, _ int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader(replayBody))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}
