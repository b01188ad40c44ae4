package demo

import (
	"bufio"
	"fmt"
	"io"
)

// EmktBatch writes a Hi Platform 50.01 of the demo channel's alerta1
// template (one body parameter, "Cliente i") to n contacts, in the shape
// of seed 003's example; contact i's national number is phone(i). id, when
// set, is the client's <identificador>. It writes as it goes, so a large
// batch can stream through a pipe without existing whole.
func EmktBatch(w io.Writer, id string, n int, phone func(i int) string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "<main>\n  <emkt trans=\"50.01\">\n  <remetente>%s</remetente>\n", SenderCode)
	if id != "" {
		fmt.Fprintf(bw, "  <identificador>%s</identificador>\n", id)
	}
	fmt.Fprintf(bw, "  <namespace>%s</namespace>\n  <element_name>alerta1</element_name>\n", Namespace)
	for i := range n {
		fmt.Fprintf(bw, "  <contact>\n      <phone>%s</phone>\n      <component type=\"body\">\n      <parameter type=\"text\">Cliente %d</parameter>\n      </component>\n   </contact>\n", phone(i), i)
	}
	fmt.Fprintf(bw, "  </emkt>\n</main>\n")
	return bw.Flush()
}
