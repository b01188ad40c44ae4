package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"golang.org/x/sync/errgroup"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/devstack"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/sweep"
)

// DefaultRecoveryMessages is issue 16's backlog after a Pub/Sub outage,
// which one sweep run must republish within 300 s.
const DefaultRecoveryMessages = 100_000

// recoveryTopic is the topic the recovery phase's sweep run publishes
// to, with a pull subscription of the same name only the phase reads.
const recoveryTopic = "bench-recovery"

// recoveryTenant is which of three tenants backlog message i belongs to:
// 80 %, 15 % and 5 %, interleaved over the outage as they were accepted.
func recoveryTenant(i int) int {
	switch r := i % 20; {
	case r < 16:
		return 0
	case r < 19:
		return 1
	}
	return 2
}

// recoveryPhase writes a backlog of RecoveryMessages accepted,
// never-published messages of three tenants straight into Firestore, as
// if accepted during an hour-long outage, runs sweep once, in this
// process, and counts what reached the phase's own topic. Dispatch never
// sees these jobs: a backlog this size would otherwise be sent, not just
// republished.
func (b *Bench) recoveryPhase(ctx context.Context) error {
	n := b.opts.RecoveryMessages
	b.prog.printf("recovery: a %d-message backlog of 3 tenants, republished by one sweep run", n)
	began := time.Now()
	owner, err := b.writeBacklog(ctx, n)
	if err == nil {
		err = queue.EnsureTopic(ctx, b.ps, recoveryTopic)
	}
	if err == nil {
		err = queue.EnsurePull(ctx, b.ps, recoveryTopic, recoveryTopic)
	}
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	fig := &RecoveryFigures{RecoveryMessages: n, RecoveryWriteSeconds: round(time.Since(began).Seconds(), 1)}
	pub := &timedPublisher{b: b, p: queue.NewPublisher(b.ps, recoveryTopic), owner: owner, last: make([]time.Time, 3)}
	defer pub.p.Stop()
	// Its store is the gateway's client, through the counting door.
	s := sweep.New(store.New(b.fsRaw), pub, sweep.Options{Bulk: pub})
	var r sweep.Report
	start := time.Now()
	_ = b.measure(ctx, "recovery", false, func() error {
		var err error
		if r, err = s.Run(logging.WithLogger(ctx, logging.New(b.opts.Logs, "info"))); err != nil {
			b.prog.printf("recovery: the sweep run: %v", err)
		}
		return nil
	})
	fig.RecoveryPages, fig.RecoveryOverBudget = r.Pages, r.OverBudget
	counts, err := b.countJobs(ctx, recoveryTopic)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	for id := range owner {
		switch c := counts[id]; {
		case c == 0:
			fig.RecoveryMissing++
		case c > 1:
			fig.RepublishedTwice++
		}
	}
	for _, at := range pub.last {
		secs := 0.0
		if !at.IsZero() {
			secs = round(at.Sub(start).Seconds(), 1)
		}
		fig.TenantLastSeconds = append(fig.TenantLastSeconds, secs)
		fig.RecoverySeconds = max(fig.RecoverySeconds, secs)
	}
	fig.SmallTenantLastSeconds = fig.TenantLastSeconds[2]
	b.fig.RecoveryFigures = fig
	return nil
}

// writeBacklog seeds the three tenants as copies of the demo and writes
// n accepted messages among them, spread over an hour that ended an hour
// ago (so all older than sweep's AcceptedAfter), 500 to a commit, eight
// commits at once. It returns each message's tenant.
func (b *Bench) writeBacklog(ctx context.Context, n int) (map[string]int, error) {
	st := store.New(b.fsRead)
	tenants := []string{"recovery-1", "recovery-2", "recovery-3"}
	for _, t := range tenants {
		if err := demo.Seed(ctx, st, t, "token-"+t); err != nil {
			return nil, err
		}
	}
	owner := make(map[string]int, n)
	msgs := make([]domain.Message, n)
	tpl := domain.TemplateMessage{Name: "welcome", Language: domain.Language{Code: "pt_BR"}}
	from := time.Now().UTC().Add(-2 * time.Hour)
	for i := range msgs {
		t := recoveryTenant(i)
		msgs[i] = domain.NewMessage(store.NewID(), tenants[t], demo.ChannelID, recoveryPhones.full(i), "welcome", tpl, from.Add(time.Hour*time.Duration(i)/time.Duration(n)))
		owner[msgs[i].ID] = t
	}
	var g errgroup.Group
	g.SetLimit(8)
	for chunk := range slices.Chunk(msgs, 500) {
		g.Go(func() error {
			wb := b.fsRead.Batch() //nolint:staticcheck // blind creates of documents nobody else writes, set up only
			for _, m := range chunk {
				wb.Create(b.fsRead.Collection("tenants").Doc(m.Tenant).Collection("messages").Doc(m.ID), m)
			}
			_, err := wb.Commit(ctx)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("write the backlog: %w", err)
	}
	return owner, nil
}

// countJobs pulls subscription sub dry and counts, per message, the
// distinct Pub/Sub messages that named it: a redelivery is one, a second
// publish two. Everything was published before, so it stops when the
// pulls have come back empty for a second (the emulator's lag).
func (b *Bench) countJobs(ctx context.Context, sub string) (map[string]int, error) {
	name := queue.SubscriptionName(devstack.Project, sub)
	counts, seen := map[string]int{}, map[string]bool{}
	_, err := poll(ctx, time.Second, func() (progressed, _ bool, _ error) {
		for {
			resp, err := b.ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: name, MaxMessages: 1000, ReturnImmediately: true})
			if err != nil {
				return false, false, fmt.Errorf("pull %s: %w", sub, err)
			}
			got := resp.GetReceivedMessages()
			if len(got) == 0 {
				return progressed, false, nil
			}
			progressed = true
			acks := make([]string, len(got))
			for i, m := range got {
				acks[i] = m.GetAckId()
				var j queue.Job
				if !seen[m.GetMessage().GetMessageId()] && json.Unmarshal(m.GetMessage().GetData(), &j) == nil {
					seen[m.GetMessage().GetMessageId()] = true
					counts[j.Message]++
				}
			}
			if err := b.ps.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: name, AckIds: acks}); err != nil {
				return false, false, fmt.Errorf("ack %s: %w", sub, err)
			}
		}
	})
	return counts, err
}

// timedPublisher publishes sweep's jobs and records, per backlog tenant,
// when its last one was taken by Pub/Sub.
type timedPublisher struct {
	b     *Bench
	p     *queue.Publisher
	owner map[string]int // read only

	mu   sync.Mutex
	done int
	last []time.Time
}

func (t *timedPublisher) Publish(ctx context.Context, j queue.Job) error {
	if err := t.p.Publish(ctx, j); err != nil {
		return err
	}
	i, ok := t.owner[j.Message]
	if !ok {
		return nil // another tenant's stale message: not the backlog's
	}
	t.mu.Lock()
	t.last[i] = maxTime(t.last[i], time.Now())
	t.done++
	done := t.done
	t.mu.Unlock()
	t.b.prog.status("recovery: %d of %d republished", done, len(t.owner))
	return nil
}
