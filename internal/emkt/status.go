package emkt

import (
	"encoding/xml"
	"errors"
	"net/http"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// itemXML is one recipient in 50.02's answer. motivo, the reason of a
// failure, is the gateway's addition to seed 003's shape.
type itemXML struct {
	XMLName  xml.Name `xml:"item"`
	Telefone string   `xml:"telefone"`
	Status   string   `xml:"status"`
	Motivo   string   `xml:"motivo,omitempty"`
}

// status serves 50.02: one <item> per recipient, in the batch's order,
// written as the batch service reads them.
func (s *Server) status(a *exchange, tok domain.Token, d *decoder) {
	code, err := readCodigo(d)
	if err != nil {
		a.fail(err)
		return
	}
	var enc *xml.Encoder
	items := 0
	err = s.batches.Items(a.r.Context(), tok.Tenant, code, func(it batch.Item) error {
		if enc == nil {
			enc = a.open(http.StatusOK, transStatusAnswer)
		}
		items++
		phone := it.Raw
		if phone == "" {
			phone = it.Phone
		}
		st := string(it.Status)
		if it.Refused {
			st = "refused: " + it.Reason
		}
		return enc.Encode(itemXML{Telefone: phone, Status: st, Motivo: it.Reason})
	})
	switch {
	case errors.Is(err, store.ErrNotFound) && enc == nil:
		a.fail(domain.Errorf(domain.KindNotFound, "codigo: no batch "+quote(code), "codigo"))
	case err != nil && enc == nil:
		a.fail(err)
	case err != nil:
		// The status line is gone: the unclosed document tells the client
		// the answer is incomplete.
		a.log.Error("emkt status answer cut short", "code", code, "items", items, "error", err.Error())
		_ = enc.Flush()
	default:
		if enc == nil {
			enc = a.open(http.StatusOK, transStatusAnswer)
		}
		_ = finish(enc)
		a.log.Info("emkt status answered", "code", code, "items", items)
	}
}

// readCodigo reads 50.02's children of <emkt> and the end of the body.
func readCodigo(d *decoder) (string, error) {
	var code string
	seen := false
	for {
		el, end, err := d.start()
		if err != nil {
			return "", err
		}
		if end {
			break
		}
		if !is(el, "codigo") {
			if err := d.skip(); err != nil {
				return "", err
			}
			continue
		}
		if seen {
			return "", domain.Errorf(domain.KindInvalid, "codigo: given more than once", "codigo")
		}
		seen = true
		if code, err = d.text(el); err != nil {
			return "", err
		}
	}
	if err := d.close(); err != nil {
		return "", err
	}
	if code == "" {
		return "", domain.Errorf(domain.KindInvalid, "codigo: required", "codigo")
	}
	var errs domain.FieldErrors
	domain.CheckLen(&errs, "codigo", code, domain.MaxBatchCode)
	return code, errs.Err()
}
