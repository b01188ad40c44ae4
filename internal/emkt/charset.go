package emkt

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// charsetReader decodes the single-byte encodings Brazilian XML clients
// declare besides UTF-8 (<?xml version="1.0" encoding="ISO-8859-1"?>).
// encoding/xml handles UTF-8 itself and refuses any other declared
// encoding without a CharsetReader.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1":
		return &singleByte{src: bufio.NewReader(in)}, nil
	case "windows-1252", "cp1252", "x-cp1252":
		return &singleByte{src: bufio.NewReader(in), high: &cp1252}, nil
	case "us-ascii", "ascii":
		return in, nil // a subset of UTF-8; anything else fails UTF-8 checks
	}
	return nil, fmt.Errorf("unsupported encoding %s: send UTF-8, ISO-8859-1 or windows-1252", quote(label))
}

// singleByte turns a single-byte encoding into UTF-8: bytes below 0x80
// are ASCII, the rest are ISO-8859-1 code points, except 0x80–0x9F when a
// table (windows-1252) redefines them.
type singleByte struct {
	src    *bufio.Reader
	high   *[32]rune
	pend   [utf8.UTFMax]byte
	pi, pn int
}

func (s *singleByte) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if s.pi < s.pn {
			p[n] = s.pend[s.pi]
			s.pi++
			n++
			continue
		}
		// Never block for more input with something to hand over.
		if n > 0 && s.src.Buffered() == 0 {
			break
		}
		b, err := s.src.ReadByte()
		if err != nil {
			if n > 0 {
				break
			}
			return 0, err
		}
		if b < 0x80 {
			p[n] = b
			n++
			continue
		}
		r := rune(b)
		if s.high != nil && b < 0xA0 {
			r = s.high[b-0x80]
		}
		s.pn, s.pi = utf8.EncodeRune(s.pend[:], r), 0
	}
	return n, nil
}

// cp1252 is windows-1252's 0x80–0x9F; its five unassigned bytes keep their
// ISO-8859-1 code points.
var cp1252 = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}
