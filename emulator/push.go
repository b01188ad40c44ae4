package emulator

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

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/templategw/templategw/internal/queue"
)

// DefaultPushLanes is a Pusher's deliveries in flight unless told
// otherwise. More do not make the Firestore emulator faster: its
// transactions wait on each other's locks, and with 64 in flight a
// 100,000-contact batch was dispatched at a third of the rate 8 reach.
const DefaultPushLanes = 8

// Pusher stands in for Pub/Sub's push on the emulator. The emulator's push
// subscription delivers at most two messages at a time, where Pub/Sub
// raises push concurrency with the endpoint's success rate, so anything
// that measures a pushed function through it measures that limit. A
// Pusher takes a push subscription over (it becomes a pull subscription
// while the Pusher runs), pulls it with up to Lanes messages outstanding
// and posts each to the subscription's endpoint as push does (same URL,
// same body), acking a 2xx answer and offering anything else again after
// the subscription's retry backoff, doubling from its minimum to its
// maximum as Pub/Sub's does.
//
// The benchmark delivers through it. The package tests' apptest.Push
// keeps the emulator's own push subscription: its few deliveries never
// meet the two-at-a-time limit, and the tests exercise Pub/Sub's own
// redelivery (backoff, dead-lettering), which a Pusher only imitates.
type Pusher struct {
	ps                     *pubsub.Client
	name                   string // the subscription's full name
	push                   *pubsubpb.PushConfig
	minBackoff, maxBackoff time.Duration
	opts                   PushOptions

	mu      sync.Mutex
	lanes   int
	targets []string // where deliveries go, round robin
	cancel  context.CancelFunc
	done    chan struct{}

	next       atomic.Uint64
	pullErrors atomic.Int64
	lastErr    atomic.Value // string

	attemptsMu sync.Mutex
	attempts   map[string]int // refused deliveries by message id
}

// PushOptions configure a Pusher.
type PushOptions struct {
	// Lanes is the deliveries in flight; default DefaultPushLanes.
	Lanes int
	// Client posts the deliveries; default one that keeps an idle
	// connection per lane, as Go's default keeps two per host.
	Client *http.Client
	// Observe, when set, is told of each delivery once its endpoint has
	// answered: err is nil for a 2xx answer.
	Observe func(m *pubsubpb.PubsubMessage, took time.Duration, err error)
}

// TakeOverPush makes subscription sub (its ID in ps's project) a pull
// subscription and starts delivering it to its push endpoint. Close gives
// the push endpoint back.
func TakeOverPush(ctx context.Context, ps *pubsub.Client, sub string, opts PushOptions) (*Pusher, error) {
	name := queue.SubscriptionName(ps.Project(), sub)
	s, err := ps.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: name})
	if err != nil {
		return nil, fmt.Errorf("subscription %s: %w", name, err)
	}
	if s.GetPushConfig().GetPushEndpoint() == "" {
		return nil, fmt.Errorf("subscription %s has no push endpoint (taken over already?)", name)
	}
	if opts.Lanes <= 0 {
		opts.Lanes = DefaultPushLanes
	}
	if opts.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opts.Lanes
		opts.Client = &http.Client{Transport: t}
	}
	p := &Pusher{
		ps: ps, name: name, push: s.GetPushConfig(), opts: opts, lanes: opts.Lanes, attempts: map[string]int{},
		minBackoff: max(s.GetRetryPolicy().GetMinimumBackoff().AsDuration(), time.Second),
	}
	p.maxBackoff = max(s.GetRetryPolicy().GetMaximumBackoff().AsDuration(), p.minBackoff)
	p.targets = []string{p.push.GetPushEndpoint()}
	if err := p.setPush(ctx, &pubsubpb.PushConfig{}); err != nil {
		return nil, err
	}
	p.Start()
	return p, nil
}

// Endpoint is the subscription's own push endpoint.
func (p *Pusher) Endpoint() string { return p.push.GetPushEndpoint() }

// Route sends the deliveries round robin to endpoints, with lanes in
// flight, as Pub/Sub spreads a push over a function's instances; no
// endpoints gives the subscription's own endpoint and lanes back.
// Deliveries under way finish where they were going.
func (p *Pusher) Route(endpoints []string, lanes int) {
	p.Pause()
	p.mu.Lock()
	if len(endpoints) == 0 {
		p.targets, p.lanes = []string{p.Endpoint()}, p.opts.Lanes
	} else {
		p.targets, p.lanes = endpoints, max(lanes, 1)
	}
	p.mu.Unlock()
	p.Start()
}

// Errors are how many pulls failed (each is tried again) and the last
// pull, ack or nack error.
func (p *Pusher) Errors() (pulls int64, last string) {
	last, _ = p.lastErr.Load().(string)
	return p.pullErrors.Load(), last
}

// Start begins delivering; Pause stops until the next Start. What is
// published meanwhile waits in the subscription.
//
// It pulls with the unary Pull call, not a streaming pull: the emulator
// fails on a client's reset of a streaming pull (a Java NoSuchMethodError
// in its log) and the messages leased to that stream are not delivered
// again, which lost thousands of a 100,000-contact batch's jobs. And it
// asks each Pull to return at once: a waiting Pull that Pause cancels
// stays open in the emulator, which hands it the next messages
// published, lost to everyone until their ack deadline.
func (p *Pusher) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.loop(ctx, p.done, p.lanes, p.targets)
}

func (p *Pusher) loop(ctx context.Context, done chan struct{}, lanes int, targets []string) {
	defer close(done)
	var wg sync.WaitGroup
	defer wg.Wait()
	free := make(chan struct{}, lanes)
	for ctx.Err() == nil {
		// Wait for a free lane, then take every free one.
		n := 0
		select {
		case free <- struct{}{}:
			n++
		case <-ctx.Done():
			return
		}
	take:
		for n < lanes {
			select {
			case free <- struct{}{}:
				n++
			default:
				break take
			}
		}
		resp, err := p.ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: p.name, MaxMessages: int32(n), ReturnImmediately: true})
		got := resp.GetReceivedMessages()
		for range n - len(got) {
			<-free
		}
		if err != nil && ctx.Err() == nil {
			p.pullErrors.Add(1)
			p.lastErr.Store(err.Error())
		}
		for _, m := range got {
			target := targets[p.next.Add(1)%uint64(len(targets))]
			wg.Go(func() {
				backoff := p.deliver(m, target)
				<-free
				if backoff > 0 {
					// The lane is free meanwhile: the message waits, not
					// the deliveries behind it.
					select {
					case <-ctx.Done():
					case <-time.After(backoff):
					}
					p.nack(m.GetAckId())
				}
			})
		}
		if len(got) == 0 && ctx.Err() == nil {
			// Nothing waiting: a pause before asking again keeps an idle
			// Pusher from spinning.
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// Pause stops pulling and waits for the deliveries in flight; a refused
// one is offered again at once.
func (p *Pusher) Pause() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel = nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Close stops delivering and gives the subscription its push endpoint
// back. It does not take a context: an interrupted run must still leave
// the emulator as it found it.
func (p *Pusher) Close() error {
	p.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.setPush(ctx, p.push)
}

func (p *Pusher) setPush(ctx context.Context, cfg *pubsubpb.PushConfig) error {
	err := p.ps.SubscriptionAdminClient.ModifyPushConfig(ctx, &pubsubpb.ModifyPushConfigRequest{Subscription: p.name, PushConfig: cfg})
	if err != nil {
		return fmt.Errorf("push config of %s: %w", p.name, err)
	}
	return nil
}

// deliver posts one message to target and acks it when the answer is a
// 2xx; otherwise it returns how long to wait before offering it again.
// Neither the post nor the ack takes the pull's context: a delivery under
// way when the Pusher pauses is finished and settled, as Pub/Sub settles
// a push it started.
func (p *Pusher) deliver(rm *pubsubpb.ReceivedMessage, target string) time.Duration {
	m := rm.GetMessage()
	var body queue.PushEnvelope
	body.Message.Data, body.Message.Attributes = m.GetData(), m.GetAttributes()
	body.Message.MessageID, body.Message.PublishTime = m.GetMessageId(), m.GetPublishTime().AsTime()
	body.Subscription = p.name
	t0 := time.Now()
	err := p.post(target, body)
	if p.opts.Observe != nil {
		p.opts.Observe(m, time.Since(t0), err)
	}
	p.attemptsMu.Lock()
	n := p.attempts[m.GetMessageId()]
	if err != nil {
		p.attempts[m.GetMessageId()] = n + 1
	} else {
		delete(p.attempts, m.GetMessageId())
	}
	p.attemptsMu.Unlock()
	if err != nil {
		return min(p.minBackoff<<min(n, 16), p.maxBackoff)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.ps.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: p.name, AckIds: []string{rm.GetAckId()}}); err != nil {
		p.lastErr.Store(err.Error())
	}
	return 0
}

// nack offers a message again at once.
func (p *Pusher) nack(ackID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.ps.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{Subscription: p.name, AckIds: []string{ackID}}); err != nil {
		p.lastErr.Store(err.Error())
	}
}

func (p *Pusher) post(target string, body queue.PushEnvelope) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.opts.Client.Do(req)
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
