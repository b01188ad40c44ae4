package batch

import (
	"context"
	"fmt"
	"time"

	"github.com/templategw/templategw/internal/logging"
)

// Resume republishes the fan-out of every chunk no worker finished, of
// the tenant's batches accepted before before (at most limit batches and
// limit chunks each), and closes the batches whose chunks are all done. It
// keeps the promise of a 2xx when Pub/Sub lost a fan-out event or a worker
// gave up: sweep calls it for each tenant. A chunk republished while its
// worker is still running is harmless, since the worker is idempotent.
func (s *Service) Resume(ctx context.Context, tenant string, before time.Time, limit int) (republished int, err error) {
	open, err := s.store.OpenBatches(ctx, tenant, before, limit)
	if err != nil {
		return 0, err
	}
	log := logging.FromContext(ctx).With("tenant", tenant)
	for _, b := range open {
		undone, err := s.store.UndoneBatchChunks(ctx, tenant, b.ID, limit)
		if err != nil {
			return republished, err
		}
		if len(undone) == 0 {
			if err := s.store.CloseBatch(ctx, tenant, b.ID); err != nil {
				return republished, err
			}
			continue
		}
		for _, n := range undone {
			if err := s.fanout.PublishJSON(ctx, Fanout{Tenant: tenant, Batch: b.ID, Chunk: n}, map[string]string{"tenant": tenant}); err != nil {
				return republished, fmt.Errorf("republish chunk %d of batch %s/%s: %w", n, tenant, b.ID, err)
			}
			republished++
		}
		log.Info("republished the fan-out of unfinished chunks", "batch", b.ID, "chunks", len(undone))
	}
	return republished, nil
}
