package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// maxProtocolVersion is the newest protocol version we speak; CONNECTED answers
// min(client, this).
const maxProtocolVersion = 21

// minProtocolVersion: older clients lack fields the broker relies on.
const minProtocolVersion = 6

// outFrame is one frame queued for the writer. entry is set for MESSAGE frames.
type outFrame struct {
	cmd   *pulsar.BaseCommand
	entry []byte
	// slot: the frame answers a SEND and holds one of publishSlots, which the writer
	// frees when it takes the frame.
	slot bool
}

// handlerTimeout bounds each async handler (opening a topic, a lookup, a seek).
const handlerTimeout = 30 * time.Second

// conn is one client connection. The reader goroutine (run) owns reading and handling;
// the writer goroutine owns the socket's write side. Handlers that do I/O (opening a
// topic) run on their own goroutines (async) and answer through the same queue.
//
// One context, ctx, lives as long as the connection: close cancels it, and every
// handler's context derives from it, so a closing connection stops its handlers'
// I/O without a watcher goroutine per handler.
type conn struct {
	srv *Server
	nc  net.Conn
	log *slog.Logger

	// ctx is cancelled by close; done is ctx.Done(), for selects.
	ctx       context.Context
	cancel    context.CancelFunc
	done      <-chan struct{}
	closeOnce sync.Once

	out chan outFrame
	// publishSlots bounds SENDs whose answer the writer has not taken yet (back-pressure
	// on a fast producer, or on one that stops reading).
	publishSlots chan struct{}
	// sendAnswers carries SEND_RECEIPT and SEND_ERROR frames, in the order the
	// managed ledger completes the adds. They are queued from the topic's callback
	// goroutine, which must never wait for this connection: a client that stops
	// reading would hold up every producer of the topic.
	// Invariant: every frame in it holds a publish slot, so len ≤ cap = the slot count
	// and queueing never blocks.
	sendAnswers chan outFrame
	// handlers tracks the async handlers; teardown waits for them.
	// Invariant: only the reader goroutine adds to it (handlers start from handle),
	// and it waits for it only after its last handle, so no Add races the Wait.
	handlers sync.WaitGroup

	mu sync.Mutex
	// Invariant: producers and consumers hold this connection's registered handles by
	// the client's ids; a closed connection holds none.
	producers map[uint64]*producerHandle
	consumers map[uint64]*consumerHandle
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		srv: s, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String()),
		ctx: ctx, cancel: cancel, done: ctx.Done(),
		out:          make(chan outFrame, 1024),
		publishSlots: make(chan struct{}, s.cfg.MaxPendingPublishPerConnection),
		sendAnswers:  make(chan outFrame, s.cfg.MaxPendingPublishPerConnection),
		producers:    map[uint64]*producerHandle{},
		consumers:    map[uint64]*consumerHandle{},
	}
}

// send queues a frame for the writer; it drops it if the connection is gone.
func (c *conn) send(cmd *pulsar.BaseCommand) { c.sendFrame(outFrame{cmd: cmd}) }

func (c *conn) sendFrame(f outFrame) bool {
	select {
	case c.out <- f:
		return true
	case <-c.done:
		return false
	}
}

// sendAnswer queues the answer to a SEND that holds a publish slot; it never blocks.
func (c *conn) sendAnswer(cmd *pulsar.BaseCommand) {
	select {
	case c.sendAnswers <- outFrame{cmd: cmd, slot: true}:
	default:
		// Unreachable while the invariant holds; never block the caller for it.
		c.log.Error("send answer queue full; closing the connection", "type", cmd.GetType().String())
		c.close()
	}
}

// close tears the connection down (idempotent, any goroutine, never waits): the
// connection's context is cancelled, which stops its handlers, and the socket closes,
// which ends the reader; the reader's teardown then waits for the handlers and
// unregisters the producers and consumers from their topics.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

func (c *conn) run() {
	defer c.teardown()
	r := wire.NewReader(c.nc, c.srv.cfg.MaxMessageSize+wire.FramePadding)
	// The handshake's answer is written before the writer starts: CONNECTED is the
	// first frame, and a refusal reaches the client before the connection closes.
	if err := c.handshake(r); err != nil {
		c.log.Debug("handshake failed", "err", err)
		c.close()
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	defer func() { <-writerDone }()
	defer c.close()

	for {
		c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
		f, err := r.ReadFrame()
		if err != nil {
			select {
			case <-c.done:
			default:
				if !errors.Is(err, net.ErrClosed) {
					c.log.Debug("connection read ended", "err", err)
				}
			}
			return
		}
		if err := c.handle(f); err != nil {
			c.log.Info("closing connection", "err", err)
			return
		}
	}
}

// handshake reads CONNECT and writes the answer itself (the writer is not running yet).
func (c *conn) handshake(r *wire.Reader) error {
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	f, err := r.ReadFrame()
	if err != nil {
		return err
	}
	if f.Command.GetType() != pulsar.BaseCommand_CONNECT {
		return fmt.Errorf("server: first command is %s, not CONNECT", f.Command.GetType())
	}
	cc := f.Command.GetConnect()
	v := cc.GetProtocolVersion()
	if v < minProtocolVersion {
		c.writeNow(wire.NewError(0, pulsar.ServerError_UnsupportedVersionError,
			fmt.Sprintf("protocol version %d is too old; need %d or newer", v, minProtocolVersion)))
		return fmt.Errorf("server: protocol version %d unsupported", v)
	}
	if v > maxProtocolVersion {
		v = maxProtocolVersion
	}
	c.log = c.log.With("client", cc.GetClientVersion())
	return c.writeNow(wire.NewConnected(c.srv.cfg.ServerVersion, v, int32(c.srv.cfg.MaxMessageSize)))
}

// writeNow writes one frame directly; only before the writer goroutine starts.
func (c *conn) writeNow(cmd *pulsar.BaseCommand) error {
	w := wire.NewWriter(c.nc, c.srv.cfg.MaxMessageSize+wire.FramePadding)
	if err := w.WriteCommand(cmd); err != nil {
		return err
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
	return w.Flush()
}

// writeLoop batches queued frames into one write per wake-up.
func (c *conn) writeLoop() {
	w := wire.NewWriter(c.nc, c.srv.cfg.MaxMessageSize+wire.FramePadding)
	for {
		var f outFrame
		select {
		case f = <-c.out:
		case f = <-c.sendAnswers:
		case <-c.done:
			return
		}
		for {
			c.appendFrame(w, f)
			if f.slot {
				<-c.publishSlots
			}
			if w.Buffered() >= 256<<10 {
				break
			}
			select {
			case f = <-c.out:
				continue
			case f = <-c.sendAnswers:
				continue
			default:
			}
			break
		}
		c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
		if err := w.Flush(); err != nil {
			c.log.Debug("write failed", "err", err)
			c.close()
			return
		}
	}
}

func (c *conn) appendFrame(w *wire.Writer, f outFrame) {
	var err error
	if f.entry != nil {
		err = w.WritePayloadCommand(f.cmd, nil, f.entry)
	} else {
		err = w.WriteCommand(f.cmd)
	}
	if err != nil {
		// A frame we cannot encode is our bug or a stored entry we cannot frame; the
		// client must not see half of it. Log it and leave it out.
		c.log.Error("cannot encode frame", "type", f.cmd.GetType().String(), "err", err)
	}
}

// teardown unregisters everything this connection held.
func (c *conn) teardown() {
	c.handlers.Wait()
	c.mu.Lock()
	producers := c.producers
	consumers := c.consumers
	c.producers, c.consumers = map[uint64]*producerHandle{}, map[uint64]*consumerHandle{}
	c.mu.Unlock()
	for _, p := range producers {
		p.topic.RemoveProducer(p.p)
	}
	for _, cs := range consumers {
		cs.detach()
	}
}

// async runs a handler that does I/O on one goroutine of its own, tracked by
// c.handlers. Its context ends with the connection or after handlerTimeout. Called
// from the reader goroutine only (see c.handlers).
func (c *conn) async(f func(ctx context.Context)) {
	c.handlers.Go(func() {
		ctx, cancel := context.WithTimeout(c.ctx, handlerTimeout)
		defer cancel()
		f(ctx)
	})
}

// handle dispatches one frame. A returned error closes the connection.
func (c *conn) handle(f wire.Frame) error {
	cmd := f.Command
	switch cmd.GetType() {
	case pulsar.BaseCommand_PING:
		c.send(wire.NewPong())
	case pulsar.BaseCommand_PONG:
	case pulsar.BaseCommand_CONNECT:
		return errors.New("server: CONNECT after the handshake")
	case pulsar.BaseCommand_LOOKUP:
		c.handleLookup(cmd.GetLookupTopic())
	case pulsar.BaseCommand_PARTITIONED_METADATA:
		c.handlePartitionedMetadata(cmd.GetPartitionMetadata())
	case pulsar.BaseCommand_GET_TOPICS_OF_NAMESPACE:
		c.handleTopicsOfNamespace(cmd.GetGetTopicsOfNamespace())
	case pulsar.BaseCommand_GET_SCHEMA:
		c.handleGetSchema(cmd.GetGetSchema())
	case pulsar.BaseCommand_GET_OR_CREATE_SCHEMA:
		c.handleGetOrCreateSchema(cmd.GetGetOrCreateSchema())
	case pulsar.BaseCommand_PRODUCER:
		c.handleProducer(cmd.GetProducer())
	case pulsar.BaseCommand_SEND:
		c.handleSend(cmd.GetSend(), f)
	case pulsar.BaseCommand_CLOSE_PRODUCER:
		c.handleCloseProducer(cmd.GetCloseProducer())
	case pulsar.BaseCommand_AUTH_RESPONSE:
		// Authentication is not enabled; nothing to refresh.
	default:
		if c.handleConsumerCommand(f) {
			return nil
		}
		if id, ok := wire.RequestID(cmd); ok {
			c.send(wire.NewError(id, pulsar.ServerError_NotAllowedError,
				fmt.Sprintf("command %s is not supported by this broker", cmd.GetType())))
			return nil
		}
		c.log.Debug("ignoring unsupported command", "type", cmd.GetType().String())
	}
	return nil
}
