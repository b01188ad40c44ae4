package bench

import (
	"bytes"
	"fmt"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/demo"
)

// MaxContacts is the most contacts one emkt 50.01 may carry: the batch
// service's limit (docs/emkt.md).
const MaxContacts = batch.DefaultMaxRecipients

// emktBody is demo.EmktBatch in memory: the request is generated before
// it is timed, so the generator's work is not counted against the gateway
// on a machine they share.
func emktBody(n int, phone func(i int) string) []byte {
	var b bytes.Buffer
	b.Grow(n * 150)
	_ = demo.EmktBatch(&b, "", n, phone) // a bytes.Buffer does not fail
	return b.Bytes()
}

// phones numbers the recipients of one run: distinct Brazilian mobiles
// (DDD, then 9 and eight digits) whose last four digits stay clear of the
// sandbox's failure suffixes (0001 to 0009). run keeps two runs against
// the same long-lived stack from reusing numbers, whose conversations the
// first run may have opened.
type phones struct {
	ddd string // two digits
	run int    // 10 to 99
}

// national is recipient i's number without the country code: 11 digits.
// Up to 900,000 recipients per DDD and run.
func (p phones) national(i int) string {
	return fmt.Sprintf("%s9%02d%02d%04d", p.ddd, p.run, i/9000, 1000+i%9000)
}

// full is recipient i's number with Brazil's country code, as the Atom
// API and Meta take it.
func (p phones) full(i int) string { return demo.CountryCode + p.national(i) }
