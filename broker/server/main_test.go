package server

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/proto/pulsar"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failsafe bounds every test; nothing waits on time otherwise.
const failsafe = 60 * time.Second

func testCtx(t testing.TB) context.Context { return testenv.Context(t, failsafe) }

// env is a real broker stack without ownership: an embedded etcd, one in-process
// bookie, a managed-ledger factory, the service, and the protocol server serving
// connections that tests open over in-memory pipes.
type env struct {
	t   *testing.T
	svc *service.Service
	srv *Server
	ln  *pipeListener
}

func newEnv(t *testing.T) *env {
	t.Helper()
	bc := bookietest.Start(t, "/srvtest", 1)
	mlf := managedledger.NewFactory(bc.Store, bc.Ledgers, managedledger.Config{})
	svc := service.New(bc.Store, mlf, service.Config{Cluster: "test"})
	if err := svc.Namespaces.Bootstrap(testCtx(t), "test"); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	// Cleanups run last-in first-out: the server closes, then the service, then the
	// ledger client and the bookie (registered by bookietest).
	t.Cleanup(func() { svc.Close(context.Background()) })
	srv := New(svc, Config{AdvertisedURL: "pulsar://broker.test:6650"})
	ln := newPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close(testCtx(t))
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &env{t: t, svc: svc, srv: srv, ln: ln}
}

// pipeListener hands the server the far ends of net.Pipe connections.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// client is the test's end of one connection: it writes frames with the wire codec and
// a goroutine of its own reads the server's frames into a channel, so the server's
// writer never waits for the test.
type client struct {
	t       *testing.T
	nc      net.Conn
	w       *wire.Writer
	frames  chan wire.Frame // closed when the connection ends
	readErr error           // set before frames is closed
}

// dial opens a connection without a handshake, for test t (which closes it at its end).
func (e *env) dial(t *testing.T) *client {
	t.Helper()
	cn, sn := net.Pipe()
	select {
	case e.ln.conns <- sn:
	case <-testCtx(t).Done():
		t.Fatal("the server did not accept")
	}
	c := &client{t: t, nc: cn, w: wire.NewWriter(cn, wire.DefaultMaxFrameSize), frames: make(chan wire.Frame, 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.frames)
		r := wire.NewReader(cn, wire.DefaultMaxFrameSize)
		for {
			f, err := r.ReadFrame()
			if err != nil {
				c.readErr = err
				return
			}
			c.frames <- f
		}
	}()
	t.Cleanup(func() {
		cn.Close()
		<-done
	})
	return c
}

// connect opens a connection and completes the handshake.
func (e *env) connect(t *testing.T) *client {
	t.Helper()
	c := e.dial(t)
	c.send(wire.NewConnect("test-client", 21))
	c.expect(pulsar.BaseCommand_CONNECTED)
	return c
}

// in returns c reporting to test t (a subtest using a connection of its parent's).
func (c *client) in(t *testing.T) *client {
	cp := *c
	cp.t = t
	return &cp
}

// send writes one command frame.
func (c *client) send(cmd *pulsar.BaseCommand) {
	c.t.Helper()
	if err := c.w.WriteCommand(cmd); err != nil {
		c.t.Fatalf("encode %s: %v", cmd.GetType(), err)
	}
	c.flush()
}

// sendPayload writes a command frame carrying entry ([metadataSize][metadata][payload]).
func (c *client) sendPayload(cmd *pulsar.BaseCommand, entry []byte) {
	c.t.Helper()
	if err := c.w.WritePayloadCommand(cmd, nil, entry); err != nil {
		c.t.Fatalf("encode %s: %v", cmd.GetType(), err)
	}
	c.flush()
}

// sendRaw writes bytes as they are. The server may close the connection before it
// has read them all (a pipe write then fails): the test looks at what the server does.
func (c *client) sendRaw(b []byte) { c.nc.Write(b) }

func (c *client) flush() {
	c.t.Helper()
	if err := c.w.Flush(); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame the server sent; it fails the test if the connection
// ended.
func (c *client) next() wire.Frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection ended: %v", c.readErr)
		}
		return f
	case <-testCtx(c.t).Done():
		c.t.Fatal("no frame from the server")
	}
	return wire.Frame{}
}

// expect returns the next frame and fails the test unless it is of type typ.
func (c *client) expect(typ pulsar.BaseCommand_Type) *pulsar.BaseCommand {
	c.t.Helper()
	f := c.next()
	if f.Command.GetType() != typ {
		c.t.Fatalf("got %s (%v), want %s", f.Command.GetType(), f.Command, typ)
	}
	return f.Command
}

// expectClosed waits for the server to end the connection, failing the test on any
// frame before that.
func (c *client) expectClosed() {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if ok {
			c.t.Fatalf("got %s, want the connection closed", f.Command.GetType())
		}
	case <-testCtx(c.t).Done():
		c.t.Fatal("the server did not close the connection")
	}
}

// expectError returns the next frame, which must be ERROR for reqID with code.
func (c *client) expectError(reqID uint64, code pulsar.ServerError) *pulsar.CommandError {
	c.t.Helper()
	e := c.expect(pulsar.BaseCommand_ERROR).GetError()
	if e.GetRequestId() != reqID || e.GetError() != code {
		c.t.Fatalf("ERROR for request %d with %s (%q), want request %d with %s",
			e.GetRequestId(), e.GetError(), e.GetMessage(), reqID, code)
	}
	return e
}

// Commands the client sends.

func producerCmd(topic string, prodID, reqID uint64) *pulsar.BaseCommand {
	return &pulsar.BaseCommand{Type: pulsar.BaseCommand_PRODUCER.Enum(), Producer: &pulsar.CommandProducer{
		Topic: proto.String(topic), ProducerId: proto.Uint64(prodID), RequestId: proto.Uint64(reqID)}}
}

func subscribeCmd(topic, sub string, typ pulsar.CommandSubscribe_SubType, consID, reqID uint64) *pulsar.BaseCommand {
	return &pulsar.BaseCommand{Type: pulsar.BaseCommand_SUBSCRIBE.Enum(), Subscribe: &pulsar.CommandSubscribe{
		Topic: proto.String(topic), Subscription: proto.String(sub), SubType: typ.Enum(),
		ConsumerId: proto.Uint64(consID), RequestId: proto.Uint64(reqID),
		InitialPosition: pulsar.CommandSubscribe_Earliest.Enum()}}
}

func flowCmd(consID uint64, permits uint32) *pulsar.BaseCommand {
	return &pulsar.BaseCommand{Type: pulsar.BaseCommand_FLOW.Enum(), Flow: &pulsar.CommandFlow{
		ConsumerId: proto.Uint64(consID), MessagePermits: proto.Uint32(permits)}}
}

func ackCmd(consID, reqID uint64, ids ...*pulsar.MessageIdData) *pulsar.BaseCommand {
	return &pulsar.BaseCommand{Type: pulsar.BaseCommand_ACK.Enum(), Ack: &pulsar.CommandAck{
		ConsumerId: proto.Uint64(consID), AckType: pulsar.CommandAck_Individual.Enum(), MessageId: ids,
		RequestId: proto.Uint64(reqID)}}
}

func closeProducerCmd(prodID, reqID uint64) *pulsar.BaseCommand {
	return &pulsar.BaseCommand{Type: pulsar.BaseCommand_CLOSE_PRODUCER.Enum(), CloseProducer: &pulsar.CommandCloseProducer{
		ProducerId: proto.Uint64(prodID), RequestId: proto.Uint64(reqID)}}
}

func closeConsumerCmd(consID, reqID uint64) *pulsar.BaseCommand {
	return &pulsar.BaseCommand{Type: pulsar.BaseCommand_CLOSE_CONSUMER.Enum(), CloseConsumer: &pulsar.CommandCloseConsumer{
		ConsumerId: proto.Uint64(consID), RequestId: proto.Uint64(reqID)}}
}

// entry is what a producer sends after a SEND command: [metadataSize][metadata][payload].
func entry(t testing.TB, producer string, seq uint64, payload string) []byte {
	t.Helper()
	md, err := proto.Marshal(&pulsar.MessageMetadata{ProducerName: proto.String(producer),
		SequenceId: proto.Uint64(seq), PublishTime: proto.Uint64(1)})
	if err != nil {
		t.Fatal(err)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(md)))
	return append(append(b, md...), payload...)
}

// produce creates a producer on c and publishes payloads, checking each receipt.
func produce(c *client, topic string, prodID uint64, payloads ...string) {
	c.t.Helper()
	c.send(producerCmd(topic, prodID, 1000+prodID))
	name := c.expect(pulsar.BaseCommand_PRODUCER_SUCCESS).GetProducerSuccess().GetProducerName()
	for i, p := range payloads {
		c.sendPayload(wire.NewSend(prodID, uint64(i), 1), entry(c.t, name, uint64(i), p))
		r := c.expect(pulsar.BaseCommand_SEND_RECEIPT).GetSendReceipt()
		if r.GetSequenceId() != uint64(i) {
			c.t.Fatalf("receipt for sequence %d, want %d", r.GetSequenceId(), i)
		}
	}
}
