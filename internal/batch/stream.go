package batch

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/templategw/templategw/internal/store"
)

// streamed is what stream stored.
type streamed struct {
	chunks     int // chunk numbers handed out, written or not
	recipients int
	accepted   int
	failed     int
}

// rawChunk is a run of recipients as read, before they are checked.
type rawChunk struct {
	n, first int
	rs       []Recipient
}

// stream reads every recipient and stores them as chunks, overlapping the
// three costs: reading the body (this goroutine), checking recipients
// (phone parsing dominates; Options.Workers goroutines) and committing
// chunks (a few at a time, in groups). The channels between the stages are
// short, so a slow stage holds back the reader: at most a few dozen chunks
// are in memory whatever the batch's size.
func (s *Service) stream(ctx context.Context, tenant string, p *plan, batch string, expireAt time.Time, next Next) (streamed, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	raw := make(chan rawChunk, 1)
	sealed := make(chan store.EncodedChunk, groupChunks)
	var accepted, failed atomic.Int64
	var checkers, writing sync.WaitGroup
	for range s.opt.Workers {
		checkers.Go(func() {
			for rc := range raw {
				if ctx.Err() != nil {
					continue // drain, so the reader never blocks
				}
				enc, a, f, err := p.seal(rc)
				if err != nil {
					cancel(err)
					continue
				}
				accepted.Add(int64(a))
				failed.Add(int64(f))
				select {
				case sealed <- enc:
				case <-ctx.Done():
				}
			}
		})
	}
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

	var res streamed
	s.read(ctx, cancel, raw, next, &res)
	close(raw)
	checkers.Wait()
	close(sealed)
	writing.Wait()
	res.accepted, res.failed = int(accepted.Load()), int(failed.Load())
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

// seal checks a chunk's recipients and encodes it for the store.
func (p *plan) seal(rc rawChunk) (enc store.EncodedChunk, accepted, failed int, err error) {
	c := store.BatchChunk{N: rc.n, First: rc.first, Recipients: make([]store.BatchRecipient, len(rc.rs))}
	for i, r := range rc.rs {
		c.Recipients[i] = p.check(r)
		if c.Recipients[i].Problem != "" {
			failed++
		} else {
			accepted++
		}
	}
	enc, err = store.EncodeBatchChunk(c)
	return enc, accepted, failed, err
}
