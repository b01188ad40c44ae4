package bench

import (
	"sync"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// The Firestore methods whose frames the proxy decodes to tally what
// Firestore bills. Every other method (BeginTransaction, Rollback, …)
// bills nothing and is only counted, its frames never decoded, so the
// proxy spends its CPU where the bill is.
const (
	methodBatchGet    = "/google.firestore.v1.Firestore/BatchGetDocuments"
	methodRunQuery    = "/google.firestore.v1.Firestore/RunQuery"
	methodAggregation = "/google.firestore.v1.Firestore/RunAggregationQuery"
	methodListDocs    = "/google.firestore.v1.Firestore/ListDocuments"
	methodListen      = "/google.firestore.v1.Firestore/Listen"
)

// Billing is what Firestore bills for the calls the proxy forwarded, by
// its list-price units: document reads, writes and deletes, by the rules
// docs/benchmarks.md lists. Listen streams, the gateway's background
// caches, are left out: Proxy counts them as calls, apart from the
// per-message figures.
type Billing struct {
	Reads, Writes, Deletes int64
}

// Sub is b less an earlier snapshot.
func (b Billing) Sub(o Billing) Billing {
	return Billing{Reads: b.Reads - o.Reads, Writes: b.Writes - o.Writes, Deletes: b.Deletes - o.Deletes}
}

// callBill tallies one call's billed operations from its frames. The
// request side runs on the proxy's client-to-emulator goroutine, the
// answer side on the call's own, hence the lock.
type callBill struct {
	method string

	mu      sync.Mutex
	deletes []bool // a write request's writes: true for a delete
	applied []bool // a BatchWrite answer: the writes it applied
	docs    int64  // documents read so far
}

// newCallBill is a tally for method, nil for a method that bills nothing.
func newCallBill(method string) *callBill {
	switch method {
	case methodCommit, methodBatchWrite, methodBatchGet, methodRunQuery, methodAggregation, methodListDocs:
		return &callBill{method: method}
	}
	return nil
}

// request reads one frame the client sent. It decodes a copy: the frame's
// own bytes go on to the emulator unchanged.
func (c *callBill) request(f *frame) {
	var r interface {
		proto.Message
		GetWrites() []*firestorepb.Write
	}
	switch {
	case c == nil:
		return
	case c.method == methodCommit:
		r = &firestorepb.CommitRequest{}
	case c.method == methodBatchWrite:
		r = &firestorepb.BatchWriteRequest{}
	default:
		return
	}
	if proto.Unmarshal(f.data.Materialize(), r) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range r.GetWrites() {
		c.deletes = append(c.deletes, w.GetDelete() != "")
	}
}

// response reads one frame the emulator answered.
func (c *callBill) response(f *frame) {
	if c == nil || c.method == methodCommit {
		return
	}
	raw := f.data.Materialize()
	var n int64
	switch c.method {
	case methodBatchGet:
		var r firestorepb.BatchGetDocumentsResponse
		if proto.Unmarshal(raw, &r) == nil && (r.GetFound() != nil || r.GetMissing() != "") {
			n = 1
		}
	case methodRunQuery:
		var r firestorepb.RunQueryResponse
		if proto.Unmarshal(raw, &r) == nil && r.GetDocument() != nil {
			n = 1
		}
	case methodAggregation:
		var r firestorepb.RunAggregationQueryResponse
		if proto.Unmarshal(raw, &r) == nil && r.GetResult() != nil {
			n = 1
		}
	case methodListDocs:
		var r firestorepb.ListDocumentsResponse
		if proto.Unmarshal(raw, &r) == nil {
			n = max(1, int64(len(r.GetDocuments())))
		}
	case methodBatchWrite:
		var r firestorepb.BatchWriteResponse
		if proto.Unmarshal(raw, &r) == nil {
			c.mu.Lock()
			for _, s := range r.GetStatus() {
				c.applied = append(c.applied, s.GetCode() == 0)
			}
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	c.docs += n
	c.mu.Unlock()
}

// done adds the call's bill to p's once it has ended; ok says whether it
// ended with an OK status.
func (c *callBill) done(p *Proxy, ok bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, del := range c.deletes {
		applied := ok
		if c.method == methodBatchWrite {
			applied = i < len(c.applied) && c.applied[i]
		}
		switch {
		case applied && del:
			p.deletes.Add(1)
		case applied:
			p.writes.Add(1)
		}
	}
	// A query bills a read even when it matches nothing.
	if c.method == methodRunQuery && ok && c.docs == 0 {
		c.docs = 1
	}
	p.reads.Add(c.docs)
}
