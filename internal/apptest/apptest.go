// Package apptest builds, for one test, the gateway's real parts on the
// emulators: its own project (so no test sees another's data), Firestore
// and Pub/Sub clients, the dispatch topic, the demo tenant seeded, and the
// sandbox provider over real HTTP. Packages that use it call
// emulatortest.Main from TestMain.
package apptest

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/provider"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/sandbox"
	"github.com/templategw/templategw/internal/store"
)

// Token is the demo tenant's bearer token in tests.
const Token = "test-token"

// Env is one test's gateway parts.
type Env struct {
	Project    string
	Tenant     string
	Firestore  *firestore.Client
	PubSub     *pubsub.Client
	Store      *store.Store
	Catalog    *catalog.Catalog
	Publisher  *queue.Publisher
	Sandbox    *sandbox.Sandbox
	SandboxURL string
	Provider   *provider.Client
}

// Topic is the dispatch topic each test project gets.
const Topic = "dispatch"

// New builds a fresh Env for t; everything is closed when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	ctx := context.Background()
	e := &Env{Project: emulatortest.ProjectID(t), Tenant: demo.TenantID}
	var err error
	if e.Firestore, err = firestore.NewClient(ctx, e.Project, emulatortest.FirestoreOptions(t)...); err != nil {
		t.Fatalf("firestore client: %v", err)
	}
	t.Cleanup(func() { e.Firestore.Close() })
	if e.PubSub, err = pubsub.NewClient(ctx, e.Project); err != nil {
		t.Fatalf("pubsub client: %v", err)
	}
	t.Cleanup(func() { e.PubSub.Close() })
	if err := queue.EnsureTopic(ctx, e.PubSub, Topic); err != nil {
		t.Fatal(err)
	}
	e.Publisher = queue.NewPublisher(e.PubSub, Topic)
	t.Cleanup(e.Publisher.Stop)
	e.Store = store.New(e.Firestore)
	e.Catalog = catalog.New(e.Store, time.Minute)
	if err := demo.Seed(ctx, e.Store, e.Tenant, Token); err != nil {
		t.Fatal(err)
	}
	e.Sandbox = sandbox.New(sandbox.Default())
	srv := httptest.NewServer(e.Sandbox.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(e.Sandbox.Close) // runs first: no webhook outlives the test
	e.SandboxURL = srv.URL
	e.Provider = provider.New(provider.Config{BaseURL: srv.URL, Version: "v23.0", Timeout: 2 * time.Second}, nil)
	return e
}

// WaitStatus polls until the tenant's message id is in state want, and
// fails t after 30 s with what it was.
func (e *Env) WaitStatus(t testing.TB, id string, want domain.Status) domain.Message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := e.Store.Message(context.Background(), e.Tenant, id)
		if err == nil && m.Status == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s is %s (%v), want %s; the sandbox posted %d webhooks", id, m.Status, err, want, len(e.Sandbox.Webhooks()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Reload returns a copy of e with a fresh catalog, as another instance of
// a function would see the data: nothing cached.
func Reload(t testing.TB, e *Env) *Env {
	t.Helper()
	c := *e
	c.Catalog = catalog.New(e.Store, time.Minute)
	return &c
}

// init sets the demo channel's access token where its secret reference
// points, once for the whole test binary.
func init() {
	if os.Getenv(demo.AccessTokenEnv) == "" {
		os.Setenv(demo.AccessTokenEnv, demo.AccessToken)
	}
}
