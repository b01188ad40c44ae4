package batch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/templategw/templategw/internal/store"
)

// streamed is what stream stored.
type streamed struct {
	chunks     int // chunk numbers handed out, written or not
	recipients int
	accepted   int
	failed     int
	duplicates int
}

// rawChunk is a run of recipients as read, before they are checked.
type rawChunk struct {
	n, first int
	rs       []Recipient
}

// stream reads every recipient and stores them as chunks, overlapping the
// four costs: reading the body (this goroutine), checking recipients
// (phone parsing dominates; Options.Workers goroutines), dropping repeated
// numbers (one goroutine, in the recipients' order, so the first wins) and
// committing chunks (a few at a time, in groups). The channels between the
// stages are short, so a slow stage holds back the reader: at most a few
// dozen chunks are in memory whatever the batch's size, plus one entry per
// distinct number.
func (s *Service) stream(ctx context.Context, tenant string, p *plan, batch string, expireAt time.Time, next Next) (streamed, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	raw := make(chan rawChunk, 1)
	checked := make(chan checkedChunk, s.opt.Workers)
	sealed := make(chan store.EncodedChunk, groupChunks)
	var checkers, dedup, writing sync.WaitGroup
	for range s.opt.Workers {
		checkers.Go(func() {
			for rc := range raw {
				if ctx.Err() != nil {
					continue // drain, so the reader never blocks
				}
				select {
				case checked <- p.checkChunk(rc):
				case <-ctx.Done():
				}
			}
		})
	}
	var res streamed
	dedup.Go(func() {
		d := dedupe{seen: map[string]struct{}{}, waiting: map[int]checkedChunk{}}
		for c := range checked {
			if ctx.Err() != nil {
				continue
			}
			for _, c := range d.inOrder(c) {
				enc, err := store.EncodeBatchChunk(c.BatchChunk)
				if err != nil {
					cancel(err)
					continue
				}
				select {
				case sealed <- enc:
				case <-ctx.Done():
				}
			}
		}
		res.accepted, res.failed, res.duplicates = d.accepted, d.failed, d.duplicates
	})
	for range writers {
		writing.Go(func() {
			var group []store.EncodedChunk
			size := 0
			flush := func() {
				if len(group) > 0 && ctx.Err() == nil {
					if err := s.store.PutBatchChunks(ctx, tenant, batch, group, expireAt); err != nil {
						cancel(err)
					}
				}
				group, size = group[:0], 0
			}
			for c := range sealed {
				group = append(group, c)
				size += c.Size()
				if len(group) >= groupChunks || size >= groupBytes {
					flush()
				}
			}
			flush()
		})
	}

	s.read(ctx, cancel, raw, next, &res)
	close(raw)
	checkers.Wait()
	close(checked)
	dedup.Wait()
	close(sealed)
	writing.Wait()
	if ctx.Err() != nil {
		return res, context.Cause(ctx)
	}
	return res, nil
}

// read pulls recipients from next and cuts them into chunks of at most
// ChunkSize recipients or chunkBytes bytes.
func (s *Service) read(ctx context.Context, cancel context.CancelCauseFunc, raw chan<- rawChunk, next Next, res *streamed) {
	send := func(c rawChunk) bool {
		select {
		case raw <- c:
			res.chunks++
			return true
		case <-ctx.Done():
			return false
		}
	}
	cur := rawChunk{rs: make([]Recipient, 0, s.opt.ChunkSize)}
	size := 0
	for ctx.Err() == nil {
		r, ok, err := next()
		if err != nil {
			cancel(err)
			return
		}
		if !ok {
			break
		}
		if res.recipients == s.opt.MaxRecipients {
			cancel(fmt.Errorf("%w: a batch takes at most %d recipients", ErrTooMany, s.opt.MaxRecipients))
			return
		}
		res.recipients++
		cur.rs = append(cur.rs, r)
		size += recipientSize(r)
		if len(cur.rs) == s.opt.ChunkSize || size >= chunkBytes {
			if !send(cur) {
				return
			}
			cur = rawChunk{n: cur.n + 1, first: res.recipients, rs: make([]Recipient, 0, s.opt.ChunkSize)}
			size = 0
		}
	}
	if len(cur.rs) > 0 && ctx.Err() == nil {
		send(cur)
	}
}

// checkedChunk is a chunk whose recipients are checked, before repeated
// numbers are dropped.
type checkedChunk struct{ store.BatchChunk }

// checkChunk checks a chunk's recipients.
func (p *plan) checkChunk(rc rawChunk) checkedChunk {
	c := store.BatchChunk{N: rc.n, First: rc.first, Recipients: make([]store.BatchRecipient, len(rc.rs))}
	for i, r := range rc.rs {
		c.Recipients[i] = p.check(r)
	}
	return checkedChunk{c}
}

// dedupe drops every recipient whose number an earlier one has, taking
// chunks in their order whatever order the checkers finish them in, and
// counts what is left.
type dedupe struct {
	seen    map[string]struct{}
	waiting map[int]checkedChunk
	next    int

	accepted, failed, duplicates int
}

// inOrder takes c and returns the chunks now ready, in order, with their
// repeated numbers marked.
func (d *dedupe) inOrder(c checkedChunk) []checkedChunk {
	d.waiting[c.N] = c
	var ready []checkedChunk
	for {
		c, ok := d.waiting[d.next]
		if !ok {
			return ready
		}
		delete(d.waiting, d.next)
		d.next++
		for i := range c.Recipients {
			r := &c.Recipients[i]
			switch _, dup := d.seen[r.Phone]; {
			case r.Problem != "":
				d.failed++
			case dup:
				r.Duplicate, r.Params = true, nil
				d.duplicates++
			default:
				d.seen[r.Phone] = struct{}{}
				d.accepted++
			}
		}
		ready = append(ready, c)
	}
}
