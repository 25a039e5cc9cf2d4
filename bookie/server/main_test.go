package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/strata-io/strata/bookie/store"
	"github.com/strata-io/strata/internal/testenv"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const failsafe = 30 * time.Second

func testCtx(t *testing.T) context.Context { return testenv.Context(t, failsafe) }

// env is a bookie service on an in-memory store and an in-memory connection.
type env struct {
	fs  vfs.FS
	st  *store.Store
	srv *Server
	g   *grpc.Server
	lis *bufconn.Listener
	cli bookiev1.BookieClient
}

func start(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{fs: vfs.NewMem()}
	e.open(t, cfg)
	return e
}

// open starts (or restarts) the service on e.fs.
func (e *env) open(t *testing.T, cfg Config) {
	t.Helper()
	st, err := store.Open("db", store.Options{FS: e.fs})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(srv.GRPCOptions()...)
	srv.Register(g)
	lis := bufconn.Listen(1 << 20)
	go g.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	e.st, e.srv, e.g, e.lis, e.cli = st, srv, g, lis, bookiev1.NewBookieClient(conn)
	t.Cleanup(func() {
		conn.Close()
		e.stop()
	})
}

func (e *env) stop() {
	e.srv.Shutdown()
	e.g.Stop()
	e.st.Close()
}

func req(ledger uint64, entry, lac int64, payload string) *bookiev1.AddRequest {
	p := []byte(payload)
	return &bookiev1.AddRequest{LedgerId: ledger, EntryId: entry, Lac: lac, Payload: p, Crc32C: store.Checksum(p)}
}

func recovery(r *bookiev1.AddRequest) *bookiev1.AddRequest { r.Recovery = true; return r }

// adder is a client side of an AddEntries stream.
type adder struct {
	t  *testing.T
	s  bookiev1.Bookie_AddEntriesClient
	rs chan *bookiev1.AddResponse
	// err is the error that ended the stream, set before rs is closed.
	err error
}

func (e *env) adder(t *testing.T) *adder {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	s, err := e.cli.AddEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := &adder{t: t, s: s, rs: make(chan *bookiev1.AddResponse, 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			r, err := s.Recv()
			if err != nil {
				a.err = err
				close(a.rs)
				return
			}
			a.rs <- r
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func (a *adder) send(r *bookiev1.AddRequest) {
	a.t.Helper()
	if err := a.s.Send(r); err != nil {
		a.t.Fatalf("send: %v", err)
	}
}

func (a *adder) next() *bookiev1.AddResponse {
	a.t.Helper()
	select {
	case r, ok := <-a.rs:
		if !ok {
			a.t.Fatal("stream ended")
		}
		return r
	case <-time.After(failsafe):
		a.t.Fatal("no response")
		return nil
	}
}

// do sends one request and returns the reason of its response ("" for success).
func (a *adder) do(r *bookiev1.AddRequest) string {
	a.t.Helper()
	a.send(r)
	resp := a.next()
	if resp.LedgerId != r.LedgerId || resp.EntryId != r.EntryId {
		a.t.Fatalf("response for %d/%d, sent %d/%d", resp.LedgerId, resp.EntryId, r.LedgerId, r.EntryId)
	}
	if resp.Error == nil {
		return ""
	}
	if got := bookiev1.CodeFor(resp.Error.Reason); uint32(got) != resp.Error.Code {
		a.t.Fatalf("reason %s with code %d, table says %d", resp.Error.Reason, resp.Error.Code, got)
	}
	return resp.Error.Reason
}
