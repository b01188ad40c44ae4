package indexes_test

import (
	"context"
	"net"
	"os"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/templategw/templategw/emulator"
	"github.com/templategw/templategw/internal/indexes"
)

// firestoreEmulator makes FIRESTORE_EMULATOR_HOST point at an emulator
// for t, starting one unless the variable already names one. Only this
// file's tests pay for it: the package's unit tests need no emulator.
func firestoreEmulator(t *testing.T) {
	t.Helper()
	if os.Getenv("FIRESTORE_EMULATOR_HOST") != "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := emulator.StartFirestore(ctx, emulator.Options{})
	if err != nil {
		t.Fatalf("start the Firestore emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stop the Firestore emulator: %v", err)
		}
	})
	t.Setenv("FIRESTORE_EMULATOR_HOST", e.Host)
}

func TestRecorderSeesEmulatorQueries(t *testing.T) {
	firestoreEmulator(t)
	ctx := context.Background()
	var rec indexes.Recorder
	opts, err := rec.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	fs, err := firestore.NewClient(ctx, "t-indexes-recorder", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()

	coll := fs.Collection("tenants").Doc("t1").Collection("messages")
	if _, err := coll.Doc("m1").Set(ctx, map[string]any{"status": "sent", "createdAt": time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, status := range []string{"sent", "failed"} { // one shape, two values
		docs, err := coll.Where("status", "==", status).OrderBy("createdAt", firestore.Desc).Limit(10).Documents(ctx).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		if status == "sent" && len(docs) != 1 {
			t.Fatalf("the query found %d documents, want 1: it did not really run", len(docs))
		}
	}
	sent := coll.Where("status", "==", "sent")
	if _, err := sent.NewAggregationQuery().WithCount("n").Get(ctx); err != nil {
		t.Fatal(err)
	}

	got := rec.Queries()
	if len(got) != 2 {
		t.Fatalf("recorded %d query shapes, want 2 (the query and its count): %v", len(got), got)
	}
	var needs []indexes.Index
	for _, q := range got {
		idx, composite := indexes.Need(q)
		if composite {
			needs = append(needs, idx)
		}
	}
	want := []indexes.Index{{Collection: "messages", Equalities: 1, Fields: []indexes.Field{
		{Path: "status", Order: indexes.Ascending},
		{Path: "createdAt", Order: indexes.Descending},
		{Path: indexes.DocumentID, Order: indexes.Descending},
	}}}
	if !reflect.DeepEqual(needs, want) {
		t.Errorf("composite indexes needed = %v, want %v", needs, want)
	}
}

// fakeFirestore answers every query with no documents.
type fakeFirestore struct {
	firestorepb.UnimplementedFirestoreServer
}

func (fakeFirestore) RunQuery(*firestorepb.RunQueryRequest, firestorepb.Firestore_RunQueryServer) error {
	return nil
}

// TestRecorderChainsOutsideTheEmulator covers the path a client takes
// against Google's service, where the interceptor joins the client's own
// dial options: here against a fake server, since the network is closed.
func TestRecorderChainsOutsideTheEmulator(t *testing.T) {
	t.Setenv("FIRESTORE_EMULATOR_HOST", "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	firestorepb.RegisterFirestoreServer(srv, fakeFirestore{})
	go srv.Serve(l)
	defer srv.Stop()

	var rec indexes.Recorder
	opts, err := rec.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, option.WithEndpoint(l.Addr().String()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, "p", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if _, err := fs.Collection("batches").Where("open", "==", true).OrderBy("createdAt", firestore.Asc).Documents(ctx).GetAll(); err != nil {
		t.Fatal(err)
	}
	got := rec.Queries()
	if len(got) != 1 || got[0].GetFrom()[0].GetCollectionId() != "batches" {
		t.Fatalf("recorded %v, want the batches query", got)
	}
}
