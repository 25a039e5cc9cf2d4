package server

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/strata-io/strata/bookie/store"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// addStream is the state of one AddEntries stream, shared by its handler, receiver and
// sender goroutines as each field says.
type addStream struct {
	s *Server
	// slots holds one token per unanswered request (see doc.go).
	slots chan struct{}
	// out carries responses to the sender; its capacity equals slots', so a send to it
	// never blocks.
	out chan *bookiev1.AddResponse
	// last is the highest normal-add entry id seen per ledger on this stream; only the
	// receiver goroutine uses it.
	last map[uint64]int64
	// stop is closed by the handler once it holds every slot: the receiver must hand
	// over nothing more.
	stop chan struct{}
}

// AddEntries is the pipelined write path: see doc.go for its goroutines and invariants.
func (s *Server) AddEntries(stream bookiev1.Bookie_AddEntriesServer) error {
	a := &addStream{
		s:     s,
		slots: make(chan struct{}, s.cfg.MaxInFlight),
		out:   make(chan *bookiev1.AddResponse, s.cfg.MaxInFlight),
		last:  make(map[uint64]int64),
		stop:  make(chan struct{}),
	}
	sent := make(chan error, 1)
	go func() { sent <- a.sendLoop(stream) }()
	received := make(chan error, 1)
	go func() { received <- a.recvLoop(stream) }()

	var recvErr error
	stopping := false
	select {
	case recvErr = <-received:
	case <-s.stopping.Done():
		// End the stream from this side: an idle client would otherwise hold it open and
		// keep the gRPC server from stopping gracefully.
		stopping = true
	}
	// Take every slot. Once all are ours, each add handed to the store has been answered
	// (or dropped by a sender whose client is gone) and the receiver can hand over no
	// more, so no store callback outlives the stream and out can be closed.
	for range cap(a.slots) {
		a.slots <- struct{}{}
	}
	close(a.stop)
	close(a.out)
	sendErr := <-sent
	switch {
	case stopping:
		// The receiver may still be blocked in Recv; returning ends the stream, which
		// ends that Recv.
		return bookiev1.Error(bookiev1.ReasonShuttingDown, "bookie is shutting down")
	case errors.Is(recvErr, io.EOF):
		return sendErr // the client closed its side; everything was answered
	case sendErr != nil:
		return sendErr
	}
	return recvErr
}

// recvLoop receives requests and hands them on, each under a slot, until the client
// closes its side, the stream fails, or the handler stops it.
func (a *addStream) recvLoop(stream bookiev1.Bookie_AddEntriesServer) error {
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if req.GetLacOnly() {
			a.lacOnly(req)
			continue
		}
		select {
		case a.slots <- struct{}{}:
		case <-a.stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		a.add(req)
	}
}

// sendLoop is the stream's only sender. After a failed Send it keeps draining, so that
// slots are still given back, and reports the first error.
func (a *addStream) sendLoop(stream bookiev1.Bookie_AddEntriesServer) error {
	var err error
	for resp := range a.out {
		if err == nil {
			err = stream.Send(resp)
		}
		<-a.slots
	}
	return err
}

func (a *addStream) respond(req *bookiev1.AddRequest, ee *bookiev1.EntryError) {
	a.out <- &bookiev1.AddResponse{LedgerId: req.GetLedgerId(), EntryId: req.GetEntryId(), Error: ee}
}

// add handles one entry. It holds a slot; the response, sent now or from the store's
// completion, gives it back.
func (a *addStream) add(req *bookiev1.AddRequest) {
	if ee := a.check(req); ee != nil {
		a.respond(req, ee)
		return
	}
	obs := a.s.cfg.ObserveAdd
	var start time.Time
	if obs != nil {
		start = time.Now()
	}
	a.s.st.AddAsync(store.Add{
		Ledger:   req.GetLedgerId(),
		Entry:    req.GetEntryId(),
		LAC:      req.GetLac(),
		Payload:  req.GetPayload(),
		CRC32C:   req.GetCrc32C(),
		Recovery: req.GetRecovery(),
	}, func(err error) {
		if obs != nil {
			obs(time.Since(start), len(req.GetPayload()), err)
		}
		a.respond(req, entryErrorOf(err))
	})
}

// check applies the stream-level rules, in order: shutdown, well-formedness, size,
// read-only, then ordering. Only an add that passes the first four moves the stream's
// ordering mark, so a refused add can be retried on the same stream.
func (a *addStream) check(req *bookiev1.AddRequest) *bookiev1.EntryError {
	ledger, entry := req.GetLedgerId(), req.GetEntryId()
	switch {
	case a.s.shuttingDown():
		return bookiev1.NewEntryError(bookiev1.ReasonShuttingDown, "bookie is shutting down")
	case ledger == 0:
		return bookiev1.NewEntryError(bookiev1.ReasonInvalidArgument, "ledger_id is missing (ledger ids start at 1)")
	case entry < 0:
		return bookiev1.NewEntryError(bookiev1.ReasonInvalidArgument, fmt.Sprintf("entry_id %d is negative", entry))
	case req.GetLac() < -1:
		return bookiev1.NewEntryError(bookiev1.ReasonInvalidArgument, fmt.Sprintf("lac %d is below -1", req.GetLac()))
	case len(req.GetPayload()) > a.s.cfg.MaxEntrySize:
		return bookiev1.NewEntryError(bookiev1.ReasonEntryTooLarge,
			fmt.Sprintf("entry of %d bytes is over this bookie's limit of %d", len(req.GetPayload()), a.s.cfg.MaxEntrySize))
	case req.GetRecovery():
		return nil // recovery adds pass read-only mode and the ordering rule
	case a.s.ReadOnly():
		return bookiev1.NewEntryError(bookiev1.ReasonReadOnly, "bookie is read-only (disk usage over its threshold)")
	}
	if last, ok := a.last[ledger]; ok && entry <= last {
		return bookiev1.NewEntryError(bookiev1.ReasonOutOfOrder,
			fmt.Sprintf("entry %d of ledger %d is not above entry %d already sent on this stream", entry, ledger, last))
	}
	a.last[ledger] = entry
	return nil
}

// lacOnly advances the ledger's LAC; no response is sent, so problems are only logged.
func (a *addStream) lacOnly(req *bookiev1.AddRequest) {
	if req.GetLedgerId() == 0 || req.GetLac() < 0 || a.s.shuttingDown() {
		a.s.log.Debug("bookie: ignoring lac_only request", "ledger", req.GetLedgerId(), "lac", req.GetLac())
		return
	}
	if err := a.s.st.UpdateLAC(req.GetLedgerId(), req.GetLac()); err != nil {
		a.s.log.Debug("bookie: lac_only update failed", "ledger", req.GetLedgerId(), "err", err)
	}
}
