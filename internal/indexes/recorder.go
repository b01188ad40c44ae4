package indexes

import (
	"context"
	"os"
	"slices"
	"sync"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/templategw/templategw/emulator"
)

// The Firestore methods whose requests carry a structured query.
const (
	runQuery            = "/google.firestore.v1.Firestore/RunQuery"
	runAggregationQuery = "/google.firestore.v1.Firestore/RunAggregationQuery"
	listen              = "/google.firestore.v1.Firestore/Listen"
)

// Recorder records the shape of every query a Firestore client sends:
// RunQuery, RunAggregationQuery (a count needs the index of its query)
// and query targets of Listen. Values, cursors and limits are dropped, so
// a test suite running one query many times keeps one copy. The zero
// Recorder is ready to use and safe for concurrent clients.
type Recorder struct {
	mu     sync.Mutex
	shapes map[string]*firestorepb.StructuredQuery
}

// Queries returns the distinct query shapes recorded so far.
func (r *Recorder) Queries() []*firestorepb.StructuredQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.shapes))
	for k := range r.shapes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*firestorepb.StructuredQuery, len(keys))
	for i, k := range keys {
		out[i] = r.shapes[k]
	}
	return out
}

// Record adds q's shape.
func (r *Recorder) Record(q *firestorepb.StructuredQuery) {
	if q == nil {
		return
	}
	s := shapeOf(q)
	key, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
	if err != nil {
		// A query the client just marshalled for the wire marshals again;
		// keep it under its text form rather than lose it.
		key = []byte(s.String())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shapes == nil {
		r.shapes = map[string]*firestorepb.StructuredQuery{}
	}
	r.shapes[string(key)] = s
}

// shapeOf keeps what decides the index: collection, filters' fields and
// operators, and orders.
func shapeOf(q *firestorepb.StructuredQuery) *firestorepb.StructuredQuery {
	return &firestorepb.StructuredQuery{
		From:    q.GetFrom(),
		Where:   filterShape(q.GetWhere()),
		OrderBy: q.GetOrderBy(),
	}
}

func filterShape(f *firestorepb.StructuredQuery_Filter) *firestorepb.StructuredQuery_Filter {
	switch {
	case f.GetCompositeFilter() != nil:
		c := f.GetCompositeFilter()
		subs := make([]*firestorepb.StructuredQuery_Filter, len(c.GetFilters()))
		for i, s := range c.GetFilters() {
			subs[i] = filterShape(s)
		}
		return &firestorepb.StructuredQuery_Filter{FilterType: &firestorepb.StructuredQuery_Filter_CompositeFilter{
			CompositeFilter: &firestorepb.StructuredQuery_CompositeFilter{Op: c.GetOp(), Filters: subs},
		}}
	case f.GetFieldFilter() != nil:
		ff := f.GetFieldFilter()
		return &firestorepb.StructuredQuery_Filter{FilterType: &firestorepb.StructuredQuery_Filter_FieldFilter{
			FieldFilter: &firestorepb.StructuredQuery_FieldFilter{Field: ff.GetField(), Op: ff.GetOp()},
		}}
	}
	return f // unary filters and nil carry no value
}

// StreamInterceptor records the query of every streaming call that has
// one; RunQuery and RunAggregationQuery are server-streaming, so every
// query a client sends passes here.
func (r *Recorder) StreamInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		switch method {
		case runQuery, runAggregationQuery, listen:
			return &recordingStream{ClientStream: s, r: r}, nil
		}
		return s, nil
	}
}

type recordingStream struct {
	grpc.ClientStream
	r *Recorder
}

func (s *recordingStream) SendMsg(m any) error {
	switch req := m.(type) {
	case *firestorepb.RunQueryRequest:
		s.r.Record(req.GetStructuredQuery())
	case *firestorepb.RunAggregationQueryRequest:
		s.r.Record(req.GetStructuredAggregationQuery().GetStructuredQuery())
	case *firestorepb.ListenRequest:
		s.r.Record(req.GetAddTarget().GetQuery().GetStructuredQuery())
	}
	return s.ClientStream.SendMsg(m)
}

// ClientOptions returns the options that make a firestore.NewClient
// record into r.
//
// Against Google's service the interceptor is chained after the client's
// own. Against the emulator (FIRESTORE_EMULATOR_HOST), the client
// library dials a connection of its own and hands it over with
// option.WithGRPCConn, which ignores every dial option; so here the
// emulator is dialled the way the library dials it, with the interceptor
// added, and that connection replaces the library's, which is never used
// and, being lazy, never connects. Closing the client closes this
// connection.
func (r *Recorder) ClientOptions() ([]option.ClientOption, error) {
	interceptor := grpc.WithChainStreamInterceptor(r.StreamInterceptor())
	addr := os.Getenv("FIRESTORE_EMULATOR_HOST")
	if addr == "" {
		return []option.ClientOption{option.WithGRPCDialOption(interceptor)}, nil
	}
	conn, err := emulator.DialFirestore(addr, interceptor)
	if err != nil {
		return nil, err
	}
	return []option.ClientOption{option.WithGRPCConn(conn)}, nil
}
