package bench_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/bench"
)

// TestMain runs the life phase's raw-client replay when the benchmark
// starts this binary as one (bench.MaybeReplay), the tests otherwise.
func TestMain(m *testing.M) {
	bench.MaybeReplay()
	emulatortest.Main(m)
}

// proxied starts a proxy in front of the package's Firestore emulator and
// a client of a fresh project through it.
func proxied(t *testing.T) (*bench.Proxy, *firestore.Client) {
	t.Helper()
	p, err := bench.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	upstream, _ := emulatortest.Hosts(t)
	p.SetUpstream(upstream)
	fs, err := bench.FirestoreAt(context.Background(), emulatortest.ProjectID(t), p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return p, fs
}

// TestProxyRelaysListeners: the gateway waits for outcomes with Firestore
// listeners, a bidirectional stream the proxy must relay both ways.
func TestProxyRelaysListeners(t *testing.T) {
	_, fs := proxied(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref := fs.Collection("things").Doc("watched")
	it := ref.Snapshots(ctx)
	defer it.Stop()
	if snap, err := it.Next(); err != nil || snap.Exists() {
		t.Fatalf("first snapshot: exists=%v err=%v", snap != nil && snap.Exists(), err)
	}
	if _, err := ref.Set(ctx, map[string]any{"status": "pending"}); err != nil {
		t.Fatal(err)
	}
	snap, err := it.Next()
	if err != nil || snap.Data()["status"] != "pending" {
		t.Fatalf("second snapshot: %v %v", snap, err)
	}
}

// TestProxyBillsAsFirestoreDoes: the proxy's billed reads, writes and
// deletes follow Firestore's rules for each kind of call, and its commits
// count each write batch and transaction once, however many calls it
// takes, and reads not at all.
func TestProxyBillsAsFirestoreDoes(t *testing.T) {
	p, fs := proxied(t)
	ctx := context.Background()
	coll := fs.Collection("things")
	step := func(what string, commits int64, want bench.Billing, do func() error) {
		t.Helper()
		c0, before := p.Commits(), p.Billed()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := p.Billed().Sub(before); got != want {
			t.Errorf("%s billed %+v, want %+v", what, got, want)
		}
		if got := p.Commits() - c0; got != commits {
			t.Errorf("%s counted %d commits (%v), want %d", what, got, p.Counts(), commits)
		}
	}
	a, b := coll.Doc("a"), coll.Doc("b")
	step("a create", 1, bench.Billing{Writes: 1}, func() error { _, err := a.Create(ctx, map[string]any{"n": 1}); return err })
	step("a two-document write batch", 1, bench.Billing{Writes: 2}, func() error {
		batch := fs.Batch() //nolint:staticcheck // the gateway's accept commits this way
		batch.Set(a, map[string]any{"n": 1})
		batch.Create(coll.Doc("c"), map[string]any{"n": 1})
		_, err := batch.Commit(ctx)
		return err
	})
	step("a read", 0, bench.Billing{Reads: 1}, func() error { _, err := a.Get(ctx); return err })
	step("a read of a missing document", 0, bench.Billing{Reads: 1}, func() error {
		_, err := b.Get(ctx)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	})
	step("a query that matches nothing", 0, bench.Billing{Reads: 1}, func() error {
		_, err := coll.Where("n", "==", 99).Documents(ctx).GetAll()
		return err
	})
	step("a query that matches one", 0, bench.Billing{Reads: 1}, func() error {
		_, err := coll.Where("n", "==", 1).Limit(1).Documents(ctx).GetAll()
		return err
	})
	step("a read-then-update transaction", 1, bench.Billing{Reads: 1, Writes: 1}, func() error {
		return fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			if _, err := tx.Get(a); err != nil {
				return err
			}
			return tx.Update(a, []firestore.Update{{Path: "n", Value: firestore.Increment(1)}})
		})
	})
	step("a conditional update that fails", 1, bench.Billing{}, func() error {
		_, err := a.Update(ctx, []firestore.Update{{Path: "n", Value: 5}}, firestore.LastUpdateTime(time.Unix(1, 0)))
		if err == nil {
			return errors.New("the precondition held")
		}
		return nil
	})
	step("a delete", 1, bench.Billing{Deletes: 1}, func() error { _, err := a.Delete(ctx); return err })
}
