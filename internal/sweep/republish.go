package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/store"
)

// backlog is one tenant's part of a run's republishing: its lost single
// sends, read a page at a time from after, then its broadcasts' lost jobs.
type backlog struct {
	tenant      string
	after       store.StaleMessage
	singlesDone bool
	bulk        []queue.Job
	counted     bool // in Report.Backlogged
}

func (b *backlog) more() bool { return !b.singlesDone || len(b.bulk) > 0 }

// republish hands dispatch the jobs of every tenant's lost accepts and of
// its broadcasts' lost jobs, in turns: one page of each tenant with work,
// then the next page of each, so a tenant's ten lost messages wait behind
// one page of every other tenant's backlog, not behind the whole of a
// 100,000-message one. The next pages are read while the last ones are
// published, Parallel at a time, so a backlog drains at Pub/Sub's pace
// rather than at one round trip per message.
//
// It stops at the first failed publish (Pub/Sub is down: the next run
// tries again from where this one started) and when Budget has passed
// since start (the next run carries on from where this one stopped). A
// message is published at most once per run, however many pages or
// sources name it.
func (s *Sweeper) republish(ctx context.Context, log *slog.Logger, tenants []string, bulk map[string][]queue.Job, start time.Time, r *Report) error {
	before, deadline := start.Add(-s.opt.AcceptedAfter), start.Add(s.opt.Budget)
	s.pruneRepublished(start)
	turns := make([]*backlog, 0, len(tenants))
	for _, t := range tenants {
		turns = append(turns, &backlog{tenant: t, after: s.resumeAt(t), bulk: bulk[t]})
	}
	p := s.startPublishing(ctx, log)
	seen := map[string]bool{}
	var errs []error
	for len(turns) > 0 && !p.halted.Load() {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if !s.opt.Now().Before(deadline) {
			r.OverBudget = true
			break
		}
		b := turns[0]
		turns = turns[1:]
		jobs, err := s.page(ctx, b, before)
		if err != nil {
			errs = append(errs, err) // this tenant waits for the next run
			continue
		}
		if len(jobs) > 0 {
			r.Pages++
			if !b.counted {
				b.counted = true
				r.Backlogged++
			}
		}
		for _, j := range jobs {
			key := j.Tenant + "/" + j.Message
			if seen[key] || p.halted.Load() {
				continue
			}
			seen[key] = true
			if !s.takeRepublish(key, start) {
				continue // this instance republished it within AcceptedAfter
			}
			p.jobs <- pending{job: j, key: key}
		}
		if b.more() {
			turns = append(turns, b)
		}
	}
	close(p.jobs)
	p.wg.Wait()
	r.Republished += int(p.done.Load())
	if p.err != nil {
		errs = append(errs, fmt.Errorf("republishing stopped at a failed publish: %w", p.err))
	} else if r.OverBudget {
		for _, b := range turns {
			if !b.singlesDone {
				s.setResume(b.tenant, b.after)
			}
		}
	}
	return errors.Join(errs...)
}

// page is b's next page of jobs: its lost single sends, Batch at a time
// from where the last page ended, then its broadcasts' lost jobs, Batch at
// a time.
func (s *Sweeper) page(ctx context.Context, b *backlog, before time.Time) ([]queue.Job, error) {
	if !b.singlesDone {
		msgs, err := s.store.StaleAccepted(ctx, b.tenant, before, b.after, s.opt.Batch)
		if err != nil {
			return nil, fmt.Errorf("sweep tenant %s: %w", b.tenant, err)
		}
		if len(msgs) < s.opt.Batch {
			b.singlesDone = true
			s.setResume(b.tenant, store.StaleMessage{}) // the next run starts afresh
		} else {
			b.after = msgs[len(msgs)-1]
		}
		if len(msgs) > 0 {
			jobs := make([]queue.Job, len(msgs))
			for i, m := range msgs {
				jobs[i] = queue.Job{Tenant: b.tenant, Message: m.ID, Channel: m.Channel}
			}
			return jobs, nil
		}
	}
	n := min(len(b.bulk), s.opt.Batch)
	jobs := b.bulk[:n]
	b.bulk = b.bulk[n:]
	return jobs, nil
}

// pending is a job handed to the publishing, and its key in republished.
type pending struct {
	job queue.Job
	key string
}

// publishing is a run's republishes in flight: Parallel workers take the
// jobs in the order they were read. After the first failure the rest are
// dropped unpublished, and forgotten, so the next run tries them.
type publishing struct {
	jobs   chan pending
	wg     sync.WaitGroup
	halted atomic.Bool
	done   atomic.Int64
	once   sync.Once
	err    error // the first failure; read after wg.Wait
}

func (s *Sweeper) startPublishing(ctx context.Context, log *slog.Logger) *publishing {
	// Two pages queued: the next page is read while these are published.
	p := &publishing{jobs: make(chan pending, 2*s.opt.Batch)}
	for range s.opt.Parallel {
		p.wg.Go(func() {
			for pj := range p.jobs {
				if p.halted.Load() {
					s.forgetRepublish(pj.key)
					continue
				}
				if err := s.publish(ctx, pj.job); err != nil {
					s.forgetRepublish(pj.key)
					p.once.Do(func() { p.err = err })
					p.halted.Store(true)
					continue
				}
				p.done.Add(1)
				// DEBUG: a backlog after an outage is 100,000 lines at
				// INFO; the run's "sweep done" line counts them.
				log.Debug("republished a message never dispatched", "tenant", pj.job.Tenant, "messageId", pj.job.Message, "bulk", pj.job.Bulk)
			}
		})
	}
	return p
}

// publish hands j to dispatch, a broadcast's job on the bulk topic, within
// PublishTimeout.
func (s *Sweeper) publish(ctx context.Context, j queue.Job) error {
	pub := s.pub
	if j.Bulk && s.opt.Bulk != nil {
		pub = s.opt.Bulk
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.PublishTimeout)
	defer cancel()
	return pub.Publish(ctx, j)
}

// resumeAt is where the last run that ran out of budget left tenant's
// lost single sends; the zero StaleMessage, the oldest, otherwise. Only
// this instance knows it: another starts from the oldest, and skips
// nothing it should not.
func (s *Sweeper) resumeAt(tenant string) store.StaleMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resume[tenant]
}

// setResume records where the next run carries on with tenant's lost
// single sends; the zero StaleMessage forgets it.
func (s *Sweeper) setResume(tenant string, at store.StaleMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.ID == "" {
		delete(s.resume, tenant)
		return
	}
	s.resume[tenant] = at
}

// pruneRepublished drops what was republished longer than AcceptedAfter
// before now: due again if still accepted.
func (s *Sweeper) pruneRepublished(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, at := range s.republished {
		if now.Sub(at) >= s.opt.AcceptedAfter {
			delete(s.republished, k)
		}
	}
}

// takeRepublish reports whether key is due for republishing (this
// instance has not republished it within AcceptedAfter) and, if so,
// records that it is being republished at now, so a run at the same time
// skips it.
func (s *Sweeper) takeRepublish(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.republished[key]; ok {
		return false
	}
	s.republished[key] = now
	return true
}

// forgetRepublish undoes takeRepublish after a failed publish, so the next
// run tries again.
func (s *Sweeper) forgetRepublish(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.republished, key)
}
