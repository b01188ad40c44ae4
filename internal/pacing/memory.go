package pacing

import (
	"context"
	"sort"
	"sync"
)

// MemoryLeases is a LeaseStore in memory, for tests of this package and of
// its users: one lock makes every call serializable, as Firestore's
// transactions are.
type MemoryLeases struct {
	mu       sync.Mutex
	channels map[string]map[string]Lease
}

// NewMemoryLeases returns an empty MemoryLeases.
func NewMemoryLeases() *MemoryLeases {
	return &MemoryLeases{channels: map[string]map[string]Lease{}}
}

func memoryKey(tenant, channel string) string { return tenant + "\x00" + channel }

// Leases returns the channel's leases by instance.
func (m *MemoryLeases) Leases(ctx context.Context, tenant, channel string) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.list(tenant, channel), nil
}

func (m *MemoryLeases) list(tenant, channel string) []Lease {
	ls := make([]Lease, 0, len(m.channels[memoryKey(tenant, channel)]))
	for _, l := range m.channels[memoryKey(tenant, channel)] {
		ls = append(ls, l)
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Instance < ls[j].Instance })
	return ls
}

// Renew rewrites a lease that is there; ErrLeaseLost otherwise.
func (m *MemoryLeases) Renew(ctx context.Context, tenant, channel string, l Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.channels[memoryKey(tenant, channel)]
	if _, ok := c[l.Instance]; !ok {
		return ErrLeaseLost
	}
	c[l.Instance] = l
	return nil
}

// Claim runs decide over the channel's leases and applies its answer under
// the store's lock.
func (m *MemoryLeases) Claim(ctx context.Context, tenant, channel string, decide func([]Lease) (Lease, []string)) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mine, drop := decide(m.list(tenant, channel))
	k := memoryKey(tenant, channel)
	c := m.channels[k]
	if c == nil {
		c = map[string]Lease{}
		m.channels[k] = c
	}
	for _, id := range drop {
		delete(c, id)
	}
	c[mine.Instance] = mine
	return mine, nil
}

// Release deletes the lease.
func (m *MemoryLeases) Release(ctx context.Context, tenant, channel, instance string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.channels[memoryKey(tenant, channel)], instance)
	return nil
}
