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

// TestProxyCountsOneCommitPerCreate is the unit the benchmark's
// commits-per-message figure is made of: one document created is one
// Commit at the emulator's door, and reads commit nothing.
func TestProxyCountsOneCommitPerCreate(t *testing.T) {
	p, fs := proxied(t)
	ctx := context.Background()
	ref := fs.Collection("things").NewDoc()
	if _, err := ref.Create(ctx, map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if got := p.Commits(); got != 1 {
		t.Fatalf("one create counted %d commits (%v), want 1", got, p.Counts())
	}
	snap, err := ref.Get(ctx)
	if err != nil || snap.Data()["n"] != int64(1) {
		t.Fatalf("read back through the proxy: %v %v", snap.Data(), err)
	}
	if got := p.Commits(); got != 1 {
		t.Fatalf("a read counted as a commit: %v", p.Counts())
	}
}

// TestProxyCountsATransactionOnce: a read-then-update transaction is one
// commit however many calls it takes, and a write batch of several
// documents is one commit too.
func TestProxyCountsATransactionOnce(t *testing.T) {
	p, fs := proxied(t)
	ctx := context.Background()
	a, b := fs.Collection("things").Doc("a"), fs.Collection("things").Doc("b")
	batch := fs.Batch() //nolint:staticcheck // the gateway's accept commits this way
	batch.Create(a, map[string]any{"n": 1})
	batch.Create(b, map[string]any{"n": 1})
	if _, err := batch.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	before := p.Commits()
	err := fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(a)
		if err != nil {
			return err
		}
		n, _ := snap.DataAt("n")
		return tx.Update(a, []firestore.Update{{Path: "n", Value: n.(int64) + 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if before != 1 || p.Commits() != 2 {
		t.Fatalf("a two-document batch then a transaction counted %d then %d commits (%v), want 1 then 2", before, p.Commits(), p.Counts())
	}
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
// deletes follow Firestore's rules for each kind of call.
func TestProxyBillsAsFirestoreDoes(t *testing.T) {
	p, fs := proxied(t)
	ctx := context.Background()
	coll := fs.Collection("things")
	step := func(what string, want bench.Billing, do func() error) {
		t.Helper()
		before := p.Billed()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := p.Billed().Sub(before); got != want {
			t.Errorf("%s billed %+v, want %+v", what, got, want)
		}
	}
	a, b := coll.Doc("a"), coll.Doc("b")
	step("a create", bench.Billing{Writes: 1}, func() error { _, err := a.Create(ctx, map[string]any{"n": 1}); return err })
	step("a read", bench.Billing{Reads: 1}, func() error { _, err := a.Get(ctx); return err })
	step("a read of a missing document", bench.Billing{Reads: 1}, func() error {
		_, err := b.Get(ctx)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	})
	step("a query that matches nothing", bench.Billing{Reads: 1}, func() error {
		_, err := coll.Where("n", "==", 99).Documents(ctx).GetAll()
		return err
	})
	step("a query that matches one", bench.Billing{Reads: 1}, func() error {
		_, err := coll.Where("n", "==", 1).Documents(ctx).GetAll()
		return err
	})
	step("a read-then-update transaction", bench.Billing{Reads: 1, Writes: 1}, func() error {
		return fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			if _, err := tx.Get(a); err != nil {
				return err
			}
			return tx.Update(a, []firestore.Update{{Path: "n", Value: firestore.Increment(1)}})
		})
	})
	step("a conditional update that fails", bench.Billing{}, func() error {
		_, err := a.Update(ctx, []firestore.Update{{Path: "n", Value: 5}}, firestore.LastUpdateTime(time.Unix(1, 0)))
		if err == nil {
			return errors.New("the precondition held")
		}
		return nil
	})
	step("a delete", bench.Billing{Deletes: 1}, func() error { _, err := a.Delete(ctx); return err })
}
