package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/templategw/templategw/internal/devstack"
	"github.com/templategw/templategw/internal/queue"
)

// DefaultLanes is how many deliveries a push bridge keeps in flight to one
// function. More do not make the emulator faster: its transactions wait
// on each other's locks, and with 64 in flight a 100,000-contact batch
// was dispatched at a third of the rate 8 reach (docs/benchmarks.md).
const DefaultLanes = 8

// pushBridge stands in for the push subscription that feeds a CloudEvent
// function. The Pub/Sub emulator pushes at most two messages at a time per
// subscription, which Pub/Sub does not (it raises push concurrency with
// the endpoint's success rate): through the emulator's push, the
// end-to-end figures would be two divided by dispatch's latency, a limit
// of the emulator. The bridge turns the subscription into a pull
// subscription, pulls with up to lanes messages outstanding and posts each
// to the function exactly as the emulator's push would (same endpoint,
// same body), acking on a 2xx answer and redelivering otherwise. The
// function's code path is the one Eventarc drives in the cloud.
type pushBridge struct {
	b        *Bench
	name     string // the subscription's full name
	push     *pubsubpb.PushConfig
	endpoint string
	lanes    int

	// targets, when set, replace endpoint: deliveries go round robin to
	// several instances of the function, as Pub/Sub's push spreads them
	// over a function's instances (see spread).
	targets atomic.Pointer[[]string]
	next    atomic.Uint64

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	inflight, peak, delivered, refused atomic.Int64
	pullErrors                         atomic.Int64
	// busy is the time deliveries spent posted to the function
	// (nanoseconds), its request time; billedBytes is Pub/Sub's billed
	// throughput of the messages pulled, each at least 1,000 bytes.
	busy, billedBytes atomic.Int64
	lastErr           atomic.Value // string: the last pull, ack or nack error

	lagMu sync.Mutex
	lags  []time.Duration // publish to pull, since the last takeLags
}

// takeLags returns how long each message delivered since the last call
// waited between its publish and the bridge pulling it, and starts afresh.
func (p *pushBridge) takeLags() []time.Duration {
	p.lagMu.Lock()
	defer p.lagMu.Unlock()
	out := p.lags
	p.lags = nil
	return out
}

// newBridge takes over function fn's push subscription and starts
// delivering.
func (b *Bench) newBridge(ctx context.Context, fn string) (*pushBridge, error) {
	name := queue.SubscriptionName(devstack.Project, devstack.PushSubscription(fn))
	push, err := b.detachPush(ctx, name)
	if err != nil {
		return nil, err
	}
	p := &pushBridge{b: b, name: name, push: push, endpoint: push.GetPushEndpoint(), lanes: b.opts.Lanes}
	p.start()
	return p, nil
}

// detachPush makes subscription name a pull subscription, which holds
// what is published until someone pulls or its push config is given back
// with setPush, and returns that push config.
func (b *Bench) detachPush(ctx context.Context, name string) (*pubsubpb.PushConfig, error) {
	sub, err := b.ps.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: name})
	if err != nil {
		return nil, fmt.Errorf("subscription %s: %w", name, err)
	}
	push := sub.GetPushConfig()
	if push.GetPushEndpoint() == "" {
		return nil, fmt.Errorf("subscription %s has no push endpoint (another benchmark running on this stack?)", name)
	}
	if err := b.setPush(ctx, name, &pubsubpb.PushConfig{}); err != nil {
		return nil, err
	}
	return push, nil
}

// restorePush gives subscription name back the push config detachPush
// took. It does not take the run's context: an interrupted run must still
// leave the stack as it found it.
func (b *Bench) restorePush(name string, push *pubsubpb.PushConfig) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return b.setPush(ctx, name, push)
}

func (b *Bench) setPush(ctx context.Context, name string, cfg *pubsubpb.PushConfig) error {
	err := b.ps.SubscriptionAdminClient.ModifyPushConfig(ctx, &pubsubpb.ModifyPushConfigRequest{Subscription: name, PushConfig: cfg})
	if err != nil {
		return fmt.Errorf("push config of %s: %w", name, err)
	}
	return nil
}

// start begins delivering; pause stops until the next start. What is
// published meanwhile waits in the subscription.
//
// The bridge pulls with the unary Pull call, not a streaming pull: the
// emulator fails on a client's reset of a streaming pull (a Java
// NoSuchMethodError in its log) and the messages leased to that stream
// are not delivered again, which lost thousands of a 100,000-contact
// batch's jobs. And it asks the Pull to return at once: a waiting Pull
// that pause cancels stays open in the emulator, which hands the next
// messages published to it, and those are lost to everyone until their
// ack deadline (60 s): single sends seen pending a minute late.
func (p *pushBridge) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	done := p.done
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		defer wg.Wait()
		lanes := make(chan struct{}, p.lanes)
		for ctx.Err() == nil {
			free := p.take(ctx, lanes)
			if free == 0 {
				return
			}
			resp, err := p.b.ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: p.name, MaxMessages: int32(free), ReturnImmediately: true})
			got := len(resp.GetReceivedMessages())
			for range free - got {
				<-lanes
			}
			if err != nil && ctx.Err() == nil {
				p.pullErrors.Add(1)
				p.lastErr.Store(err.Error())
			}
			for _, m := range resp.GetReceivedMessages() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-lanes }()
					p.deliver(ctx, m)
				}()
			}
			if got == 0 && ctx.Err() == nil {
				// Nothing waiting (or the emulator refused): a pause
				// before asking again keeps an idle bridge from spinning.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	}()
}

// take waits for at least one free lane and takes every free lane; 0 once
// ctx ends.
func (p *pushBridge) take(ctx context.Context, lanes chan struct{}) int {
	select {
	case lanes <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	free := 1
	for free < p.lanes {
		select {
		case lanes <- struct{}{}:
			free++
		default:
			return free
		}
	}
	return free
}

// pause stops pulling and waits for the deliveries in flight.
func (p *pushBridge) pause() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel = nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// close stops the bridge and gives the subscription its push endpoint
// back, so a reused stack is left as it was found.
func (p *pushBridge) close() error {
	p.pause()
	return p.b.restorePush(p.name, p.push)
}

func (p *pushBridge) deliver(ctx context.Context, rm *pubsubpb.ReceivedMessage) {
	m := rm.GetMessage()
	publishTime := m.GetPublishTime().AsTime()
	if m.GetPublishTime() != nil {
		lag := time.Since(publishTime)
		p.lagMu.Lock()
		p.lags = append(p.lags, lag)
		p.lagMu.Unlock()
	}
	size := len(m.GetData())
	for k, v := range m.GetAttributes() {
		size += len(k) + len(v)
	}
	p.billedBytes.Add(int64(max(size, pubsubMinBytes)))
	n := p.inflight.Add(1)
	defer p.inflight.Add(-1)
	for {
		peak := p.peak.Load()
		if n <= peak || p.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	var body queue.PushEnvelope
	body.Message.Data, body.Message.Attributes = m.GetData(), m.GetAttributes()
	body.Message.MessageID, body.Message.PublishTime = m.GetMessageId(), publishTime
	body.Subscription = p.name
	// Acks and nacks do not take the pull's context: a delivery under way
	// when the bridge pauses is settled, as Pub/Sub settles a push it
	// started.
	actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := p.b.ps.SubscriptionAdminClient
	t0 := time.Now()
	err := p.post(body)
	p.busy.Add(int64(time.Since(t0)))
	if err == nil {
		p.delivered.Add(1)
		if err := admin.Acknowledge(actx, &pubsubpb.AcknowledgeRequest{Subscription: p.name, AckIds: []string{rm.GetAckId()}}); err != nil {
			p.lastErr.Store(err.Error())
		}
		return
	}
	p.refused.Add(1)
	// Pub/Sub backs off before redelivering a refused push (the stack's
	// subscriptions start at a second); an immediate nack would spin.
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
	if err := admin.ModifyAckDeadline(actx, &pubsubpb.ModifyAckDeadlineRequest{Subscription: p.name, AckIds: []string{rm.GetAckId()}}); err != nil {
		p.lastErr.Store(err.Error())
	}
}

// spread sends the bridge's deliveries round robin to endpoints, with
// lanes deliveries in flight, until the next spread; no endpoints gives
// the function's own endpoint and the lanes back. Deliveries under way
// finish where they were going.
func (p *pushBridge) spread(endpoints []string, lanes int) {
	p.pause()
	if len(endpoints) == 0 {
		p.targets.Store(nil)
		p.lanes = p.b.opts.Lanes
	} else {
		p.targets.Store(&endpoints)
		p.lanes = lanes
	}
	p.start()
}

// target is where the next delivery goes.
func (p *pushBridge) target() string {
	if t := p.targets.Load(); t != nil {
		return (*t)[p.next.Add(1)%uint64(len(*t))]
	}
	return p.endpoint
}

func (p *pushBridge) post(body queue.PushEnvelope) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	// Not the pull's context: a delivery under way when the bridge pauses
	// is finished, as Pub/Sub would finish a push it had started.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.target(), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.b.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return errors.New(resp.Status)
	}
	return nil
}
