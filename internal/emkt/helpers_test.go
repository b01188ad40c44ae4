package emkt_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"github.com/templategw/templategw/internal/accept"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/templategw/templategw/emulator/emulatortest"
	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/dispatch"
	"github.com/templategw/templategw/internal/emkt"
	"github.com/templategw/templategw/internal/queue"
	"github.com/templategw/templategw/internal/secret"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// gateway is the emkt function, the fan-out worker and dispatch of one
// test, wired as internal/app would.
type gateway struct {
	e       *apptest.Env
	batches *batch.Service
	h       http.Handler
}

// newGateway builds the emkt function on the emulators. With lanes > 0,
// the fan-out worker and dispatch run behind real emulator push
// subscriptions, against the sandbox, over that many topics each (see
// lanes).
func newGateway(t testing.TB, lanes int, opt batch.Options) *gateway {
	t.Helper()
	e := apptest.New(t)
	g := &gateway{e: e}
	var fanout batch.Publisher = e.TopicPublisher(t, batch.DefaultTopic)
	if lanes > 0 {
		d := dispatch.New(e.Store, e.Catalog, e.Provider, secret.Env{}, dispatch.Options{Lease: time.Minute, MaxAttempts: 5})
		jobs := newLanes(t, e, apptest.Topic, lanes, d.HandleEvent)
		w := batch.NewWorker(e.Store, jobs, nil)
		fanout = newLanes(t, e, batch.DefaultTopic, lanes, w.HandleEvent)
	}
	g.batches = batch.New(accept.New(e.Catalog, e.Store, e.Publisher, accept.Options{}), e.Store, fanout, opt)
	g.h = emkt.New(e.Catalog, g.batches).Handler()
	return g
}

// roundRobin publishes over several topics (lanes), each feeding fn through
// its own emulator push subscription. The Pub/Sub emulator pushes at most
// two messages at a time per subscription, which Pub/Sub does not: on one
// topic, a 100,000-message test would measure that limit rather than the
// gateway. Every message still goes through a real push to the real
// function.
type roundRobin struct {
	pubs []*queue.Publisher
	next atomic.Uint64
}

func newLanes(t testing.TB, e *apptest.Env, base string, n int, fn apptest.EventFunc) *roundRobin {
	t.Helper()
	l := &roundRobin{}
	for i := range n {
		topic := base
		if i > 0 {
			topic = fmt.Sprintf("%s-%d", base, i)
		}
		e.Push(t, topic, fn)
		l.pubs = append(l.pubs, e.TopicPublisher(t, topic))
	}
	return l
}

func (l *roundRobin) pick() *queue.Publisher { return l.pubs[l.next.Add(1)%uint64(len(l.pubs))] }

func (l *roundRobin) PublishJSON(ctx context.Context, v any, attrs map[string]string) error {
	return l.pick().PublishJSON(ctx, v, attrs)
}

func (l *roundRobin) Publish(ctx context.Context, j queue.Job) error { return l.pick().Publish(ctx, j) }

// post sends body to the emkt function with the demo token; header pairs
// follow the body.
func (g *gateway) post(t testing.TB, body io.Reader, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return call(t, g.h, http.MethodPost, "/", apptest.Token, body, header...)
}

// call is one request to h; header pairs follow the body.
func call(t testing.TB, h http.Handler, method, path, token string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, body)
	r.Header.Set("Content-Type", "application/xml")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// contact is one <contact> of a 50.01.
type contact struct {
	phone  string
	params []string
}

// sendXML is a 50.01 body; id is the identificador ("" leaves it out).
func sendXML(id, template string, contacts ...contact) string {
	var b strings.Builder
	b.WriteString("<main>\n  <emkt trans=\"50.01\">\n  <remetente>" + demo.SenderCode + "</remetente>\n")
	if id != "" {
		b.WriteString("  <identificador>" + id + "</identificador>\n")
	}
	b.WriteString("  <namespace>" + demo.Namespace + "</namespace>\n  <element_name>" + template + "</element_name>\n")
	for _, c := range contacts {
		b.WriteString("  <contact>\n      <phone>" + c.phone + "</phone>\n")
		if len(c.params) > 0 {
			b.WriteString("      <component type=\"body\">\n")
			for _, p := range c.params {
				b.WriteString("      <parameter type=\"text\">" + p + "</parameter>\n")
			}
			b.WriteString("      </component>\n")
		}
		b.WriteString("   </contact>\n")
	}
	b.WriteString("  </emkt>\n</main>\n")
	return b.String()
}

func statusXML(code string) string {
	return "<main>\n   <emkt trans=\"50.02\">\n     <codigo>" + code + "</codigo>\n  </emkt>\n</main>"
}

// answer is an emkt answer.
type answer struct {
	XMLName xml.Name `xml:"main"`
	Emkt    struct {
		Trans  string `xml:"trans,attr"`
		Key    string `xml:"KEY,attr"`
		Return string `xml:"return"`
		Erro   string `xml:"erro"`
		Items  []struct {
			Telefone string `xml:"telefone"`
			Status   string `xml:"status"`
			Motivo   string `xml:"motivo"`
		} `xml:"item"`
	} `xml:"emkt"`
}

var keyShape = regexp.MustCompile(`^[0-9a-f]{28}$`)

func decode(t testing.TB, w *httptest.ResponseRecorder) answer {
	t.Helper()
	var a answer
	if err := xml.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %q is not emkt XML: %v", w.Body.String(), err)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("Content-Type = %q, want application/xml", ct)
	}
	if !keyShape.MatchString(a.Emkt.Key) {
		t.Errorf("KEY = %q, want 28 hex digits", a.Emkt.Key)
	}
	return a
}

// wantCode checks a 50.01 answer and returns the batch code.
func wantCode(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", w.Code, w.Body.String())
	}
	a := decode(t, w)
	if a.Emkt.Trans != "50.01" || a.Emkt.Return == "" || a.Emkt.Erro != "" {
		t.Fatalf("answer %s, want trans 50.01 and a <return>", w.Body.String())
	}
	return a.Emkt.Return
}

// wantError checks an error answer: code and a message containing want.
func wantError(t testing.TB, w *httptest.ResponseRecorder, code int, want string) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d; body %s", w.Code, code, w.Body.String())
	}
	a := decode(t, w)
	if !strings.Contains(a.Emkt.Erro, want) || a.Emkt.Return != "" {
		t.Fatalf("erro %q, want it to contain %q; body %s", a.Emkt.Erro, want, w.Body.String())
	}
}

// count counts the documents of a collection group under the tenant.
func count(t testing.TB, g *gateway, coll string) int {
	t.Helper()
	docs, err := g.e.Firestore.CollectionGroup(coll).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

// generated streams a 50.01 of n contacts through a pipe, as a client
// uploading a large batch would: the body never exists whole.
func generated(id string, n int) io.Reader {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(demo.EmktBatch(pw, id, n, bulkPhone)) }()
	return pr
}

// bulkPhone is the national number (DDD 11, a mobile) of generated
// contact i. Its last four digits stay clear of the sandbox's
// failure-injection suffixes (0001 to 0009).
func bulkPhone(i int) string { return fmt.Sprintf("119%04d%04d", i/9000, 1000+i%9000) }
