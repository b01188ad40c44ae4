package pacing

import (
	"context"
	"errors"
	"time"
)

// Lease is one instance's claim on a channel's rate. The shares of the
// leases that are live add up to no more than the channel's rate: a lease
// only grows inside Claim, which sees every other lease and takes only
// what they leave.
type Lease struct {
	Instance string
	// Share is how many messages per second the holder may send.
	Share float64
	// Rate is the channel's limit as the holder knows it; everyone splits
	// the lowest a live holder knows, so a lowered setting takes hold at
	// the next renewal of whichever instance learns it first.
	Rate int
	// Singles and Bulk are what the holder asks for, in messages per
	// second, for single and for bulk sends.
	Singles float64
	Bulk    float64
	// Backoff is the factor (0, 1] the holder slows to after Meta refused
	// the channel's throughput; every instance of the channel follows the
	// lowest.
	Backoff float64
	// Expires is when the holder stops using Share unless it renewed; the
	// others take it back Skew later.
	Expires time.Time
}

// LeaseStore keeps the leases of every channel's rate.
type LeaseStore interface {
	// Leases returns the channel's leases, expired ones included.
	Leases(ctx context.Context, tenant, channel string) ([]Lease, error)
	// Renew rewrites the holder's lease in place. It returns ErrLeaseLost
	// when the lease is no longer there: another instance found it expired
	// and took it back, so its share may be in use elsewhere.
	Renew(ctx context.Context, tenant, channel string, l Lease) error
	// Claim reads the channel's leases, and writes the lease decide returns
	// and deletes the leases it names, all or nothing. Claims of a channel
	// are serializable: no other Claim commits between a Claim's read and
	// its write. Renew and Release may, since they never grow a share; but
	// a dropped lease is deleted only if it has not changed since the read.
	// decide may run more than once.
	Claim(ctx context.Context, tenant, channel string, decide func(leases []Lease) (mine Lease, drop []string)) (Lease, error)
	// Release deletes the holder's lease; releasing a lease that is not
	// there is not an error.
	Release(ctx context.Context, tenant, channel, instance string) error
}

// ErrLeaseLost is Renew's answer when the lease is gone.
var ErrLeaseLost = errors.New("pacing lease lost")
