package emkt_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/emkt"
	"github.com/templategw/templategw/internal/store"
)

// parsedBatches keeps what the parser hands the batch service: the spec
// and every recipient, refused ones included.
type parsedBatches struct {
	spec batch.Spec
	recs []batch.Recipient
}

func (b *parsedBatches) Create(_ context.Context, _ domain.Token, spec batch.Spec, next batch.Next) (batch.Batch, error) {
	b.spec, b.recs = spec, nil
	for {
		r, ok, err := next()
		if err != nil {
			return batch.Batch{}, err
		}
		if !ok {
			break
		}
		b.recs = append(b.recs, r)
	}
	return batch.Batch{ID: "b", Code: "c", Accepted: len(b.recs)}, nil
}

func (b *parsedBatches) Items(context.Context, string, string, func(batch.Item) error) error {
	return store.ErrNotFound
}

// repeat is n copies of s: "é" makes n characters of 2n bytes, so a
// bound counted in bytes would show.
func repeat(s string, n int) string { return strings.Repeat(s, n) }

func limitsPost(t testing.TB, h http.Handler, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return call(t, h, http.MethodPost, "/", fuzzToken, strings.NewReader(body), header...)
}

// TestRequestElementsOverTheirBounds sends each batch-wide element one
// past its bound: the whole request is refused with emkt's <erro> naming
// the element and the bound, and no batch is made.
func TestRequestElementsOverTheirBounds(t *testing.T) {
	b := &parsedBatches{}
	h := emkt.New(memCatalog{}, b).Handler()
	ok := sendXML("", "alerta1", contact{"11987654321", []string{"Ana"}})
	tests := []struct {
		name   string
		body   string
		header []string
		says   string
	}{
		{"remetente", strings.Replace(ok, demo.SenderCode, repeat("é", 129), 1), nil, "remetente: at most 128 characters, got 129"},
		{"namespace", strings.Replace(ok, demo.Namespace, repeat("é", 129), 1), nil, "namespace: at most 128 characters, got 129"},
		{"element_name", sendXML("", repeat("é", 513), contact{"11987654321", []string{"Ana"}}), nil, "element_name: at most 512 characters, got 513"},
		{"identificador", sendXML(repeat("a", 14), "alerta1"), nil, "identificador: up to 13 letters and digits"},
		{"Idempotency-Key", ok, []string{"Idempotency-Key", repeat("k", 256)}, "Idempotency-Key: at most 255 characters"},
		{"codigo", statusXML(repeat("c", 65)), nil, "codigo: at most 64 characters, got 65"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.recs = nil
			wantError(t, limitsPost(t, h, tt.body, tt.header...), http.StatusBadRequest, tt.says)
			if b.recs != nil {
				t.Errorf("a batch of %d was made", len(b.recs))
			}
		})
	}
}

// TestContactValuesOverTheirBounds sends contacts whose phone or
// parameters are one past their bound among good ones: each is refused
// alone, naming the value and the bound, and the batch goes on.
func TestContactValuesOverTheirBounds(t *testing.T) {
	b := &parsedBatches{}
	h := emkt.New(memCatalog{}, b).Handler()
	body := sendXML("", "alerta1",
		contact{"11987654321", []string{repeat("é", 1024)}},
		contact{"11987654322", []string{repeat("é", 1025)}},
		contact{repeat("1", 33), []string{"Ana"}},
		contact{"11987654323", []string{"Ana"}},
	)
	body = strings.Replace(body, "<phone>11987654323</phone>",
		`<phone>11987654323</phone><component type="header"><parameter type="text">`+repeat("é", 2001)+
			`</parameter></component><component type="button" index="0"><parameter type="text">`+repeat("é", 2001)+`</parameter></component>`, 1)
	wantCode(t, limitsPost(t, h, body))
	if len(b.recs) != 4 {
		t.Fatalf("%d recipients, want 4", len(b.recs))
	}
	for i, want := range []string{
		"",
		"component body parameter 1: at most 1024 characters, got 1025",
		"phone: at most 32 characters, got 33",
		"component header parameter: at most 2000 characters, got 2001",
	} {
		if got := b.recs[i].Problem; !strings.Contains(got, want) || (want == "") != (got == "") {
			t.Errorf("contact %d: problem %q, want %q", i, got, want)
		}
	}
	if raw := b.recs[2].Raw; len(raw) > domain.MaxPhoneInput {
		t.Errorf("a refused phone is kept whole: %d bytes", len(raw))
	}
}

// TestOddXMLIsNeverAnInternalError sends what no client should: NUL
// characters, invalid UTF-8, deep nesting, huge elements and endless
// contacts. Each is answered in emkt XML with a 2xx or a 4xx.
func TestOddXMLIsNeverAnInternalError(t *testing.T) {
	h := emkt.New(memCatalog{}, &parsedBatches{}).Handler()
	ok := sendXML("", "alerta1", contact{"11987654321", []string{"Ana"}})
	bodies := []string{
		strings.Replace(ok, "Ana", "A&#0;na", 1),
		strings.Replace(ok, "Ana", "\x00", 1),
		strings.Replace(ok, "Ana", "\xff\xfe", 1),
		strings.Replace(ok, "Ana", repeat("<a>", 10_000)+repeat("</a>", 10_000), 1),
		strings.Replace(ok, "Ana", repeat("a", 600_000), 1),
		strings.Replace(ok, "<contact>", repeat(`<contact><phone>1</phone></contact>`, 20_000)+"<contact>", 1),
		strings.Replace(ok, "alerta1", "alerta1\x00", 1),
		statusXML("\x00"),
		statusXML(repeat("é", 10_000)),
		"<main><emkt trans=\"" + repeat("9", 100_000) + "\"></emkt></main>",
	}
	for i, b := range bodies {
		w := limitsPost(t, h, b, "Idempotency-Key", "k\x01")
		if w.Code >= 500 || w.Code < 200 {
			t.Errorf("body %d answered %d %.300s", i, w.Code, w.Body.String())
			continue
		}
		if a := decode(t, w); w.Code >= 400 && a.Emkt.Erro == "" {
			t.Errorf("body %d: %d without an <erro>", i, w.Code)
		}
		if w.Body.Len() > 4000 {
			t.Errorf("body %d: a %d-byte answer echoes the request", i, w.Body.Len())
		}
	}
}
