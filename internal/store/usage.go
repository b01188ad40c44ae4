package store

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/templategw/templategw/internal/domain"
)

// Usage returns a tenant's billable messages in month (YYYY-MM) per
// channel and pricing category, counted on the messages themselves: each
// billable message records its month, channel and category
// (domain.Message.Usage), so billing one writes nothing but the message,
// where a counter would cost a write per message. Per channel it runs one
// count of the month and one per named category (domain.UsageCategories),
// concurrently, each billed one read per 1,000 messages counted; what the
// named categories leave of the month's count is CategoryOther. Only the
// tenant's current channels are counted, and only messages still within
// the tenant's retention.
func (s *Store) Usage(ctx context.Context, tenant, month string) ([]domain.UsageCount, error) {
	if !ValidID(tenant) || !ValidID(month) {
		return nil, nil
	}
	channels, err := s.Channels(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("usage of %s in %s: %w", tenant, month, masked(err))
	}
	cats := domain.UsageCategories
	n := len(cats) + 1 // the month's count, then each category's
	counts := make([]int, len(channels)*n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	messages := s.sub(tenant, "messages")
	for i, ch := range channels {
		prefix := domain.UsageKey(month, ch.ID, "")
		g.Go(func() (err error) {
			// Every category's key starts with the prefix and a lower-case
			// word: "/" + 1 is "0", which no such key reaches.
			q := messages.Where("usage", ">=", prefix).Where("usage", "<", prefix[:len(prefix)-1]+"0")
			counts[i*n], err = aggregateCount(gctx, q, "usage of "+ch.ID)
			return err
		})
		for j, cat := range cats {
			g.Go(func() (err error) {
				q := messages.Where("usage", "==", prefix+cat)
				counts[i*n+1+j], err = aggregateCount(gctx, q, "usage of "+ch.ID)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("usage of %s in %s: %w", tenant, month, masked(err))
	}
	var out []domain.UsageCount
	for i, ch := range channels {
		other := counts[i*n]
		for j, cat := range cats {
			if c := counts[i*n+1+j]; c > 0 {
				out = append(out, domain.UsageCount{Channel: ch.ID, Category: cat, Count: c})
				other -= c
			}
		}
		if other > 0 {
			out = append(out, domain.UsageCount{Channel: ch.ID, Category: domain.CategoryOther, Count: other})
		}
	}
	return out, nil
}
