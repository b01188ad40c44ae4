package security_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/templategw/templategw/internal/apptest"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/emkt"
	"github.com/templategw/templategw/internal/request"
	"github.com/templategw/templategw/internal/wati"
	"github.com/templategw/templategw/internal/webhook"
)

// slack is how far past a bound a handler may read: http.MaxBytesReader
// reads at most one byte past its limit, and a decoder's buffer (4 KiB
// for encoding/xml) may sit on top. Reading a body whole instead would
// go megabytes past.
const slack = 64 << 10

// counting counts the bytes read from r.
type counting struct {
	r io.Reader
	n atomic.Int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// cycle repeats a pattern forever.
type cycle struct {
	pattern string
	at      int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.pattern[c.at:])
		n += k
		c.at = (c.at + k) % len(c.pattern)
	}
	return n, nil
}

// flood is a body of prefix, then pattern repeated, size bytes in all.
func flood(prefix, pattern string, size int64) *counting {
	return &counting{r: io.MultiReader(strings.NewReader(prefix), io.LimitReader(&cycle{pattern: pattern}, size-int64(len(prefix))))}
}

// exactly is a body of prefix, pattern repeated and suffix, size bytes.
func exactly(prefix, pattern, suffix string, size int64) *counting {
	return &counting{r: io.MultiReader(strings.NewReader(prefix),
		io.LimitReader(&cycle{pattern: pattern}, size-int64(len(prefix)+len(suffix))), strings.NewReader(suffix))}
}

// bodyRequest is a request whose body is r, sent either with a declared
// Content-Length far past any bound or chunked without one: a handler
// must not trust the first nor wait for the end of the second.
func bodyRequest(method, path string, r io.Reader, header []string, chunked bool) *http.Request {
	req := httptest.NewRequest(method, path, r)
	req.ContentLength = 1 << 40
	if chunked {
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// bounded is a route with a documented body bound.
type bounded struct {
	call
	limit int64
	// prefix opens a body the route would parse; pattern fills it.
	prefix, pattern string
	// answer is a regular expression the 413's body matches.
	answer string
}

// boundedRoutes are the routes that read a body, each with its bound:
// request.MaxBody for the JSON APIs (docs/api.md, cloudchat.md,
// wati.md), wati.MaxBulkBody for sendTemplateMessages, webhook.MaxBody
// for Meta's webhook, emkt.MaxBody for the streamed XML.
func boundedRoutes() []bounded {
	tok := bearer(apptest.Token)
	wp := "/" + demo.TenantID + "/api/v1/"
	jsonPrefix := `{"template_name":"`
	watiTooLarge := `"info":"request body too large"`
	return []bounded{
		{call{fn: fnTemplates, method: http.MethodPost, path: "/", header: tok}, request.MaxBody, `{"templateId":"`, "x",
			`^\{"success":false,"message":"request body too large"\}`},
		{call{fn: fnCloudChat, method: http.MethodPost, path: cloudchatPath(demo.TenantID), header: []string{"api_access_token", apptest.Token}},
			request.MaxBody, `{"inbox_id":"`, "x", `^\{"error":"request body too large"\}`},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "sendTemplateMessage?whatsappNumber=5511987650042", header: tok}, request.MaxBody, jsonPrefix, "x", watiTooLarge},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "sendTemplateMessages", header: tok}, wati.MaxBulkBody, jsonPrefix, "x", watiTooLarge},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "sendSessionMessage/5511987650042?messageText=hi", header: tok}, request.MaxBody, `{"messageText":"`, "x",
			`"ok":false,.*` + watiTooLarge},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "addContact/5511987650042", header: tok}, request.MaxBody, `{"name":"`, "x", watiTooLarge},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "updateContactAttributes/5511987650042", header: tok}, request.MaxBody, `{"customParams":[`, `{"name":"a","value":"b"},`, watiTooLarge},
		{call{fn: fnWati, method: http.MethodPost, path: wp + "updateChatStatus", header: tok}, request.MaxBody, `{"chatStatus":"`, "x", watiTooLarge},
		// Meta's webhook reads the body to check its signature.
		{call{fn: fnWhatsApp, method: http.MethodPost, path: "/"}, webhook.MaxBody, `{"object":"whatsapp_business_account","entry":[`, "{},", "too large"},
		// emkt streams: elements it skips, each under its 16 KiB token
		// bound, fill the body until its 32 MiB bound.
		{call{fn: fnEmkt, method: http.MethodPost, path: "/", header: tok}, emkt.MaxBody,
			`<main><emkt trans="50.01"><remetente>` + demo.SenderCode + `</remetente><element_name>alerta1</element_name>`,
			"<pad>" + strings.Repeat("a", 4000) + "</pad>", `<erro>request body over 32 MiB`},
	}
}

// TestBodiesOverTheBoundAreRefusedUnread: a body over its route's
// documented bound is answered 413 after the handler read at most the
// bound and a buffer of it, whether the body declares a huge
// Content-Length or comes chunked without one; nothing is written. A body
// of exactly the bound is read whole, so the bound is the documented one
// and not less.
func TestBodiesOverTheBoundAreRefusedUnread(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	before := g.database(t)
	for _, b := range boundedRoutes() {
		for _, chunked := range []bool{false, true} {
			body := flood(b.prefix, b.pattern, 2*b.limit+1<<20)
			w, rpcs := g.serveRequest(t, b.fn, bodyRequest(b.method, b.path, body, b.header, chunked))
			read := body.n.Load()
			if w.Code != http.StatusRequestEntityTooLarge || !regexp.MustCompile(b.answer).MatchString(w.Body.String()) {
				t.Errorf("%s (chunked %v): %d %.300s, want 413 %s", b.call, chunked, w.Code, w.Body.String(), b.answer)
			}
			if read > b.limit+slack {
				t.Errorf("%s (chunked %v): read %d bytes of a body bounded at %d", b.call, chunked, read, b.limit)
			}
			if n := writesIn(rpcs); n != 0 {
				t.Errorf("%s (chunked %v): %d writes:%s", b.call, chunked, n, describe(rpcs))
			}
		}
	}
	if d := diff(before, g.database(t)); d != "" {
		t.Errorf("refused bodies changed the database:\n  %s", d)
	}

	// The bound itself is read: not refused as too large, every byte read.
	for _, b := range boundedRoutes() {
		if b.fn == fnEmkt {
			continue // its 32 MiB is TestEmktBounds' to read
		}
		suffix := `"}`
		if b.fn == fnWhatsApp {
			suffix = `{}]}`
		} else if strings.HasSuffix(b.prefix, "[") {
			suffix = `{"name":"a","value":"b"}]}`
		}
		body := exactly(b.prefix, b.pattern, suffix, b.limit)
		w, _ := g.serveRequest(t, b.fn, bodyRequest(b.method, b.path, body, b.header, true))
		if w.Code == http.StatusRequestEntityTooLarge || w.Code >= 500 || body.n.Load() != b.limit {
			t.Errorf("%s with a body of exactly %d bytes: %d %.300s, %d bytes read", b.call, b.limit, w.Code, w.Body.String(), body.n.Load())
		}
	}
}

// TestRoutesWithoutABodyReadNone: the GET routes answer without reading
// a byte of a body sent anyway, however large it claims to be.
func TestRoutesWithoutABodyReadNone(t *testing.T) {
	g := newGateway(t, gatewayOptions{})
	tok := bearer(apptest.Token)
	wp := "/" + demo.TenantID + "/api/v1/"
	for _, c := range []call{
		{fn: fnTemplates, path: "/", header: tok},
		{fn: fnTemplates, path: "/welcome", header: tok},
		{fn: fnMessages, path: "/", header: tok},
		{fn: fnMessages, path: "/abc123", header: tok},
		{fn: fnWati, path: wp + "getMessages/5511987650042", header: tok},
		{fn: fnWati, path: wp + "getContacts", header: tok},
		{fn: fnWhatsApp, path: "/?hub.mode=subscribe&hub.challenge=1&hub.verify_token=" + verifyToken},
	} {
		body := flood("", "x", 64<<20)
		w, _ := g.serveRequest(t, c.fn, bodyRequest(http.MethodGet, c.path, body, c.header, true))
		if w.Code != http.StatusOK && w.Code != http.StatusNotFound || body.n.Load() != 0 {
			t.Errorf("GET %s %s: %d %.200s, read %d bytes of the body", c.fn, c.path, w.Code, w.Body.String(), body.n.Load())
		}
	}
}

// TestEmktBounds: emkt reads its XML as a stream, so its memory is
// bounded by its per-token and per-batch bounds rather than by the body
// (docs/emkt.md, "Limits and encodings"). Asserted here:
//   - one token (here an element's text) over 16 KiB is 413 after at most
//     that token, the decoder's buffer and the slack were read;
//   - a batch with more contacts than the batch service's bound is 413
//     as soon as the contact past the bound is read (at most the bytes of
//     the contacts up to it, plus the slack), and nothing of it is kept:
//     no batch, no code, and the chunks already stored are deleted. The
//     bound is batch.Options.MaxRecipients, set low here;
//     TestLimitsAreDocumented ties its default to the documented 100,000;
//   - a body of exactly emkt.MaxBody (32 MiB) is read whole.
func TestEmktBounds(t *testing.T) {
	const maxContacts = 5
	// Chunks of two contacts, so the refused batch has chunks to delete.
	g := newGateway(t, gatewayOptions{batch: batch.Options{MaxRecipients: maxContacts, ChunkSize: 2}})
	tok := bearer(apptest.Token)
	head := `<main><emkt trans="50.01"><remetente>` + demo.SenderCode + `</remetente><identificador>BOUND1</identificador><element_name>alerta1</element_name>`
	before := g.database(t)

	body := flood(head+`<pad>`, "a", 8<<20)
	w, rpcs := g.serveRequest(t, fnEmkt, bodyRequest(http.MethodPost, "/", body, tok, true))
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "over 16 KiB") || body.n.Load() > int64(len(head))+slack {
		t.Errorf("a 8 MiB element: %d %s, read %d bytes", w.Code, w.Body.String(), body.n.Load())
	}
	if n := writesIn(rpcs); n != 0 {
		t.Errorf("a 8 MiB element: %d writes", n)
	}

	contact := `<contact><phone>11987650042</phone><component type="body"><parameter type="text">Maria</parameter></component></contact>`
	body = flood(head, contact, 8<<20)
	w, _ = g.serveRequest(t, fnEmkt, bodyRequest(http.MethodPost, "/", body, tok, true))
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "too many recipients") {
		t.Errorf("endless contacts: %d %s, want 413 too many recipients", w.Code, w.Body.String())
	}
	if read, most := body.n.Load(), int64(len(head)+(maxContacts+1)*len(contact))+slack; read > most {
		t.Errorf("endless contacts: read %d bytes, more than the %d the bound needs", read, most)
	}
	if d := diff(before, g.database(t)); d != "" {
		t.Errorf("refused batches left documents behind:\n  %s", d)
	}

	// The control: as many contacts as the bound is a batch.
	w, _ = g.serve(t, call{fn: fnEmkt, method: http.MethodPost, path: "/", header: tok,
		body: head + strings.Repeat(contact, maxContacts) + `</emkt></main>`})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<return>BOUND1</return>") {
		t.Errorf("%d contacts: %d %s", maxContacts, w.Code, w.Body.String())
	}

	exact := exactly(`<main><emkt trans="50.02"><codigo>NOSUCH</codigo>`, "<pad>"+strings.Repeat("a", 4000)+"</pad>", `</emkt></main>`, emkt.MaxBody)
	w, _ = g.serveRequest(t, fnEmkt, bodyRequest(http.MethodPost, "/", exact, tok, true))
	if w.Code == http.StatusRequestEntityTooLarge || w.Code >= 500 || exact.n.Load() != emkt.MaxBody {
		t.Errorf("a 50.02 of exactly %d bytes: %d %s, read %d", emkt.MaxBody, w.Code, w.Body.String(), exact.n.Load())
	}
}

// TestLimitsAreDocumented: every bound the handlers enforce is the one
// the docs give the client.
func TestLimitsAreDocumented(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("../../docs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(b)), " ")
	}
	for _, c := range []struct {
		doc, says string
		bound     int64
		want      int64
	}{
		{"api.md", "`413 \"request body too large\"` | body over 1 MiB", request.MaxBody, 1 << 20},
		{"api.md", "over 4 MiB → `413`", webhook.MaxBody, 4 << 20},
		{"cloudchat.md", "| `413` | body over 1 MiB |", request.MaxBody, 1 << 20},
		{"wati.md", "body over 1 MiB (8 MiB for `sendTemplateMessages`), refused before it is read | 413", wati.MaxBulkBody, 8 << 20},
		{"emkt.md", "| `413` | body over 32 MiB; more than 100,000 contacts;", emkt.MaxBody, 32 << 20},
		{"emkt.md", "| contacts per 50.01 | 100,000", batch.DefaultMaxRecipients, 100_000},
	} {
		if !strings.Contains(read(c.doc), c.says) {
			t.Errorf("docs/%s does not say %q", c.doc, c.says)
		}
		if c.bound != c.want {
			t.Errorf("docs/%s says %q, the code's bound is %d", c.doc, c.says, c.bound)
		}
	}
}
