package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/templategw/templategw/emulator"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/catalog"
	"github.com/templategw/templategw/internal/console"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// atSize is how many messages the size test gives its tenant.
const atSize = 100_000

// TestPagesAtSize seeds 100,000 messages (and 5,000 contacts) in one
// tenant and proves no page reads more than a page's worth of documents,
// whatever the size: each page is served once through a Firestore client
// that counts the documents it receives. It then times every page
// (docs/console.md records the figures) next to the Firestore emulator's
// own time for one count aggregation on the same collection: the emulator
// scans a collection for every query, where Firestore reads an index.
func TestPagesAtSize(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 messages: run without -short")
	}
	s := newStack(t)
	ctx := context.Background()
	code := s.broadcast(t, []string{"5511987650901", "5511987650902"}, time.Time{})
	start := time.Now()
	seedMessages(t, s.Firestore, s.Tenant, atSize)
	t.Logf("seeded %d messages in %s", atSize, time.Since(start).Round(time.Second))

	c := browser(t)
	s.signIn(t, c, apptest.Token)
	pages := []string{
		"", "messages", "messages?status=failed", "messages?phone=5511900000042", "messages?template=welcome&status=read",
		"messages?from=" + time.Now().UTC().AddDate(0, 0, -3).Format("2006-01-02"),
		"messages/" + seededID(7), "contacts", "contacts/5511900000042", "broadcasts", "broadcasts/" + code,
		"templates", "channels",
	}

	// Documents read per page, through a console on a counting client.
	var docs atomic.Int64
	counted := countingConsole(t, s.Project, &docs)
	u, err := url.Parse(s.console)
	if err != nil {
		t.Fatal(err)
	}
	cookies := c.Jar.Cookies(u)
	for _, p := range pages {
		r := httptest.NewRequest(http.MethodGet, "/"+p, nil)
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		docs.Store(0)
		counted.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("/%s: %d", p, w.Code)
		}
		if n := docs.Load(); n > maxDocsPerPage {
			t.Errorf("/%s read %d documents of %d messages: a page reads at most %d", p, n, atSize, maxDocsPerPage)
		} else {
			t.Logf("/%s read %d documents", p, n)
		}
	}

	// Timings through the HTTP server, and the emulator's baseline.
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("CONSOLE_SIZE_RUNS")); err == nil && v > 0 {
		runs = v
	}
	base := make([]time.Duration, runs)
	q := s.Firestore.Collection("tenants").Doc(s.Tenant).Collection("messages").Where("status", "==", "read")
	for i := range base {
		at := time.Now()
		if _, err := q.NewAggregationQuery().WithCount("n").Get(ctx); err != nil {
			t.Fatal(err)
		}
		base[i] = time.Since(at)
	}
	t.Logf("%-60s %10s %10s", "page ("+strconv.Itoa(runs)+" runs)", "p50", "p95")
	t.Logf("%-60s %10s %10s", "emulator: one count aggregation", ms(pct(base, 50)), ms(pct(base, 95)))
	for _, p := range pages {
		took := make([]time.Duration, runs)
		for i := range took {
			at := time.Now()
			code, _, _ := get(t, c, s.console+p)
			took[i] = time.Since(at)
			if code != http.StatusOK {
				t.Fatalf("/%s: %d", p, code)
			}
		}
		t.Logf("%-60s %10s %10s", "/"+p, ms(pct(took, 50)), ms(pct(took, 95)))
	}
}

// maxDocsPerPage bounds what one page may read: the largest is the
// messages page (a page of 50 and the first 200 templates for the form's
// list) and the overview (a sample of 200 failures).
const maxDocsPerPage = 400

// seedMessages writes n messages of tenant with a bulk writer: 5,000
// phones with a contact each, every state, three templates, failures
// with Meta's codes, created over the last 60 days.
func seedMessages(t *testing.T, fs *firestore.Client, tenant string, n int) {
	t.Helper()
	ctx := context.Background()
	tenantRef := fs.Collection("tenants").Doc(tenant)
	bw := fs.BulkWriter(ctx)
	now := time.Now().UTC()
	states := []domain.Status{domain.StatusRead, domain.StatusRead, domain.StatusRead, domain.StatusDelivered, domain.StatusSent,
		domain.StatusPending, domain.StatusFailed, domain.StatusUnknown, domain.StatusAccepted, domain.StatusHeld}
	codes := []domain.MessageError{{Code: 131026, Title: "Message undeliverable"}, {Code: 131049, Title: "Meta chose not to deliver"}, {Code: 132001, Title: "Template does not exist"}}
	templates := []string{"welcome", "order_update", "promo"}
	for i := range n {
		phone := fmt.Sprintf("55119%08d", i%5000)
		at := now.Add(-time.Duration(i) * 60 * 24 * time.Hour / time.Duration(n))
		m := domain.NewMessage(seededID(i), tenant, "main", phone, templates[i%len(templates)], domain.TemplateMessage{}, at)
		m.Status = states[i%len(states)]
		m.History = append(m.History, domain.HistoryEntry{Status: m.Status, At: at.Add(time.Second)})
		m.Attempts = 1
		if m.Status == domain.StatusFailed {
			e := codes[(i/len(states))%len(codes)]
			m.Error = &e
		}
		if _, err := bw.Create(tenantRef.Collection("messages").Doc(m.ID), m); err != nil {
			t.Fatal(err)
		}
		if i < 5000 {
			if _, err := bw.Set(tenantRef.Collection("contacts").Doc(phone), domain.Contact{Phone: phone, Name: "Contact " + strconv.Itoa(i), UpdatedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
	}
	bw.End()
}

// seededID is the id of seeded message i: random-looking like NewID's,
// and findable again.
func seededID(i int) string { return batch.MessageID("console-size", i) }

// countingConsole is a console on a Firestore client of its own that
// adds every document Firestore sends it to n.
func countingConsole(t *testing.T, project string, n *atomic.Int64) http.Handler {
	t.Helper()
	conn, err := emulator.DialFirestore(os.Getenv("FIRESTORE_EMULATOR_HOST"),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			return &countingStream{ClientStream: s, n: n}, err
		}),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if _, ok := reply.(*firestorepb.Document); ok && err == nil {
				n.Add(1)
			}
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := firestore.NewClient(context.Background(), project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	st := store.New(fs)
	b := batch.New(nil, st, nil, batch.Options{})
	c, err := console.New(console.Config{SessionKey: sessionKey, SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour},
		console.Deps{Auth: catalog.New(st, time.Minute), Store: st, Broadcasts: b})
	if err != nil {
		t.Fatal(err)
	}
	return c.Handler()
}

// countingStream counts the documents of query and batch-get answers.
type countingStream struct {
	grpc.ClientStream
	n *atomic.Int64
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		return err
	}
	switch r := m.(type) {
	case *firestorepb.RunQueryResponse:
		if r.GetDocument() != nil {
			s.n.Add(1)
		}
	case *firestorepb.BatchGetDocumentsResponse:
		if r.GetFound() != nil {
			s.n.Add(1)
		}
	}
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
