package emkt_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/apptest/wait"
	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/sandbox"
)

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// accepted returns the sandbox's accepted sends, by gateway message id.
func accepted(s *sandbox.Sandbox) map[string]sandbox.Request {
	out := map[string]sandbox.Request{}
	for _, r := range s.Requests() {
		if r.Status == http.StatusOK {
			out[r.CallbackData] = r
		}
	}
	return out
}

func TestSendFewContactsEndToEnd(t *testing.T) {
	g := newGateway(t, 1, batch.Options{})
	body := sendXML("", "alerta1",
		contact{"11987651101", []string{"Maria"}},
		contact{"5521987651102", []string{"João"}}, // already international
		contact{"123", []string{"Ana"}},
		contact{"11987651104", []string{"Ana", "extra"}},
		contact{"11987651105", nil},
		contact{"11987651101", []string{"Maria again"}}, // a number twice is sent once, to the first
		contact{"11987650001", []string{"Zé"}},          // the sandbox's undeliverable number
	)
	code := wantCode(t, g.post(t, strings.NewReader(body)))
	if !uuidShape.MatchString(code) {
		t.Errorf("generated code %q is not a UUID like seed 003's", code)
	}

	ctx := context.Background()
	wait.Until(t, 60*time.Second, "three sends settled", func() bool {
		reqs := g.e.Sandbox.Requests()
		if len(reqs) < 3 {
			return false
		}
		for _, r := range reqs {
			if m, err := g.e.Store.Message(ctx, g.e.Tenant, r.CallbackData); err != nil || m.Status != domain.StatusPending && m.Status != domain.StatusFailed {
				return false
			}
		}
		return true
	})
	if n := len(g.e.Sandbox.Requests()); n != 3 {
		t.Fatalf("the sandbox got %d sends, want 3", n)
	}
	sends := accepted(g.e.Sandbox)
	texts := map[string]string{}
	for id, r := range sends {
		if n := g.e.Sandbox.CountByCallback(id); n != 1 {
			t.Errorf("message %s handed to the provider %d times", id, n)
		}
		m, err := g.e.Store.Message(ctx, g.e.Tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.ClientRef != code || m.Template.Name != "alerta1" || m.PhoneNumber != r.To {
			t.Errorf("message %+v: want clientRef %s, template alerta1, phone %s", m, code, r.To)
		}
		texts[r.To+"/"+r.Template.Components[0].Parameters[0].Text] = id
	}
	if id := texts["5511987651101/Maria again"]; id != "" {
		t.Errorf("the repeated number was sent again: %s", id)
	}
	for _, want := range []string{"5511987651101/Maria", "5521987651102/João"} {
		if texts[want] == "" {
			t.Errorf("no send %s among %v", want, texts)
		}
	}

	w := g.post(t, strings.NewReader(statusXML(code)))
	if w.Code != http.StatusOK {
		t.Fatalf("50.02: %d %s", w.Code, w.Body.String())
	}
	a := decode(t, w)
	if a.Emkt.Trans != "40.03" {
		t.Errorf("50.02 answers trans %q, want seed 003's 40.03", a.Emkt.Trans)
	}
	want := []struct{ phone, status, reason string }{
		{"11987651101", "pending", ""},
		{"5521987651102", "pending", ""},
		{"123", "failed", "phone: not a possible number"},
		{"11987651104", "failed", "wrong parameter count: template alerta1 takes 1, got 2"},
		{"11987651105", "failed", "wrong parameter count: template alerta1 takes 1, got 0"},
		{"11987650001", "failed", "(#131026)"},
	}
	if len(a.Emkt.Items) != len(want) {
		t.Fatalf("50.02 has %d items, want %d: %s", len(a.Emkt.Items), len(want), w.Body.String())
	}
	for i, it := range a.Emkt.Items {
		if it.Telefone != want[i].phone || it.Status != want[i].status || !strings.HasPrefix(it.Motivo, want[i].reason) || (want[i].reason == "") != (it.Motivo == "") {
			t.Errorf("item %d = %+v, want %+v", i, it, want[i])
		}
	}
}

func TestRepeatedIdentificadorStoresNothingNew(t *testing.T) {
	g := newGateway(t, 0, batch.Options{})
	first := g.post(t, strings.NewReader(sendXML("LOTE2024A", "alerta1", contact{"11987651110", []string{"Ana"}})))
	if code := wantCode(t, first); code != "LOTE2024A" {
		t.Fatalf("code %q, want the identificador", code)
	}
	// The same request again is answered with the same code.
	if code := wantCode(t, g.post(t, strings.NewReader(sendXML("LOTE2024A", "alerta1", contact{"11987651110", []string{"Ana"}})))); code != "LOTE2024A" {
		t.Fatalf("repeat answered %q", code)
	}
	// The same identificador with other contacts and another template is
	// refused: the identificador is the client's idempotency key.
	again := g.post(t, strings.NewReader(sendXML("LOTE2024A", "welcome", contact{"11987651111", []string{"Bia", "x"}}, contact{"11987651112", []string{"Cy", "y"}})))
	if again.Code != http.StatusUnprocessableEntity || !strings.Contains(again.Body.String(), "identificador") {
		t.Fatalf("the identificador with another request: %d %s, want 422 naming it", again.Code, again.Body)
	}
	if b, c := count(t, g, "batches"), count(t, g, "chunks"); b != 1 || c != 1 {
		t.Fatalf("after a repeat: %d batches and %d chunks, want 1 and 1", b, c)
	}
	a := decode(t, g.post(t, strings.NewReader(statusXML("LOTE2024A"))))
	if len(a.Emkt.Items) != 1 || a.Emkt.Items[0].Telefone != "11987651110" {
		t.Fatalf("50.02 shows %+v, want the first request's one contact", a.Emkt.Items)
	}

	// Racing repeats: one batch; each answer is that batch or, while the
	// first is still being handled, 409.
	var wg sync.WaitGroup
	codes := make([]string, 4)
	for i := range codes {
		wg.Go(func() {
			w := g.post(t, strings.NewReader(sendXML("LOTE2024B", "alerta1", contact{"11987651120", []string{"Ana"}}, contact{"11987651121", []string{"Bia"}})))
			switch w.Code {
			case http.StatusOK:
				codes[i] = decode(t, w).Emkt.Return
			case http.StatusConflict:
				codes[i] = "409"
			default:
				codes[i] = w.Body.String()
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case "LOTE2024B":
			ok++
		case "409":
		default:
			t.Fatalf("racing repeats answered %q", codes)
		}
	}
	if ok == 0 {
		t.Fatalf("racing repeats answered %q, want at least one batch", codes)
	}
	if b, c := count(t, g, "batches"), count(t, g, "chunks"); b != 2 || c != 2 {
		t.Fatalf("after racing repeats: %d batches and %d chunks, want 2 and 2", b, c)
	}
}

func TestIdempotencyKey(t *testing.T) {
	g := newGateway(t, 0, batch.Options{})
	body := sendXML("", "alerta1", contact{"11987651140", []string{"Ana"}})
	code := wantCode(t, g.post(t, strings.NewReader(body), "Idempotency-Key", "k-1"))
	if again := wantCode(t, g.post(t, strings.NewReader(body), "Idempotency-Key", "k-1")); again != code {
		t.Fatalf("retry under the key answered %s, want %s", again, code)
	}
	if b := count(t, g, "batches"); b != 1 {
		t.Fatalf("%d batches after a retry, want 1", b)
	}
	other := sendXML("", "alerta1", contact{"11987651141", []string{"Bia"}})
	wantError(t, g.post(t, strings.NewReader(other), "Idempotency-Key", "k-1"), http.StatusUnprocessableEntity, "different request")
	// Another key is another batch.
	if c := wantCode(t, g.post(t, strings.NewReader(body), "Idempotency-Key", "k-2")); c == code {
		t.Fatal("another key answered the first batch")
	}
	// A 4xx is not stored under the key: the client may fix the request.
	wantError(t, g.post(t, strings.NewReader(sendXML("", "nope", contact{"11987651142", []string{"Cy"}})), "Idempotency-Key", "k-3"), http.StatusBadRequest, "no template named nope")
	wantCode(t, g.post(t, strings.NewReader(sendXML("", "alerta1", contact{"11987651142", []string{"Cy"}})), "Idempotency-Key", "k-3"))

	// The same key while the first request is still streaming its body.
	pr, pw := io.Pipe()
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- g.post(t, pr, "Idempotency-Key", "k-4") }()
	head, tail, _ := strings.Cut(body, "<phone>")
	if _, err := pw.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the first request is inside the batch service, reading contacts
	wantError(t, g.post(t, strings.NewReader(body), "Idempotency-Key", "k-4"), http.StatusConflict, "still being handled")
	_, _ = pw.Write([]byte("<phone>" + tail))
	pw.Close()
	wantCode(t, <-first)
}

func TestMalformedTailStoresNothing(t *testing.T) {
	// Small chunks, so many are committed before the body turns out bad.
	g := newGateway(t, 1, batch.Options{ChunkSize: 10})
	var contacts []contact
	for i := range 600 {
		contacts = append(contacts, contact{bulkPhone(i), []string{"Ana"}})
	}
	body := strings.TrimSuffix(sendXML("", "alerta1", contacts...), "  </emkt>\n</main>\n") + "<contact><phone>1</contact>"
	wantError(t, g.post(t, strings.NewReader(body)), http.StatusBadRequest, "malformed XML at line")
	if b, c, m := count(t, g, "batches"), count(t, g, "chunks"), count(t, g, "messages"); b != 0 || c != 0 || m != 0 {
		t.Fatalf("a refused batch left %d batches, %d chunks and %d messages", b, c, m)
	}
	time.Sleep(time.Second) // nothing was published either
	if n := len(g.e.Sandbox.Requests()); n != 0 {
		t.Fatalf("a refused batch reached the provider %d times", n)
	}
}

func TestSingleByteEncodings(t *testing.T) {
	g := newGateway(t, 1, batch.Options{})
	body := `<?xml version="1.0" encoding="ISO-8859-1"?>` + "\n" + sendXML("", "alerta1", contact{"11987651130", []string{"Jos\xe9 Concei\xe7\xe3o"}})
	wantCode(t, g.post(t, strings.NewReader(body)))
	body = `<?xml version="1.0" encoding="windows-1252"?>` + "\n" + sendXML("", "alerta1", contact{"11987651131", []string{"\x93Ol\xe1\x94 \x80"}})
	wantCode(t, g.post(t, strings.NewReader(body)))
	wait.Until(t, 30*time.Second, "the sends", func() bool { return len(accepted(g.e.Sandbox)) == 2 })
	got := map[string]string{}
	for _, r := range accepted(g.e.Sandbox) {
		got[r.To] = r.Template.Components[0].Parameters[0].Text
	}
	if got["5511987651130"] != "José Conceição" || got["5511987651131"] != "“Olá” €" {
		t.Errorf("parameters %q, want José Conceição and “Olá” €", got)
	}
}

// TestRepeatedPhoneIsSentOnce: a 50.01 naming one number twice sends it
// once; 50.02 lists it once.
func TestRepeatedPhoneIsSentOnce(t *testing.T) {
	g := newGateway(t, 0, batch.Options{})
	w := g.post(t, strings.NewReader(sendXML("DUP1", "alerta1", contact{"11987651130", []string{"Ana"}}, contact{"11987651131", []string{"Bia"}}, contact{"11987651130", []string{"Ana again"}})))
	if code := wantCode(t, w); code != "DUP1" {
		t.Fatalf("code %q", code)
	}
	a := decode(t, g.post(t, strings.NewReader(statusXML("DUP1"))))
	if len(a.Emkt.Items) != 2 {
		t.Fatalf("50.02 lists %+v, want each number once", a.Emkt.Items)
	}
	if n := count(t, g, "messages"); n > 2 {
		t.Errorf("%d messages, want at most 2", n)
	}
}
