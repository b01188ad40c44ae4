package emkt_test

import (
	"context"
	"encoding/xml"
	"github.com/templategw/templategw/internal/accept"
	"github.com/templategw/templategw/internal/apptest/memory"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/emkt"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// memCatalog serves the demo tenant from memory.
type memCatalog struct{}

const fuzzToken = "fuzz-token"

func (memCatalog) Authenticate(_ context.Context, token string) (domain.Token, error) {
	if token != fuzzToken {
		return domain.Token{}, domain.Errorf(domain.KindUnauthorized, "incorrect token")
	}
	return domain.Token{Tenant: demo.TenantID, Integration: "demo", DefaultChannel: demo.ChannelID}, nil
}

func (memCatalog) Tenant(_ context.Context, id string) (domain.Tenant, error) {
	return domain.Tenant{ID: id, Name: "Demo", CountryCode: demo.CountryCode}, nil
}

func (memCatalog) Channels(context.Context, string) ([]domain.Channel, error) {
	off := demo.Channel()
	off.ID, off.SenderCode, off.Connected, off.Default = "off", "OFF1", false, false
	return []domain.Channel{demo.Channel(), off}, nil
}

func (c memCatalog) Template(ctx context.Context, tenant, id string) (domain.Template, error) {
	return c.TemplateByName(ctx, tenant, id)
}

func (memCatalog) TemplateByName(_ context.Context, _, name string) (domain.Template, error) {
	for _, t := range demo.Templates() {
		if t.Name == name {
			return t, nil
		}
	}
	return domain.Template{}, store.ErrNotFound
}

// memStore keeps what the batch service commits, in memory. The
// broadcast lifecycle's methods, which emkt never calls, are left to the
// embedded nil interface.
type memStore struct {
	batch.Store
	mu      sync.Mutex
	batches map[string]store.BatchRecord
}

func (m *memStore) BatchByCode(_ context.Context, _, code string) (store.BatchRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.batches[code]
	if !ok {
		return r, store.ErrNotFound
	}
	return r, nil
}

func (m *memStore) PutBatchChunks(context.Context, string, string, []store.EncodedChunk, time.Time) error {
	return nil
}

func (m *memStore) DeleteBatchChunks(context.Context, string, string, int) error { return nil }

func (m *memStore) Batch(_ context.Context, _, id string) (store.BatchRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.batches {
		if r.ID == id {
			return r, nil
		}
	}
	return store.BatchRecord{}, store.ErrNotFound
}

func (m *memStore) CommitBatch(_ context.Context, _ string, r store.BatchRecord, _ *store.BatchKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.batches[r.Code]; ok {
		return store.ErrBatchCodeExists
	}
	m.batches[r.Code] = r
	return nil
}

// BatchChunk serves every chunk as two recipients, one of them refused.
func (m *memStore) BatchChunk(_ context.Context, _, _ string, n int) (store.BatchChunk, error) {
	return store.BatchChunk{N: n, First: 2 * n, Recipients: []store.BatchRecipient{
		{Phone: "5511987654321", Raw: "11987654321", Params: map[string]string{"1": "Ana"}},
		{Raw: "1<2&\"3\"", Problem: "phone: not a possible number"},
	}}, nil
}

func (m *memStore) BatchMessages(_ context.Context, _ string, ids []string) ([]*domain.Message, error) {
	return make([]*domain.Message, len(ids)), nil
}

type nopFanout struct{}

func (nopFanout) PublishJSON(context.Context, any, map[string]string) error { return nil }

// seedSend is seed 003's complete 50.01 with its documented example
// values filled in.
var seedSend = `<main> 
  <emkt trans="50.01">
  <remetente>0bc8f181-3f84-41dc-90f2-a28dd5f90e73</remetente>
  <identificador>abc123</identificador>
  <namespace>cd551e83_8455_45fd_a2ff_35ef6a51f3c6</namespace>
  <element_name>alerta1</element_name>
  <contact>
      <phone>11987554321</phone>
      <component type="body">
      <parameter type="text">Maria</parameter>
      </component>
   </contact>
   <contact>
      <phone>11987554322</phone>
      <component type="body">
      <parameter type="text">Joana</parameter>
      </component>
   </contact>
   </emkt> 
</main>`

// FuzzEmkt drives arbitrary bodies through the real handler, parser and
// batch service (with in-memory configuration and storage): nothing a
// client sends is an internal error, and every answer is emkt XML with a
// KEY, a <return>, items or an <erro> naming the problem.
func FuzzEmkt(f *testing.F) {
	for _, b := range []string{
		seedSend,
		// Seed 003's structures as documented, blanks included.
		"<main> \n  <emkt trans=\"50.01\">\n  <remetente> </remetente>\n  <identificador> </identificador>\n  <namespace> </namespace>\n  <element_name> </element_name>\n  <contact>\n      <phone></phone>\n      <component type=\"body\">\n      <parameter type=\"text\"></parameter>\n      </component>\n   </contact>\n   </emkt> \n</main>",
		"<main> \n  <emkt trans=\"50.01\">\n  <remetente>0bc8f181-3f84-41dc-90f2-a28dd5f90e73</remetente>\n  <namespace> </namespace>\n  <element_name>alerta1</element_name>\n  <contact>\n      <phone>11987554321</phone>\n      \n   </contact>\n  </emkt> \n</main>",
		"<main>\n   <emkt trans=\"50.02\"> \n     <codigo>5c3ca43c-4ece-4018-8667-56384bbe5900</codigo>  \n  </emkt> \n</main>",
		"<main><emkt trans=\"50.02\"><codigo>abc123</codigo></emkt></main>",
		strings.Replace(seedSend, "0bc8f181-3f84-41dc-90f2-a28dd5f90e73", "OFF1", 1),
		strings.Replace(seedSend, "alerta1", "promo_image", 1),
		strings.Replace(seedSend, `type="body"`, `type="button" index="0"`, 1),
		strings.Replace(seedSend, `type="body"`, `type="header"`, 1),
		`<?xml version="1.0" encoding="ISO-8859-1"?>` + strings.Replace(seedSend, "Maria", "Jos\xe9", 1),
		`<?xml version="1.0" encoding="windows-1252"?>` + strings.Replace(seedSend, "Maria", "\x93Z\x94", 1),
		`<?xml version="1.0" encoding="koi8-r"?><main/>`,
		"<main><emkt trans='50.01'><contact><phone>1</phone></contact></emkt></main>",
		"<main><emkt trans=\"50.01\"><![CDATA[x]]><!-- c --><?pi x?><!DOCTYPE main></emkt></main>",
		"<a:main xmlns:a=\"urn:x\"><a:emkt trans=\"50.02\"><a:codigo>x</a:codigo></a:emkt></a:main>",
		"<main><emkt trans=\"50.01\">&amp;&#0;</emkt></main>",
		"", " ", "<", "<main>", "<main></main>", "<main/>", "</main>", "\xff\xfe<\x00m",
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		svc := batch.New(accept.New(memCatalog{}, memory.NewStore(t), memory.Publisher{}, accept.Options{}), &memStore{batches: map[string]store.BatchRecord{}}, nopFanout{}, batch.Options{MaxRecipients: 50})
		h := emkt.New(memCatalog{}, svc).Handler()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(b)))
		r = r.WithContext(logging.WithLogger(r.Context(), slog.New(slog.DiscardHandler)))
		r.Header.Set("Authorization", "Bearer "+fuzzToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("body %q answered %d %s", b, w.Code, w.Body.String())
		}
		if !utf8.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not UTF-8: %q", w.Body.String())
		}
		var a answer
		if err := xml.Unmarshal(w.Body.Bytes(), &a); err != nil || !keyShape.MatchString(a.Emkt.Key) {
			t.Fatalf("body %q answered %q, not emkt XML with a KEY (%v)", b, w.Body.String(), err)
		}
		switch {
		case w.Code != http.StatusOK:
			if a.Emkt.Erro == "" || a.Emkt.Return != "" || len(a.Emkt.Items) > 0 {
				t.Fatalf("%d answer %q does not name its problem alone", w.Code, w.Body.String())
			}
		case a.Emkt.Trans == "50.01":
			if a.Emkt.Return == "" || a.Emkt.Erro != "" {
				t.Fatalf("50.01 answer %q without a code", w.Body.String())
			}
		case a.Emkt.Trans == "40.03":
			if len(a.Emkt.Items) == 0 || a.Emkt.Erro != "" {
				t.Fatalf("50.02 answer %q without items", w.Body.String())
			}
		default:
			t.Fatalf("200 answer %q of no transaction", w.Body.String())
		}
	})
}
