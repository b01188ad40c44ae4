package emkt

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
)

// maxParams bounds one contact's parameters; a template has far fewer.
const maxParams = 32

// maxIdentificador is seed 003's bound on identificador.
const maxIdentificador = 13

// header is 50.01's batch-wide elements. agendamento, the batch's
// scheduled start, is the gateway's addition to seed 003.
type header struct {
	remetente, identificador, namespace, elementName string
	agendamento                                      string
	sendAt                                           time.Time // agendamento read
}

// field returns where the header element el goes, nil for any other.
func (h *header) field(el xml.StartElement) *string {
	switch strings.ToLower(el.Name.Local) {
	case "remetente":
		return &h.remetente
	case "identificador":
		return &h.identificador
	case "namespace":
		return &h.namespace
	case "element_name":
		return &h.elementName
	case "agendamento":
		return &h.agendamento
	}
	return nil
}

// check names every bad header element at once, and reads agendamento
// as of now.
func (h *header) check(now time.Time) error {
	var errs domain.FieldErrors
	if h.remetente == "" {
		errs.Add("remetente", "required")
	}
	domain.CheckLen(&errs, "remetente", h.remetente, domain.MaxChannelRef)
	domain.CheckLen(&errs, "namespace", h.namespace, domain.MaxNamespace)
	if h.elementName == "" {
		errs.Add("element_name", "required")
	}
	domain.CheckLen(&errs, "element_name", h.elementName, domain.MaxTemplateRef)
	if !alnum(h.identificador, maxIdentificador) {
		errs.Add("identificador", fmt.Sprintf("up to %d letters and digits", maxIdentificador))
	}
	if h.agendamento != "" {
		var problem string
		if h.sendAt, problem = domain.ParseSendAt(h.agendamento, now); problem != "" {
			errs.Add("agendamento", problem)
		}
	}
	return errs.Err()
}

func alnum(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// send serves 50.01: the header, then the contacts streamed into the
// batch service one at a time.
func (s *Server) send(a *exchange, tok domain.Token, d *decoder) {
	p := &sendParser{d: d}
	if err := p.header(); err != nil {
		a.fail(err)
		return
	}
	if err := p.h.check(time.Now()); err != nil {
		a.fail(err)
		return
	}
	spec := batch.Spec{
		Source: "emkt", Code: p.h.identificador, TemplateName: p.h.elementName, Channel: p.h.remetente,
		Namespace: p.h.namespace, National: true, Positional: true,
		IdempotencyKey: a.idem, RequestHash: a.hash, SendAt: p.h.sendAt,
	}
	if spec.IdempotencyKey == "" && spec.Code != "" {
		// The identificador is the client's idempotency key (DESIGN §2):
		// the same one with another request is refused, not replayed.
		spec.IdempotencyKey = "emkt:" + spec.Code
	}
	b, err := s.batches.Create(a.r.Context(), tok, spec, p.next)
	if domain.KindOf(err) == domain.KindKeyReused && a.idem == "" {
		err = domain.Errorf(domain.KindKeyReused, "identificador "+spec.Code+" was already used with a different request", "identificador")
	}
	if err != nil {
		a.fail(err)
		return
	}
	a.log.Info("emkt batch accepted", "batch", b.ID, "code", b.Code, "accepted", b.Accepted, "failed", b.Failed, "replayed", b.Replayed)
	enc := a.open(http.StatusOK, TransSend)
	_ = element(enc, "return", b.Code)
	_ = finish(enc)
}

// sendParser reads 50.01's children of <emkt>.
type sendParser struct {
	d       *decoder
	h       header
	pending bool // a <contact> start was read and its content not yet
	done    bool // </emkt> was read
}

// header reads the batch-wide elements up to the first <contact>: they
// must come first, so the batch is settled before its contacts stream.
func (p *sendParser) header() error {
	seen := map[*string]bool{}
	for {
		el, end, err := p.d.start()
		if err != nil {
			return err
		}
		if end {
			p.done = true
			return p.d.close()
		}
		if is(el, "contact") {
			p.pending = true
			return nil
		}
		f := p.h.field(el)
		if f == nil {
			if err := p.d.skip(); err != nil {
				return err
			}
			continue
		}
		if seen[f] {
			return domain.Errorf(domain.KindInvalid, strings.ToLower(el.Name.Local)+": given more than once", el.Name.Local)
		}
		seen[f] = true
		if *f, err = p.d.text(el); err != nil {
			return err
		}
	}
}

// next is the batch.Next of the request's contacts.
func (p *sendParser) next() (batch.Recipient, bool, error) {
	for !p.done {
		if p.pending {
			p.pending = false
			r, err := p.contact()
			return r, err == nil, err
		}
		el, end, err := p.d.start()
		if err != nil {
			return batch.Recipient{}, false, err
		}
		switch {
		case end:
			p.done = true
			if err := p.d.close(); err != nil {
				return batch.Recipient{}, false, err
			}
		case is(el, "contact"):
			p.pending = true
		case p.h.field(el) != nil:
			return batch.Recipient{}, false, domain.Errorf(domain.KindInvalid,
				strings.ToLower(el.Name.Local)+": must come before the first <contact>", el.Name.Local)
		default:
			if err := p.d.skip(); err != nil {
				return batch.Recipient{}, false, err
			}
		}
	}
	return batch.Recipient{}, false, nil
}

// contact reads one <contact>. What is wrong with it alone becomes its
// Problem, so it is refused without sinking the batch.
func (p *sendParser) contact() (batch.Recipient, error) {
	var r batch.Recipient
	c := contactParams{params: map[string]string{}}
	phones := 0
	for {
		el, end, err := p.d.start()
		if err != nil {
			return r, err
		}
		if end {
			break
		}
		switch {
		case is(el, "phone"), is(el, "telefone"):
			phones++
			if r.Raw, err = p.d.text(el); err != nil {
				return r, err
			}
		case is(el, "component"):
			if err := p.component(el, &c); err != nil {
				return r, err
			}
		default:
			if err := p.d.skip(); err != nil {
				return r, err
			}
		}
	}
	if phones > 1 {
		c.refuse("phone: given more than once")
	}
	if p := domain.LenProblem(r.Raw, domain.MaxPhoneInput); p != "" {
		// The number is kept to report the contact by: kept short.
		c.refuse("phone: " + p)
		r.Raw = clip(r.Raw, domain.MaxPhoneInput)
	}
	if len(c.params) > 0 {
		r.Params = c.params
	}
	r.Problem = c.problem
	return r, nil
}

// contactParams gathers a contact's parameters as the batch service keys
// them: body parameters "1", "2", … in order, "header", "button_N".
type contactParams struct {
	params  map[string]string
	body    int
	problem string
}

func (c *contactParams) refuse(problem string) {
	if c.problem == "" {
		c.problem = problem
	}
}

// component reads one <component type="body|header|button">.
func (p *sendParser) component(el xml.StartElement, c *contactParams) error {
	typ := strings.ToLower(strings.TrimSpace(attr(el, "type")))
	index := strings.TrimSpace(attr(el, "index"))
	for {
		pe, end, err := p.d.start()
		if err != nil {
			return err
		}
		if end {
			return nil
		}
		if !is(pe, "parameter") {
			if err := p.d.skip(); err != nil {
				return err
			}
			continue
		}
		v, err := p.d.text(pe)
		if err != nil {
			return err
		}
		if len(c.params) == maxParams {
			c.refuse(fmt.Sprintf("more than %d parameters", maxParams))
			continue
		}
		c.add(typ, index, v)
	}
}

func (c *contactParams) add(typ, index, v string) {
	key := ""
	switch typ {
	case "body", "":
		c.body++
		key = strconv.Itoa(c.body)
	case "header":
		key = domain.ParamHeader
	case "button":
		n, err := strconv.Atoi(index)
		if err != nil || n < 0 || n > 9 {
			c.refuse("component button: index must be 0 to 9")
			return
		}
		key = domain.ButtonParam(n)
	default:
		c.refuse("component type " + quote(typ) + " is not supported: body, header or button")
		return
	}
	if _, dup := c.params[key]; dup {
		c.refuse("component " + typ + ": one parameter only")
		return
	}
	if p := domain.LenProblem(v, domain.ParamMax(key)); p != "" {
		what := "component body parameter " + key
		if typ == "header" || typ == "button" {
			what = "component " + typ + " parameter"
		}
		c.refuse(what + ": " + p)
		return
	}
	c.params[key] = v
}

// clip cuts s to at most max characters.
func clip(s string, max int) string {
	for i := range s {
		if max == 0 {
			return s[:i]
		}
		max--
	}
	return s
}
