package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/status"

	"github.com/strata-io/strata/bookie/internal/grpcbuf"
	"github.com/strata-io/strata/bookie/store"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// DefaultMaxEntrySize is Pulsar's 5 MiB message limit plus 64 KiB of headroom for the
// message metadata and batching headers the broker adds.
const DefaultMaxEntrySize = 5<<20 + 64<<10

// recvHeadroom is what a request may carry beyond the largest entry: the other fields,
// with room to spare so that a slightly oversized entry still reaches the handler and
// gets a clean ENTRY_TOO_LARGE instead of a broken stream.
const recvHeadroom = 64 << 10

// Config configures a Server. The zero value gets the defaults.
type Config struct {
	// MaxEntrySize is the largest payload accepted (ENTRY_TOO_LARGE above it).
	MaxEntrySize int
	// MaxInFlight bounds the unanswered adds of one AddEntries stream; default 1024.
	MaxInFlight int
	// ReadMaxBytes caps the payload bytes of one ReadEntries response (a request's
	// max_bytes of 0 or above it is lowered to it); default 4 MiB. One entry is always
	// returned, whatever its size.
	ReadMaxBytes uint64
	// MaxLongPoll caps ReadLAC's wait_millis; default 60s.
	MaxLongPoll time.Duration
	// ObserveAdd, if set, is told the outcome of every add handed to the store: its
	// latency to durability, payload size and error. It runs on the store's completer
	// goroutine and must not block (the bookie's metrics use it).
	ObserveAdd func(d time.Duration, size int, err error)
	// Logger; nil discards.
	Logger *slog.Logger
}

func (c *Config) applyDefaults() {
	if c.MaxEntrySize == 0 {
		c.MaxEntrySize = DefaultMaxEntrySize
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1024
	}
	if c.ReadMaxBytes == 0 {
		c.ReadMaxBytes = 4 << 20
	}
	if c.MaxLongPoll == 0 {
		c.MaxLongPoll = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxEntrySize < 0 || c.MaxEntrySize > 1<<30:
		return fmt.Errorf("server: max entry size %d out of range (0 for the default, at most 1 GiB)", c.MaxEntrySize)
	case c.MaxInFlight < 0:
		return fmt.Errorf("server: max in flight %d is negative", c.MaxInFlight)
	case c.MaxLongPoll < 0:
		return fmt.Errorf("server: max long poll %s is negative", c.MaxLongPoll)
	}
	return nil
}

// Server implements bookiev1.BookieServer over a store. Create it with New.
type Server struct {
	bookiev1.UnimplementedBookieServer

	st  *store.Store
	cfg Config
	log *slog.Logger

	readOnly atomic.Bool
	// stopping is done once Shutdown is called: adds are refused, long polls end.
	stopping     context.Context
	stop         context.CancelFunc
	shutdownOnce sync.Once
}

// New returns a Server over st; it does not own st.
func New(st *store.Store, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{st: st, cfg: cfg, log: cfg.Logger, stopping: ctx, stop: cancel}, nil
}

// GRPCOptions are the grpc.ServerOptions the service needs: a receive limit that fits
// the largest entry, WaitForHandlers so that Stop returns only once no handler can
// still touch the store, and a buffer pool that does not zero what it hands out (see
// bookie/internal/grpcbuf: the read path's answers are megabytes).
func (s *Server) GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.cfg.MaxEntrySize + recvHeadroom),
		grpc.WaitForHandlers(true),
		experimental.BufferPool(grpcbuf.New()),
	}
}

// Register adds the service to g.
func (s *Server) Register(g *grpc.Server) { bookiev1.RegisterBookieServer(g, s) }

// SetReadOnly switches read-only mode: normal adds are refused with BOOKIE_READ_ONLY;
// recovery adds, fencing, deletes and reads are still served.
func (s *Server) SetReadOnly(ro bool) { s.readOnly.Store(ro) }

// ReadOnly reports the mode.
func (s *Server) ReadOnly() bool { return s.readOnly.Load() }

// Shutdown makes the service refuse adds with BOOKIE_SHUTTING_DOWN and ends long polls,
// ahead of the gRPC server's stop. Reads are still served. Idempotent.
func (s *Server) Shutdown() {
	s.shutdownOnce.Do(s.stop)
}

func (s *Server) shuttingDown() bool { return s.stopping.Err() != nil }

func checkLedger(id uint64) error {
	if id == 0 {
		return invalid("ledger_id is missing (ledger ids start at 1)")
	}
	return nil
}

// ReadEntry returns one entry; with fence set, the ledger is fenced durably first.
func (s *Server) ReadEntry(ctx context.Context, req *bookiev1.ReadEntryRequest) (*bookiev1.ReadEntryResponse, error) {
	if err := checkLedger(req.GetLedgerId()); err != nil {
		return nil, err
	}
	if req.GetEntryId() < 0 {
		return nil, invalid("entry_id %d is negative", req.GetEntryId())
	}
	if req.GetFence() {
		if _, err := s.st.Fence(ctx, req.GetLedgerId()); err != nil {
			return nil, statusOf(err)
		}
	}
	e, err := s.st.Read(req.GetLedgerId(), req.GetEntryId())
	if err != nil {
		return nil, statusOf(err)
	}
	return entryResponse(e), nil
}

func entryResponse(e store.Entry) *bookiev1.ReadEntryResponse {
	return &bookiev1.ReadEntryResponse{LedgerId: e.Ledger, EntryId: e.ID, Lac: e.LAC, Payload: e.Payload, Crc32C: e.CRC32C}
}

// ReadEntries returns the entries first, first+step, ... ≤ last (consecutive for step 0
// or 1), stopping at the first of them not here or at the byte cap (at least one entry
// if the first exists).
func (s *Server) ReadEntries(ctx context.Context, req *bookiev1.ReadEntriesRequest) (*bookiev1.ReadEntriesResponse, error) {
	if err := checkLedger(req.GetLedgerId()); err != nil {
		return nil, err
	}
	first, last := req.GetFirstEntryId(), req.GetLastEntryId()
	if first < 0 || last < first {
		return nil, invalid("entry range %d..%d is not a range of non-negative ids", first, last)
	}
	maxBytes := req.GetMaxBytes()
	if maxBytes == 0 || maxBytes > s.cfg.ReadMaxBytes {
		maxBytes = s.cfg.ReadMaxBytes
	}
	step := max(int64(req.GetStep()), 1)
	es, err := s.st.ReadStep(req.GetLedgerId(), first, last, step, maxBytes)
	if err != nil {
		return nil, statusOf(err)
	}
	resp := &bookiev1.ReadEntriesResponse{Entries: make([]*bookiev1.ReadEntryResponse, len(es))}
	for i, e := range es {
		resp.Entries[i] = entryResponse(e)
	}
	return resp, nil
}

// ReadLAC returns the bookie's view of a ledger, fencing it first or long-polling as the
// request asks.
func (s *Server) ReadLAC(ctx context.Context, req *bookiev1.ReadLACRequest) (*bookiev1.ReadLACResponse, error) {
	ledger := req.GetLedgerId()
	if err := checkLedger(ledger); err != nil {
		return nil, err
	}
	if req.GetFence() {
		st, err := s.st.Fence(ctx, ledger)
		if err != nil {
			return nil, statusOf(err)
		}
		return lacResponse(ledger, st), nil
	}
	after, waitMillis := req.GetLongPollAfterLac(), req.GetWaitMillis()
	if after < 0 || waitMillis == 0 {
		st, known := s.st.State(ledger)
		if !known {
			return nil, bookiev1.Error(bookiev1.ReasonNoSuchLedger, fmt.Sprintf("ledger %d is not on this bookie", ledger))
		}
		return lacResponse(ledger, st), nil
	}
	wait := min(time.Duration(waitMillis)*time.Millisecond, s.cfg.MaxLongPoll)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	unhook := context.AfterFunc(s.stopping, cancel)
	defer unhook()
	st, err := s.st.WaitLAC(wctx, ledger, after)
	switch {
	case err == nil:
		return lacResponse(ledger, st), nil
	case ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	case s.shuttingDown() || errors.Is(err, store.ErrClosed):
		return nil, bookiev1.Error(bookiev1.ReasonShuttingDown, "bookie is shutting down")
	case errors.Is(err, context.DeadlineExceeded):
		return nil, bookiev1.Error(bookiev1.ReasonTimeout, fmt.Sprintf("LAC of ledger %d did not pass %d within %s", ledger, after, wait))
	}
	return nil, statusOf(err)
}

func lacResponse(ledger uint64, st store.LedgerState) *bookiev1.ReadLACResponse {
	return &bookiev1.ReadLACResponse{LedgerId: ledger, Lac: st.LAC, LastEntryId: st.LastEntry, Fenced: st.Fenced}
}

// DeleteLedger removes a ledger's entries and state, durably, and leaves it fenced for
// good (the store's tombstone): later adds get LEDGER_FENCED, recovery adds included,
// and reads NO_SUCH_LEDGER. Idempotent.
func (s *Server) DeleteLedger(ctx context.Context, req *bookiev1.DeleteLedgerRequest) (*bookiev1.DeleteLedgerResponse, error) {
	if err := checkLedger(req.GetLedgerId()); err != nil {
		return nil, err
	}
	if err := s.st.DeleteLedger(ctx, req.GetLedgerId()); err != nil {
		return nil, statusOf(err)
	}
	return &bookiev1.DeleteLedgerResponse{}, nil
}
