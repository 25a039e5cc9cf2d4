package ledger

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"google.golang.org/grpc"
)

// addSink receives the outcome of adds sent on a stream, for one ledger. It must not
// block: it is called from a stream's receive goroutine.
type addSink interface {
	addResult(bookie string, resp *bookiev1.AddResponse)
	// streamFailed: the stream broke with adds of this ledger outstanding; their
	// outcome will never come.
	streamFailed(bookie string, err error)
}

// bookieConn is the client's link to one bookie: one gRPC channel (addressed by
// bookie id, re-resolved through the registry on failure) and one shared AddEntries
// stream that multiplexes the adds of every ledger this client writes to the bookie.
// Responses are routed to the ledger's sink by ledger id; the sink matches entry ids.
//
// Lock order: bookieConn.mu before addStream.mu; neither is held across network I/O
// or while calling a sink.
type bookieConn struct {
	id     string
	cc     *grpc.ClientConn
	rpc    bookiev1.BookieClient
	logger *slog.Logger
	// kick asks the resolver to look the bookie up again.
	kick func()
	// settledMoves is the resolver's count of address changes (moves) for which a
	// unary retry already waited for the channel to connect (see Client.unary).
	// Invariant: ≤ the resolver's moves, which only grow.
	settledMoves atomic.Uint64
	// streams counts stream goroutines, for close to wait on.
	streams sync.WaitGroup

	mu sync.Mutex
	// shared is the stream new adds go to. Invariant: replaced (never reused) once it
	// failed; nil before first use.
	shared *addStream
	closed bool
}

// send queues req on the shared stream, starting a new stream if the previous one
// failed. It never blocks on the network. The outcome arrives at sink (nothing arrives
// for lac_only requests).
func (c *bookieConn) send(req *bookiev1.AddRequest, sink addSink) error {
	for {
		s, err := c.sharedStream()
		if err != nil {
			return err
		}
		if s.enqueue(req, sink) {
			return nil
		}
	}
}

func (c *bookieConn) sharedStream() (*addStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClientClosed
	}
	if c.shared == nil || c.shared.isFailed() {
		c.shared = c.newStreamLocked()
	}
	return c.shared, nil
}

// openPrivate starts a stream used by one operation only (recovery re-writes), so its
// requests are ordered among themselves whatever the shared stream carried before.
// The caller ends it with close.
func (c *bookieConn) openPrivate() (*addStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClientClosed
	}
	return c.newStreamLocked(), nil
}

// forget drops ledger's sink from the shared stream (the writer is gone).
func (c *bookieConn) forget(ledger int64) {
	c.mu.Lock()
	s := c.shared
	c.mu.Unlock()
	if s != nil {
		s.mu.Lock()
		delete(s.sinks, uint64(ledger))
		delete(s.inflight, uint64(ledger))
		s.mu.Unlock()
	}
}

func (c *bookieConn) newStreamLocked() *addStream {
	ctx, cancel := context.WithCancel(context.Background())
	s := &addStream{
		conn:     c,
		ctx:      ctx,
		cancel:   cancel,
		signal:   make(chan struct{}, 1),
		sinks:    map[uint64]addSink{},
		inflight: map[uint64]int{},
	}
	c.streams.Add(1)
	go s.run()
	return s
}

// close ends the shared stream and the channel, and waits for every stream goroutine.
func (c *bookieConn) close() {
	c.mu.Lock()
	c.closed = true
	s := c.shared
	c.shared = nil
	c.mu.Unlock()
	if s != nil {
		s.close()
	}
	// Private streams are ended by their owners; the channel's close cuts any left.
	c.cc.Close()
	c.streams.Wait()
}

// addStream is one AddEntries stream. One goroutine opens it and sends (gRPC allows a
// single sender), another receives; callers only append to queue under mu, so a
// writer never blocks on the network.
type addStream struct {
	conn   *bookieConn
	ctx    context.Context
	cancel context.CancelFunc
	signal chan struct{} // cap 1: queue is non-empty

	mu sync.Mutex
	// queue holds requests not yet handed to gRPC.
	queue []*bookiev1.AddRequest
	// sinks routes responses by ledger id.
	sinks map[uint64]addSink
	// inflight counts, per ledger, adds queued or sent and not yet answered.
	// Invariant: a ledger with inflight > 0 has a sink, and is told if the stream fails.
	inflight map[uint64]int
	failed   bool
}

func (s *addStream) isFailed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// enqueue reports false if the stream already failed.
func (s *addStream) enqueue(req *bookiev1.AddRequest, sink addSink) bool {
	s.mu.Lock()
	if s.failed {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, req)
	if !req.LacOnly {
		s.sinks[req.LedgerId] = sink
		s.inflight[req.LedgerId]++
	}
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
	return true
}

func (s *addStream) run() {
	defer s.conn.streams.Done()
	stream, err := s.conn.rpc.AddEntries(s.ctx)
	if err != nil {
		s.fail(err)
		return
	}
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		s.receive(stream)
	}()
	defer func() { <-recvDone }()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.signal:
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, req := range batch {
			if err := stream.Send(req); err != nil {
				// The stream's real status comes out of Recv; fail here in case Recv is
				// blocked on a half-dead connection.
				s.fail(err)
				return
			}
		}
	}
}

func (s *addStream) receive(stream grpc.BidiStreamingClient[bookiev1.AddRequest, bookiev1.AddResponse]) {
	for {
		resp, err := stream.Recv()
		if err != nil {
			s.fail(err)
			return
		}
		s.mu.Lock()
		sink := s.sinks[resp.LedgerId]
		if s.inflight[resp.LedgerId] > 0 {
			s.inflight[resp.LedgerId]--
		}
		s.mu.Unlock()
		if sink != nil {
			sink.addResult(s.conn.id, resp)
		}
		if resp.Error.GetReason() == bookiev1.ReasonShuttingDown {
			// The bookie is going away: retire the stream now (its graceful stop waits for
			// open streams), so the next add opens a fresh one — to wherever the bookie
			// comes back.
			s.fail(resp.Error.Err())
			return
		}
	}
}

// fail marks the stream failed (once), cuts it, and tells every ledger with adds
// outstanding on it.
func (s *addStream) fail(err error) {
	s.mu.Lock()
	if s.failed {
		s.mu.Unlock()
		return
	}
	s.failed = true
	var tell []addSink
	for ledger, n := range s.inflight {
		if n > 0 && s.sinks[ledger] != nil {
			tell = append(tell, s.sinks[ledger])
		}
	}
	s.queue = nil
	s.mu.Unlock()
	s.cancel()
	if len(tell) > 0 {
		s.conn.logger.Debug("add stream failed", "bookie", s.conn.id, "err", err)
	}
	if isUnreachable(err) && s.conn.kick != nil {
		s.conn.kick() // look the bookie up again: it may be back elsewhere
	}
	for _, sink := range tell {
		sink.streamFailed(s.conn.id, err)
	}
}

// close ends the stream. Adds still outstanding are reported failed to their sinks.
func (s *addStream) close() { s.fail(ErrClientClosed) }

// inbox is the unbounded, non-blocking mailbox through which stream goroutines and
// RPC goroutines hand results to the goroutine that owns a state machine. Unbounded
// on purpose: a bounded one could make a stream's receive goroutine wait on the owner
// while the owner waits on that stream's flow control. Its size is bounded by the
// requests the owner sent.
type inbox struct {
	signal chan struct{} // cap 1: events is non-empty

	mu     sync.Mutex
	events []event
}

type eventKind int

const (
	evAdd          eventKind = iota // an AddResponse (err from its EntryError)
	evStreamFailed                  // a stream with adds outstanding broke
	evFence                         // a fencing ReadLAC answered
	evRead                          // a recovery ReadEntry answered
)

type event struct {
	kind    eventKind
	bookie  string
	entry   int64
	lac     int64
	payload []byte
	crc     uint32
	err     error
}

func newInbox() *inbox { return &inbox{signal: make(chan struct{}, 1)} }

func (in *inbox) post(ev event) {
	in.mu.Lock()
	in.events = append(in.events, ev)
	in.mu.Unlock()
	select {
	case in.signal <- struct{}{}:
	default:
	}
}

func (in *inbox) drain() []event {
	in.mu.Lock()
	defer in.mu.Unlock()
	evs := in.events
	in.events = nil
	return evs
}

func (in *inbox) addResult(bookie string, resp *bookiev1.AddResponse) {
	in.post(event{kind: evAdd, bookie: bookie, entry: resp.EntryId, err: resp.Error.Err()})
}

func (in *inbox) streamFailed(bookie string, err error) {
	in.post(event{kind: evStreamFailed, bookie: bookie, err: err})
}
