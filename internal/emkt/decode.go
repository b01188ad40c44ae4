package emkt

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/templategw/templategw/internal/domain"
)

// Bounds on what one request may make the parser hold. The body is read a
// token at a time, so these, not the body's size, bound memory.
const (
	// maxToken bounds one token: a tag with its attributes, a run of
	// text, a comment.
	maxToken = 16 << 10
	// maxText bounds the text of one element (its text tokens together).
	maxText = 16 << 10
	// maxDepth bounds nesting; emkt's deepest element is 5 levels down.
	maxDepth = 16
)

// decoder reads an emkt body token by token. It counts depth itself, and
// skips unknown elements itself, so neither a deep nor a long document
// grows the encoding/xml decoder's own state.
type decoder struct {
	dec   *xml.Decoder
	src   *bounded
	depth int
}

func newDecoder(r io.Reader) *decoder {
	src := &bounded{r: r}
	dec := xml.NewDecoder(src)
	dec.CharsetReader = charsetReader
	return &decoder{dec: dec, src: src}
}

// bounded fails a read that would take the current token past maxToken
// bytes of input. encoding/xml reads ahead through a 4 KiB buffer, so the
// bound is maxToken plus that much.
type bounded struct {
	r     io.Reader
	read  int64
	limit int64
}

var errTokenTooLarge = tooLarge(fmt.Sprintf("an element, text or comment over %d KiB", maxToken>>10))

func (b *bounded) Read(p []byte) (int, error) {
	room := b.limit - b.read
	if room <= 0 {
		return 0, errTokenTooLarge
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// token returns the next element start, element end or text; comments,
// processing instructions and directives are skipped. Text is only valid
// until the next call.
func (d *decoder) token() (xml.Token, error) {
	t, err := d.next()
	if err != nil {
		return nil, d.problem(err)
	}
	return t, nil
}

// next is token with the decoder's own errors, io.EOF included.
func (d *decoder) next() (xml.Token, error) {
	for {
		d.src.limit = d.src.read + maxToken
		tok, err := d.dec.Token()
		if err != nil {
			return nil, err
		}
		// tok is returned as it came: converting it back from its concrete
		// type would allocate once per token.
		switch tok.(type) {
		case xml.StartElement:
			d.depth++
			if d.depth > maxDepth {
				return nil, domain.Errorf(domain.KindInvalid, fmt.Sprintf("malformed emkt XML: nested deeper than %d elements", maxDepth))
			}
			return tok, nil
		case xml.EndElement:
			d.depth--
			return tok, nil
		case xml.CharData:
			return tok, nil
		}
	}
}

// problem names a decoding failure for the client.
func (d *decoder) problem(err error) error {
	var syn *xml.SyntaxError
	var tl tooLarge
	var mb *http.MaxBytesError
	var de *domain.Error
	switch {
	case errors.Is(err, io.EOF):
		if d.dec.InputOffset() == 0 {
			return domain.Errorf(domain.KindNoData, "no data to send: the body is empty")
		}
		return domain.Errorf(domain.KindInvalid, "malformed emkt XML: the body ends before </main>")
	case errors.As(err, &syn):
		return domain.Errorf(domain.KindInvalid, fmt.Sprintf("malformed XML at line %d: %s", syn.Line, syn.Msg))
	case errors.As(err, &tl), errors.As(err, &mb), errors.As(err, &de):
		return err
	}
	return domain.Errorf(domain.KindInvalid, "malformed XML: "+err.Error())
}

// start returns the next element start at this level, skipping text
// between elements; end is true when the enclosing element ends first.
func (d *decoder) start() (el xml.StartElement, end bool, err error) {
	for {
		t, err := d.token()
		if err != nil {
			return el, false, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			return t, false, nil
		case xml.EndElement:
			return el, true, nil
		}
	}
}

// text reads the rest of the element just started and returns its text,
// nested elements' text included, without surrounding space.
func (d *decoder) text(el xml.StartElement) (string, error) {
	var b strings.Builder
	level := d.depth
	for {
		t, err := d.token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			if b.Len()+len(t) > maxText {
				return "", tooLarge(fmt.Sprintf("<%s> has over %d KiB of text", el.Name.Local, maxText>>10))
			}
			b.Write(t)
		case xml.EndElement:
			if d.depth < level {
				return strings.TrimSpace(b.String()), nil
			}
		}
	}
}

// skip reads the rest of the element just started.
func (d *decoder) skip() error {
	level := d.depth
	for {
		t, err := d.token()
		if err != nil {
			return err
		}
		if _, ok := t.(xml.EndElement); ok && d.depth < level {
			return nil
		}
	}
}

// open reads <main><emkt trans="…"> and returns trans.
func (d *decoder) open() (string, error) {
	root, end, err := d.start()
	if err != nil {
		return "", err
	}
	if end || !is(root, "main") {
		return "", domain.Errorf(domain.KindInvalid, "malformed emkt XML: the root element must be <main>")
	}
	for {
		el, end, err := d.start()
		if err != nil {
			return "", err
		}
		if end {
			return "", domain.Errorf(domain.KindInvalid, "malformed emkt XML: <main> has no <emkt>")
		}
		if is(el, "emkt") {
			return strings.TrimSpace(attr(el, "trans")), nil
		}
		if err := d.skip(); err != nil {
			return "", err
		}
	}
}

// close reads what follows </emkt>: </main>, then nothing but space,
// comments and processing instructions.
func (d *decoder) close() error {
	if _, end, err := d.start(); err != nil {
		return err
	} else if !end {
		return domain.Errorf(domain.KindInvalid, "malformed emkt XML: one <emkt> per request")
	}
	for {
		t, err := d.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return d.problem(err)
		}
		if cd, ok := t.(xml.CharData); ok && len(strings.TrimSpace(string(cd))) == 0 {
			continue
		}
		return domain.Errorf(domain.KindInvalid, "malformed emkt XML: content after </main>")
	}
}

// is reports whether el is named name, in any case: clients of XML APIs
// of this age are not consistent about it.
func is(el xml.StartElement, name string) bool { return strings.EqualFold(el.Name.Local, name) }

func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if strings.EqualFold(a.Name.Local, name) {
			return a.Value
		}
	}
	return ""
}
