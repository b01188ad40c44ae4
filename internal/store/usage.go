package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/templategw/templategw/internal/domain"
)

// UsageShards is how many counter documents each (month, channel,
// category) of billable messages is spread over: one Firestore document
// takes about one sustained write a second, and every billable message
// writes one.
const UsageShards = 8

// usageCounters is the collection of one month's usage counters: only
// that month's documents, so reading a month reads at most channels ×
// categories × UsageShards small documents, whatever the traffic.
func (s *Store) usageCounters(tenant, month string) *firestore.CollectionRef {
	return s.sub(tenant, "usage").Doc(month).Collection("counters")
}

// billableCount is the merge that counts one billable message of channel
// in p's category in at's month, in a random shard.
func (s *Store) billableCount(tenant, channel string, p domain.Pricing, at time.Time) (*firestore.DocumentRef, map[string]any) {
	shard := rand.IntN(UsageShards)
	id := channel + "." + p.Category + "." + strconv.Itoa(shard)
	ref := s.usageCounters(tenant, domain.MonthKey(at)).Doc(id)
	return ref, map[string]any{"channel": channel, "category": p.Category, "count": firestore.Increment(1)}
}

// Usage returns a tenant's billable messages in month (YYYY-MM) per
// channel and pricing category, one count per counter shard, in one
// query of that month's counters.
func (s *Store) Usage(ctx context.Context, tenant, month string) ([]domain.UsageCount, error) {
	if !ValidID(tenant) || !ValidID(month) {
		return nil, nil
	}
	docs, err := s.usageCounters(tenant, month).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("usage of %s in %s: %w", tenant, month, masked(err))
	}
	out := make([]domain.UsageCount, 0, len(docs))
	for _, d := range docs {
		var c struct {
			Channel  string `firestore:"channel"`
			Category string `firestore:"category"`
			Count    int    `firestore:"count"`
		}
		if err := d.DataTo(&c); err != nil {
			return nil, fmt.Errorf("decode %s: %w", d.Ref.Path, err)
		}
		out = append(out, domain.UsageCount{Channel: c.Channel, Category: c.Category, Count: c.Count})
	}
	return out, nil
}
