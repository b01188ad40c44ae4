package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/templategw/templategw/emulator"
)

// The Firestore methods that commit writes. A transaction ends in one
// Commit, so counting Commit counts each transaction once, however many
// reads it made; a WriteBatch is one Commit too; BatchWrite is the
// non-atomic bulk writer.
const (
	methodCommit     = "/google.firestore.v1.Firestore/Commit"
	methodBatchWrite = "/google.firestore.v1.Firestore/BatchWrite"
)

// Proxy is a gRPC proxy in front of the Firestore emulator that forwards
// every call unchanged, as raw bytes, and counts the calls by method and
// the reads, writes and deletes Firestore would bill for them (see
// Billing). It sits where the emulator's door is, so it counts what the
// gateway's processes actually send, whatever client code sends it.
type Proxy struct {
	lis    net.Listener
	srv    *grpc.Server
	once   sync.Once
	ready  chan struct{} // closed by SetUpstream
	target string

	mu     sync.Mutex
	counts map[string]int64

	reads, writes, deletes atomic.Int64
}

// NewProxy listens on a free loopback port. Calls wait until SetUpstream
// names the emulator, so the proxy's address can be handed to processes
// started before the emulator's address is known.
func NewProxy() (*Proxy, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy listener: %w", err)
	}
	p := &Proxy{lis: lis, ready: make(chan struct{}), counts: map[string]int64{}}
	p.srv = grpc.NewServer(
		grpc.UnknownServiceHandler(p.forward),
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.StatsHandler(connTagger{}),
		// Firestore messages (a 500-write commit, a large BatchGet answer)
		// pass through whole, as the emulator would take them.
		grpc.MaxRecvMsgSize(1<<30), grpc.MaxSendMsgSize(1<<30),
	)
	go func() { _ = p.srv.Serve(lis) }()
	return p, nil
}

// Addr is the proxy's host:port, a value for FIRESTORE_EMULATOR_HOST.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// SetUpstream names the emulator (host:port) calls are forwarded to and
// releases the calls waiting for it. Only the first call has an effect.
func (p *Proxy) SetUpstream(target string) {
	p.once.Do(func() { p.target = target; close(p.ready) })
}

// Commits is how many commits the proxy has forwarded: Commit calls
// (single writes, write batches and transactions, each once) and
// BatchWrite calls.
func (p *Proxy) Commits() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[methodCommit] + p.counts[methodBatchWrite]
}

// Counts returns a copy of the calls received so far, by method.
func (p *Proxy) Counts() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Billed is what Firestore would have billed for the calls forwarded so
// far.
func (p *Proxy) Billed() Billing {
	return Billing{Reads: p.reads.Load(), Writes: p.writes.Load(), Deletes: p.deletes.Load()}
}

// Close stops the proxy; each connection to the emulator closes with the
// client connection it served.
func (p *Proxy) Close() { p.srv.Stop() }

// upstream is the emulator connection of one client connection. Each
// client connection gets its own, as it would talking to the emulator
// directly: one shared HTTP/2 connection would funnel every process's
// calls through a single connection of the emulator.
type upstream struct {
	once sync.Once
	conn *grpc.ClientConn
	err  error
}

func (u *upstream) get(target string) (*grpc.ClientConn, error) {
	u.once.Do(func() {
		u.conn, u.err = grpc.NewClient(target,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})),
		)
	})
	return u.conn, u.err
}

type upstreamKey struct{}

// connTagger gives each accepted client connection its upstream, and
// closes it with the connection.
type connTagger struct{}

func (connTagger) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, upstreamKey{}, &upstream{})
}

func (connTagger) HandleConn(ctx context.Context, s stats.ConnStats) {
	if u, _ := ctx.Value(upstreamKey{}).(*upstream); u != nil {
		if _, end := s.(*stats.ConnEnd); end {
			u.once.Do(func() {}) // a connection never used stays never made
			if u.conn != nil {
				_ = u.conn.Close()
			}
		}
	}
}

func (connTagger) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (connTagger) HandleRPC(context.Context, stats.RPCStats)                       {}

// streamAll describes every call as a bidirectional stream, which covers
// unary, server-streaming (RunQuery, BatchGetDocuments) and bidirectional
// (Listen) calls alike.
var streamAll = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// forward relays one call to the emulator and its answers back.
func (p *Proxy) forward(_ any, in grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(in)
	p.mu.Lock()
	p.counts[method]++
	p.mu.Unlock()
	ctx := in.Context()
	select {
	case <-p.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	u, _ := ctx.Value(upstreamKey{}).(*upstream)
	if u == nil {
		return errors.New("proxy: connection without upstream")
	}
	conn, err := u.get(p.target)
	if err != nil {
		return err
	}
	md, _ := metadata.FromIncomingContext(ctx)
	octx, cancel := context.WithCancel(metadata.NewOutgoingContext(ctx, forwardable(md)))
	defer cancel()
	out, err := conn.NewStream(octx, streamAll, method)
	if err != nil {
		return err
	}
	bill := newCallBill(method)

	// Client to emulator, until the client has sent everything. A client
	// that goes away cancels ctx, which ends the call upstream too; an
	// emulator that ends the call reports its status through RecvMsg
	// below. Either way the answer loop decides when the call is over.
	go func() {
		for {
			f := new(frame)
			if err := in.RecvMsg(f); err != nil {
				if err == io.EOF {
					_ = out.CloseSend()
				}
				return
			}
			bill.request(f)
			if err := out.SendMsg(f); err != nil {
				f.free()
				return
			}
		}
	}()

	// Emulator to client, headers first.
	if h, err := out.Header(); err == nil && len(h) > 0 {
		if err := in.SendHeader(h); err != nil {
			return err
		}
	}
	for {
		f := new(frame)
		err := out.RecvMsg(f)
		if err != nil {
			bill.done(p, err == io.EOF)
			in.SetTrailer(out.Trailer())
			if err == io.EOF {
				return nil
			}
			return err // the emulator's status, passed on as is
		}
		bill.response(f)
		if err := in.SendMsg(f); err != nil {
			bill.done(p, false)
			f.free()
			return err
		}
	}
}

// forwardable drops the headers gRPC sets itself from the caller's
// metadata; the rest (the emulator's "authorization: Bearer owner",
// routing headers) goes on unchanged.
func forwardable(md metadata.MD) metadata.MD {
	out := metadata.MD{}
	for k, v := range md {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") {
			continue
		}
		switch k {
		case "content-type", "user-agent", "te":
			continue
		}
		out[k] = v
	}
	return out
}

// frame is one message's bytes, never decoded.
type frame struct{ data mem.BufferSlice }

func (f *frame) free() {
	if f.data != nil {
		f.data.Free()
		f.data = nil
	}
}

// rawCodec passes messages through as bytes. Unmarshal keeps a reference
// to the received buffers and Marshal hands that reference to gRPC, which
// frees it once written: no copy either way.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("proxy codec: cannot marshal %T", v)
	}
	out := f.data
	f.data = nil
	return out, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("proxy codec: cannot unmarshal into %T", v)
	}
	data.Ref()
	f.data = data
	return nil
}

// Name is "proto": the bytes are protobuf, and the content type the
// emulator sees stays the one the client sent.
func (rawCodec) Name() string { return "proto" }

// shortMethod is a gRPC method's last element: Commit, RunQuery, …
func shortMethod(m string) string { return m[strings.LastIndexByte(m, '/')+1:] }

// FirestoreAt returns a Firestore client of project that talks to the
// emulator (or a proxy in front of it) at addr, whatever
// FIRESTORE_EMULATOR_HOST says.
func FirestoreAt(ctx context.Context, project, addr string) (*firestore.Client, error) {
	conn, err := emulator.DialFirestore(addr)
	if err != nil {
		return nil, err
	}
	fs, err := firestore.NewClient(ctx, project, option.WithGRPCConn(conn))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("firestore at %s: %w", addr, err)
	}
	return fs, nil
}
