package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/templategw/templategw/internal/devstack"
	"github.com/templategw/templategw/internal/queue"
)

// replayWarmInbound are the requests sent to the replay before it
// measures, to open its server's connections.
const replayWarmInbound = 20

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
	calls := f.LifeCallsByMethod
	sp := replaySpec{
		Project: devstack.Project, Firestore: b.proxy.Addr(), Doc: "bench/" + b.runID + "-replay/x/replay", Messages: n,
		GetCalls: per(calls["BatchGetDocuments"]), CommitCalls: per(calls["Commit"]), Queries: per(calls["RunQuery"]),
		Publishes: per(f.LifePublishesPerMessage), WarmInbound: replayWarmInbound,
	}
	for m := range calls {
		if m != "BatchGetDocuments" && m != "Commit" && m != "RunQuery" {
			return 0, fmt.Errorf("raw-client replay: no replay for the life phase's %s calls", m)
		}
	}
	// The billed reads and writes say how many documents each call
	// carries; a query answers at most one.
	sp.GetDocs = max(sp.GetCalls, per(f.LifeReadsPerMessage)-sp.Queries)
	sp.CommitWrites = max(sp.CommitCalls, per(f.LifeWritesPerMessage))
	var in float64
	for _, v := range f.LifeInvocationsPerMessage {
		in += v
	}
	inv := f.LifeInvocationsPerMessage
	sp.Inbound, sp.Outbound = per(in), per(inv["dispatch"]+inv["callbacks"])

	topic := "bench-replay-" + b.runID
	if err := queue.EnsureTopic(ctx, b.ps, topic); err != nil {
		return 0, fmt.Errorf("raw-client replay: %w", err)
	}
	defer func() {
		_ = b.ps.TopicAdminClient.DeleteTopic(context.Background(), &pubsubpb.DeleteTopicRequest{Topic: queue.TopicName(devstack.Project, topic)})
	}()
	sp.Topic = topic
	sink, closeSink, err := serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	if err != nil {
		return 0, err
	}
	defer closeSink()
	sp.OutboundURL = sink + "/"

	res, err := b.runReplay(ctx, sp)
	if err != nil {
		return 0, fmt.Errorf("raw-client replay: %w", err)
	}
	if res.Errors > 0 {
		b.prog.note("raw-client replay: %d calls failed, first: %s", res.Errors, res.FirstError)
	}
	return 1000 * res.CPUSeconds / float64(n), nil
}

// runReplay starts this binary again as the replay, hands it sp, sends
// it its inbound requests and reads its result.
func (b *Bench) runReplay(ctx context.Context, sp replaySpec) (replayResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return replayResult{}, fmt.Errorf("find own binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), ReplayEnv+"=1")
	cmd.Stderr = b.opts.Logs
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return replayResult{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return replayResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return replayResult{}, fmt.Errorf("start %s: %w", exe, err)
	}
	res, err := b.driveReplay(ctx, sp, stdin, bufio.NewReader(stdout))
	stdin.Close()
	if werr := cmd.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("the replay process: %w", werr)
	}
	return res, err
}

func (b *Bench) driveReplay(ctx context.Context, sp replaySpec, stdin io.Writer, out *bufio.Reader) (replayResult, error) {
	raw, _ := json.Marshal(sp)
	if _, err := stdin.Write(append(raw, '\n')); err != nil {
		return replayResult{}, fmt.Errorf("hand over the spec: %w", err)
	}
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		return replayResult{}, fmt.Errorf("the replay did not get ready: %q, %v", line, err)
	}
	url := "http://" + addr + "/"
	post := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(replayBody))
		if err != nil {
			return err
		}
		resp, err := b.hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	for range sp.WarmInbound {
		if err := post(); err != nil {
			return replayResult{}, fmt.Errorf("warm the replay's server: %w", err)
		}
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		return replayResult{}, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		jobs = make(chan struct{})
	)
	for range replayWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := post(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for range sp.Inbound {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		return replayResult{}, fmt.Errorf("%d requests to the replay failed, first: %w", len(errs), errs[0])
	}
	line, err = out.ReadString('\n')
	if err != nil {
		return replayResult{}, fmt.Errorf("read the replay's result: %w", err)
	}
	var res replayResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return replayResult{}, fmt.Errorf("read the replay's result %q: %w", line, err)
	}
	return res, nil
}
