// Package security_test proves, on the emulators and over every route of
// every HTTP function, what DESIGN §7.3 and the docs promise an attacker
// cannot do: reach another tenant's data, act without a credential, forge
// Meta's or the gateway's signatures, aim callbacks at the gateway's own
// network, or make a handler read an unbounded body.
package security_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/templategw/templategw/emulator"
	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/atom"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/batches"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/cloudchat"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/emkt"
	"github.com/templategw/templategw/internal/messages"
	"github.com/templategw/templategw/internal/store"
	"github.com/templategw/templategw/internal/wati"
	"github.com/templategw/templategw/internal/webhook"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// The whatsapp function's two shared secrets with Meta.
const (
	appSecret   = "security-app-secret"
	verifyToken = "security-verify-token"
)

// The HTTP functions, named as function.go registers them.
const (
	fnTemplates = "templates"
	fnMessages  = "messages"
	fnBatches   = "batches"
	fnCloudChat = "cloudchat"
	fnEmkt      = "emkt"
	fnWati      = "wati"
	fnWhatsApp  = "whatsapp"
)

// gateway is the six HTTP functions built as internal/app builds them, on
// one test's emulator project, with a Firestore client of their own whose
// every RPC the recorder sees. The embedded Env's client is not recorded:
// tests seed and inspect through it.
type gateway struct {
	*apptest.Env
	rec      *recorder
	st       *store.Store // the handlers' store, recorded
	cat      *catalog.Catalog
	handlers map[string]http.Handler
}

// gatewayOptions tune the functions for a test.
type gatewayOptions struct {
	batch batch.Options
}

func newGateway(t *testing.T, opt gatewayOptions) *gateway {
	t.Helper()
	e := apptest.New(t)
	g := &gateway{Env: e, rec: &recorder{}}
	g.st = store.New(recordedFirestore(t, e.Project, g.rec))
	g.cat = catalog.New(g.st, time.Minute)
	// No send waits for dispatch here: nothing dispatches, and the
	// answers under test come before any wait.
	send := accept.New(g.cat, g.st, e.Publisher, accept.Options{Wait: -1})
	bulk := batch.New(accept.New(g.cat, g.st, e.Publisher, accept.Options{}), g.st, e.TopicPublisher(t, batch.DefaultTopic), opt.batch)
	g.handlers = map[string]http.Handler{
		fnTemplates: atom.New(g.cat, g.st, send).Handler(),
		fnMessages:  messages.New(g.cat, g.st).Handler(),
		fnBatches:   batches.New(g.cat, bulk).Handler(),
		fnCloudChat: cloudchat.New(g.cat, send).Handler(),
		fnEmkt:      emkt.New(g.cat, bulk).Handler(),
		fnWati:      wati.New(g.cat, g.st, send, bulk, wati.Options{}).Handler(),
		fnWhatsApp:  webhook.New(webhook.Config{VerifyToken: verifyToken, AppSecret: appSecret}, g.cat, g.st, nil).Handler(),
	}
	return g
}

// call is one request to a function, as the front door hands it over:
// the path is the function's own, query included.
type call struct {
	fn     string
	method string
	path   string
	body   string
	header []string // name, value pairs
}

func (c call) String() string { return c.fn + " " + c.method + " " + c.path }

// serve runs c against its function with the recorder armed, and returns
// the answer and what the handler asked Firestore.
func (g *gateway) serve(t *testing.T, c call) (*httptest.ResponseRecorder, []rpc) {
	t.Helper()
	r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	for i := 0; i+1 < len(c.header); i += 2 {
		r.Header.Set(c.header[i], c.header[i+1])
	}
	return g.serveRequest(t, c.fn, r)
}

func (g *gateway) serveRequest(t *testing.T, fn string, r *http.Request) (*httptest.ResponseRecorder, []rpc) {
	t.Helper()
	h := g.handlers[fn]
	if h == nil {
		t.Fatalf("no function %q", fn)
	}
	w := httptest.NewRecorder()
	g.rec.start()
	h.ServeHTTP(w, r)
	return w, g.rec.stop()
}

// bearer is an Authorization header pair.
func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// rpc is one request a handler sent to Firestore: the method and the
// request as protojson, which holds every document name and query parent
// it names.
type rpc struct {
	method string
	req    string
	writes int // documents a Commit, BatchWrite or Write changes
}

// recorder records the Firestore RPCs made while it is armed. Handlers
// may run goroutines (batch streaming), so it is safe for concurrent use.
type recorder struct {
	mu    sync.Mutex
	armed bool
	rpcs  []rpc
}

func (r *recorder) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed, r.rpcs = true, nil
}

func (r *recorder) stop() []rpc {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = false
	return r.rpcs
}

func (r *recorder) add(method string, m any) {
	pm, ok := m.(proto.Message)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.armed {
		return
	}
	text, _ := protojson.Marshal(pm)
	x := rpc{method: method[strings.LastIndex(method, "/")+1:], req: string(text)}
	switch v := pm.(type) {
	case *firestorepb.CommitRequest:
		x.writes = len(v.GetWrites())
	case *firestorepb.BatchWriteRequest:
		x.writes = len(v.GetWrites())
	case *firestorepb.WriteRequest:
		x.writes = len(v.GetWrites())
	case *firestorepb.CreateDocumentRequest, *firestorepb.UpdateDocumentRequest, *firestorepb.DeleteDocumentRequest:
		x.writes = 1
	}
	r.rpcs = append(r.rpcs, x)
}

func (r *recorder) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	r.add(method, req)
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (r *recorder) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &recordedStream{ClientStream: cs, rec: r, method: method}, nil
}

// recordedStream records what a streaming RPC sends (BatchGetDocuments,
// RunQuery, Listen…).
type recordedStream struct {
	grpc.ClientStream
	rec    *recorder
	method string
}

func (s *recordedStream) SendMsg(m any) error {
	s.rec.add(s.method, m)
	return s.ClientStream.SendMsg(m)
}

// recordedFirestore is a Firestore client on the emulator whose RPCs go
// through rec.
func recordedFirestore(t *testing.T, project string, rec *recorder) *firestore.Client {
	t.Helper()
	conn, err := emulator.DialFirestore(os.Getenv("FIRESTORE_EMULATOR_HOST"),
		grpc.WithChainUnaryInterceptor(rec.unary),
		grpc.WithChainStreamInterceptor(rec.stream),
	)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := firestore.NewClient(context.Background(), project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close(); conn.Close() })
	return fs
}

// tenantPaths matches, in an RPC, a document or query parent under
// tenants/{tenant}.
func tenantPaths(tenant string) *regexp.Regexp {
	return regexp.MustCompile(`documents/tenants/` + regexp.QuoteMeta(tenant) + `(/|"|$)`)
}

// touching returns the RPCs that name a document or collection of
// tenant, or that query across tenants (a collection-group query).
func touching(rpcs []rpc, tenant string) []rpc {
	re := tenantPaths(tenant)
	var out []rpc
	for _, x := range rpcs {
		if re.MatchString(x.req) || strings.Contains(x.req, `"allDescendants":true`) {
			out = append(out, x)
		}
	}
	return out
}

// writesIn counts the documents the RPCs change.
func writesIn(rpcs []rpc) int {
	n := 0
	for _, x := range rpcs {
		n += x.writes
	}
	return n
}

func describe(rpcs []rpc) string {
	var b strings.Builder
	for _, x := range rpcs {
		fmt.Fprintf(&b, "\n  %s %.300s", x.method, x.req)
	}
	return b.String()
}

// snapshot is every document under root (the whole database when root
// is nil), missing documents with subcollections included, each with its
// update time and data: any write shows as a difference. Paths skip
// accepts (a tenant the test lets change) are left out, subtrees
// included. Subtrees are walked concurrently: listing a document's
// subcollections is one RPC per document.
func snapshot(t *testing.T, fs *firestore.Client, root *firestore.DocumentRef, skip func(path string) bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	var (
		mu   sync.Mutex
		out  = map[string]string{}
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	var walkColls func(it *firestore.CollectionIterator)
	walkDocs := func(refs []*firestore.DocumentRef) {
		var keep []*firestore.DocumentRef
		for _, ref := range refs {
			if skip == nil || !skip(ref.Path) {
				keep = append(keep, ref)
			}
		}
		if len(keep) == 0 {
			return
		}
		// GetAll answers missing documents (those that only hold
		// subcollections) as snapshots that do not exist.
		snaps, err := fs.GetAll(ctx, keep)
		if err != nil {
			fail(err)
			return
		}
		mu.Lock()
		for i, snap := range snaps {
			if snap.Exists() {
				out[strings.TrimPrefix(keep[i].Path, "projects/")] = fmt.Sprintf("%s %v", snap.UpdateTime.Format(time.RFC3339Nano), snap.Data())
			}
		}
		mu.Unlock()
		for _, ref := range keep {
			wg.Go(func() { walkColls(ref.Collections(ctx)) })
		}
	}
	walkColls = func(it *firestore.CollectionIterator) {
		colls, err := it.GetAll()
		if err != nil {
			fail(err)
			return
		}
		for _, c := range colls {
			refs, err := c.DocumentRefs(ctx).GetAll()
			if err != nil {
				fail(fmt.Errorf("%s: %w", c.Path, err))
				return
			}
			walkDocs(refs)
		}
	}
	if root == nil {
		walkColls(fs.Collections(ctx))
	} else {
		walkDocs([]*firestore.DocumentRef{root})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("snapshot: %v", errs)
	}
	return out
}

// database is a snapshot of the whole database. It must hold the demo's
// channel: an empty snapshot would make every comparison pass.
func (g *gateway) database(t *testing.T) map[string]string {
	t.Helper()
	all := snapshot(t, g.Firestore, nil, nil)
	if _, ok := all[strings.TrimPrefix(g.Firestore.Collection("tenants").Doc(demo.TenantID).Collection("channels").Doc(demo.ChannelID).Path, "projects/")]; !ok {
		t.Fatalf("the database snapshot misses the demo's channel: %d documents", len(all))
	}
	return all
}

// diff describes how two snapshots differ, "" when they do not.
func diff(before, after map[string]string) string {
	var d []string
	for k, v := range before {
		switch w, ok := after[k]; {
		case !ok:
			d = append(d, "deleted "+k)
		case w != v:
			d = append(d, "changed "+k+": "+v+" → "+w)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			d = append(d, "created "+k)
		}
	}
	slices.Sort(d)
	return strings.Join(d, "\n  ")
}

// countDocs counts the documents of a collection; 0 when it is empty or
// absent.
func countDocs(t *testing.T, c *firestore.CollectionRef) int {
	t.Helper()
	it := c.Documents(context.Background())
	defer it.Stop()
	n := 0
	for {
		_, err := it.Next()
		if err == iterator.Done {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}
