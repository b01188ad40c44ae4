package emkt

import (
	"encoding/xml"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/templategw/templategw/internal/request"
)

// exchange is one request and its answer.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	key   string
	trans string // "" until the <emkt> element is read
	log   *slog.Logger
	// idem is the request's Idempotency-Key, and hash the hash it is
	// bound to once the body is read through.
	idem string
	hash func() string
}

const contentType = "application/xml; charset=utf-8"

// open starts an answer: <main><emkt trans=… KEY=…>. trans is left out
// when the request's was never read.
func (a *exchange) open(code int, trans string) *xml.Encoder {
	a.w.Header().Set("Content-Type", contentType)
	a.w.WriteHeader(code)
	enc := xml.NewEncoder(a.w)
	var attrs []xml.Attr
	if trans != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "trans"}, Value: trans})
	}
	attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "KEY"}, Value: a.key})
	_ = enc.EncodeToken(xml.StartElement{Name: xml.Name{Local: "main"}})
	_ = enc.EncodeToken(xml.StartElement{Name: xml.Name{Local: "emkt"}, Attr: attrs})
	return enc
}

// finish ends an answer open started.
func finish(enc *xml.Encoder) error {
	if err := enc.EncodeToken(xml.EndElement{Name: xml.Name{Local: "emkt"}}); err != nil {
		return err
	}
	if err := enc.EncodeToken(xml.EndElement{Name: xml.Name{Local: "main"}}); err != nil {
		return err
	}
	return enc.Flush()
}

// element writes <name>text</name>.
func element(enc *xml.Encoder, name, text string) error {
	return enc.EncodeElement(text, xml.StartElement{Name: xml.Name{Local: name}})
}

// fail answers err as <main><emkt …><erro>message</erro></emkt></main>.
func (a *exchange) fail(err error) {
	code, msg := classify(err)
	switch {
	case code >= http.StatusInternalServerError:
		a.log.Error("emkt internal error", "trans", a.trans, "error", err.Error())
	default:
		a.log.Info("emkt request refused", "trans", a.trans, "code", code, "reason", msg)
	}
	if code == http.StatusTooManyRequests {
		request.SetRetryAfter(a.w, err)
	}
	enc := a.open(code, a.trans)
	_ = element(enc, "erro", msg)
	_ = finish(enc)
}

// quote shows a client's value in a message, bounded.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}
