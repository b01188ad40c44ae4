// Package emkt is the Hi Platform emkt XML dialect (seed 003): transaction
// 50.01 sends one template to many contacts as a batch and answers the
// batch's code, 50.02 answers each contact's state. The body is read as a
// stream of XML tokens and the answer to 50.02 is written as one, so a
// batch of 100,000 contacts never sits in memory. It parses, hands the
// batch to the batch service, and renders the vendor's XML.
package emkt

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/request"
)

// Catalog authenticates tokens.
type Catalog interface {
	Authenticate(ctx context.Context, token string) (domain.Token, error)
}

// Batches creates batches and reports their recipients (batch.Service).
type Batches interface {
	Create(ctx context.Context, tok domain.Token, spec batch.Spec, next batch.Next) (batch.Batch, error)
	Items(ctx context.Context, tenant, code string, yield func(batch.Item) error) error
}

// The transactions served.
const (
	TransSend   = "50.01"
	TransStatus = "50.02"
	// transStatusAnswer is the trans attribute of 50.02's answer, as seed
	// 003 documents it.
	transStatusAnswer = "40.03"
)

// MaxBody bounds a request body: Cloud Functions (gen2) refuses larger
// HTTP/1 requests itself. Contacts are bounded by the batch service
// (batch.DefaultMaxRecipients).
const MaxBody = 32 << 20

// Server serves the emkt function.
type Server struct {
	cat     Catalog
	batches Batches
}

// New returns the emkt server.
func New(cat Catalog, batches Batches) *Server {
	return &Server{cat: cat, batches: batches}
}

// Handler is the emkt function's HTTP handler, served at "/": POST with
// an XML body.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	a := &exchange{w: w, r: r, key: newKey()}
	a.log = logging.FromContext(r.Context()).With("key", a.key)
	switch {
	case r.URL.Path != "/" && r.URL.Path != "":
		a.fail(domain.Errorf(domain.KindNotFound, "no such route: POST the XML to /"))
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		a.fail(errMethod)
		return
	}
	tok, err := s.cat.Authenticate(r.Context(), request.Bearer(r))
	if err != nil {
		a.fail(err)
		return
	}
	a.log = a.log.With("tenant", tok.Tenant)
	var body io.Reader = http.MaxBytesReader(w, r.Body, MaxBody)
	if a.idem = r.Header.Get("Idempotency-Key"); a.idem != "" {
		if err := domain.CheckIdempotencyKey(a.idem); err != nil {
			a.fail(err)
			return
		}
	}
	// A key (the header, or the identificador) is bound to the method, the
	// path and the body, as request.Hash binds it on the other dialects;
	// the body is hashed as it streams.
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.RequestURI())
	body = io.TeeReader(body, h)
	a.hash = func() string { return hex.EncodeToString(h.Sum(nil)) }
	d := newDecoder(body)
	a.trans, err = d.open()
	if err != nil {
		a.fail(err)
		return
	}
	// The transaction names the scope, so the key is checked once it is
	// known, before anything is read from the store.
	switch a.trans {
	case TransSend:
		if err := tok.Require(domain.ScopeSend); err != nil {
			a.fail(err)
			return
		}
		s.send(a, tok, d)
	case TransStatus:
		if err := tok.Require(domain.ScopeReadMessages); err != nil {
			a.fail(err)
			return
		}
		s.status(a, tok, d)
	default:
		a.fail(domain.Errorf(domain.KindInvalid, "trans: unknown transaction "+quote(a.trans)+"; served are 50.01 and 50.02", "trans"))
	}
}

// newKey is the KEY attribute of an answer: seed 003's answers carry a
// 28-hex-digit key. It names this exchange in the logs, so a client
// quoting it can be found.
func newKey() string {
	var b [14]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
