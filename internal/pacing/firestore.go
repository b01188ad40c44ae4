package pacing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FirestoreLeases keeps leases in Firestore: a channel's pacing document
// tenants/{t}/pacing/{channel}, and one document per instance under it,
// tenants/{t}/pacing/{channel}/leases/{instance}.
type FirestoreLeases struct {
	fs *firestore.Client
}

// NewFirestoreLeases returns the leases kept in fs.
func NewFirestoreLeases(fs *firestore.Client) *FirestoreLeases {
	return &FirestoreLeases{fs: fs}
}

// leaseTTL is how long after its expiry a lease nobody took back stays,
// for the TTL policy on leases.expireAt: a channel nobody sends through
// any more would otherwise keep the leases of the instances that last did.
const leaseTTL = time.Hour

// claimAttempts bounds a Claim's tries when other instances commit first;
// a Claim that cannot commit leaves the share as it was, and the next
// renewal tries again.
const claimAttempts = 10

// leaseDoc is a lease as stored.
type leaseDoc struct {
	Share    float64   `firestore:"share"`
	Rate     int64     `firestore:"rate"`
	Singles  float64   `firestore:"singles"`
	Bulk     float64   `firestore:"bulk"`
	Backoff  float64   `firestore:"backoff"`
	Expires  time.Time `firestore:"expiresAt"`
	ExpireAt time.Time `firestore:"expireAt"`
}

func (s *FirestoreLeases) channelDoc(tenant, channel string) *firestore.DocumentRef {
	return s.fs.Collection("tenants").Doc(tenant).Collection("pacing").Doc(channel)
}

func (s *FirestoreLeases) leases(tenant, channel string) *firestore.CollectionRef {
	return s.channelDoc(tenant, channel).Collection("leases")
}

func encode(l Lease) leaseDoc {
	return leaseDoc{Share: l.Share, Rate: int64(l.Rate), Singles: l.Singles, Bulk: l.Bulk, Backoff: l.Backoff,
		Expires: l.Expires.UTC(), ExpireAt: l.Expires.Add(leaseTTL).UTC()}
}

func decode(snaps []*firestore.DocumentSnapshot) ([]Lease, error) {
	out := make([]Lease, 0, len(snaps))
	for _, s := range snaps {
		var d leaseDoc
		if err := s.DataTo(&d); err != nil {
			return nil, fmt.Errorf("decode lease %s: %w", s.Ref.Path, err)
		}
		out = append(out, Lease{Instance: s.Ref.ID, Share: d.Share, Rate: int(d.Rate), Singles: d.Singles,
			Bulk: d.Bulk, Backoff: d.Backoff, Expires: d.Expires})
	}
	return out, nil
}

// Leases reads the channel's lease documents: one query, as many reads as
// instances hold leases.
func (s *FirestoreLeases) Leases(ctx context.Context, tenant, channel string) ([]Lease, error) {
	snaps, err := s.leases(tenant, channel).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("read pacing leases of %s/%s: %w", tenant, channel, err)
	}
	return decode(snaps)
}

// Renew updates the lease document, which must exist: Update fails on a
// document another instance deleted when it took the lease back.
func (s *FirestoreLeases) Renew(ctx context.Context, tenant, channel string, l Lease) error {
	d := encode(l)
	_, err := s.leases(tenant, channel).Doc(l.Instance).Update(ctx, []firestore.Update{
		{Path: "share", Value: d.Share}, {Path: "rate", Value: d.Rate},
		{Path: "singles", Value: d.Singles}, {Path: "bulk", Value: d.Bulk}, {Path: "backoff", Value: d.Backoff},
		{Path: "expiresAt", Value: d.Expires}, {Path: "expireAt", Value: d.ExpireAt},
	})
	if status.Code(err) == codes.NotFound {
		return ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("renew pacing lease %s of %s/%s: %w", l.Instance, tenant, channel, err)
	}
	return nil
}

// Claim reads the channel's pacing document and its leases, then commits
// in one atomic batch: the pacing document updated on condition that it
// has not changed since it was read, the caller's lease, and the deletion
// of each lease decide drops on condition that it has not changed either.
// Every Claim updates the pacing document, so two Claims that read the same
// state cannot both commit: the second fails its precondition and reads
// again. Renew and Release may come in between; they never grow a share,
// and a renewal of a lease being dropped fails the drop's precondition.
// Plain reads and a conditioned batch avoid transactions, whose locks
// deadlock the emulator when several instances read all the leases and
// each write their own.
func (s *FirestoreLeases) Claim(ctx context.Context, tenant, channel string, decide func([]Lease) (Lease, []string)) (Lease, error) {
	var last error
	for attempt := 0; attempt < claimAttempts; attempt++ {
		if attempt > 0 {
			// Apart, so that instances that collided do not collide again.
			t := time.NewTimer(rand.N(time.Duration(attempt) * 20 * time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return Lease{}, fmt.Errorf("claim pacing lease of %s/%s: %w", tenant, channel, ctx.Err())
			case <-t.C:
			}
		}
		mine, err := s.claimOnce(ctx, tenant, channel, decide)
		if err == nil {
			return mine, nil
		}
		if !lostRace(err) {
			return Lease{}, fmt.Errorf("claim pacing lease of %s/%s: %w", tenant, channel, err)
		}
		last = err
	}
	return Lease{}, fmt.Errorf("claim pacing lease of %s/%s: other instances claimed first %d times: %w", tenant, channel, claimAttempts, last)
}

func (s *FirestoreLeases) claimOnce(ctx context.Context, tenant, channel string, decide func([]Lease) (Lease, []string)) (Lease, error) {
	ch := s.channelDoc(tenant, channel)
	chSnap, err := ch.Get(ctx)
	if err != nil && status.Code(err) != codes.NotFound {
		return Lease{}, err
	}
	snaps, err := s.leases(tenant, channel).Documents(ctx).GetAll()
	if err != nil {
		return Lease{}, err
	}
	ls, err := decode(snaps)
	if err != nil {
		return Lease{}, err
	}
	mine, drop := decide(ls)
	if mine.Instance == "" {
		return Lease{}, errors.New("a lease needs its instance")
	}
	b := s.fs.Batch() //nolint:staticcheck // one-RPC atomic write, conditioned by preconditions
	if chSnap != nil && chSnap.Exists() {
		b.Update(ch, []firestore.Update{{Path: "claims", Value: firestore.Increment(1)}}, firestore.LastUpdateTime(chSnap.UpdateTime))
	} else {
		b.Create(ch, map[string]any{"claims": 1})
	}
	b.Set(s.leases(tenant, channel).Doc(mine.Instance), encode(mine))
	for _, id := range drop {
		for _, snap := range snaps {
			if snap.Ref.ID == id {
				b.Delete(snap.Ref, firestore.LastUpdateTime(snap.UpdateTime))
			}
		}
	}
	if _, err := b.Commit(ctx); err != nil {
		return Lease{}, err
	}
	return mine, nil
}

// lostRace says a Claim's commit failed because another instance wrote
// first: the pacing document or a dropped lease changed, or another
// instance created the pacing document.
func lostRace(err error) bool {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound, codes.Aborted:
		return true
	}
	return false
}

// Release deletes the lease document.
func (s *FirestoreLeases) Release(ctx context.Context, tenant, channel, instance string) error {
	if _, err := s.leases(tenant, channel).Doc(instance).Delete(ctx); err != nil {
		return fmt.Errorf("release pacing lease %s of %s/%s: %w", instance, tenant, channel, err)
	}
	return nil
}
