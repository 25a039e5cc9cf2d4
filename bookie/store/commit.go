package store

import (
	"context"
	"fmt"
	"slices"
)

// The write path is a two-stage pipeline (see doc.go for the invariants it keeps):
//
//   - The builder (commitLoop, build.go) owns every write to Pebble and every decision.
//     It takes all queued ops, decides each against the ledger states as the batches
//     before it leave them, writes the accepted ones into one Pebble batch and applies
//     that batch with its WAL fsync requested but not waited for.
//   - The completer (completeLoop, complete.go) takes the applied batches in the order
//     they were built, waits for each one's fsync, and only then publishes the batch's
//     ledger states and answers its ops.
//
// So while batch N is being fsynced, the builder is already checking, encoding and
// applying batch N+1, and Pebble's WAL writer starts N+1's fsync the moment N's returns:
// the disk no longer idles while the CPU builds a batch, nor the CPU while the disk
// syncs. Nothing waits on a timer to gather a group; the fsync in progress is the
// gathering window, so a lone writer pays one fsync and concurrent writers share them.
//
// The pipeline is bounded: at most maxInFlightBatches batches are between "applied" and
// "answered". When all are taken, the builder waits, ops pile up in the queue, and the
// next batch takes them all — group commit as before, one stage up.

// maxInFlightBatches bounds the batches applied to Pebble but not yet answered: one
// being fsynced, one whose fsync is queued behind it in Pebble's WAL writer (it starts
// the moment the first returns), and one being built or waiting to be applied. With
// fewer, the builder idles while the disk syncs; with more, the extra batches only
// queue for the same next fsync, each carrying its own state records. Measured in
// docs/benchmarks.md ("Bookie write path").
const maxInFlightBatches = 3

type opKind uint8

const (
	opAdd opKind = iota
	opLAC
	opFence
	opDelete
)

// op is one queued mutation.
type op struct {
	kind     opKind
	ledger   uint64
	entry    int64
	lac      int64
	payload  []byte
	crc      uint32
	recovery bool
	// addDone (adds) or done (the rest), if set, runs on the completer goroutine once
	// the op is decided and, when accepted, durable — or on the caller's goroutine for
	// an op refused up front. It must not block.
	addDone func(error)
	done    func(LedgerState, error)
}

func (o *op) finish(st LedgerState, err error) {
	switch {
	case o.addDone != nil:
		o.addDone(err)
	case o.done != nil:
		o.done(st, err)
	}
}

// AddAsync queues an add and calls done with its outcome: nil once the entry is durable
// (an identical entry already stored also counts), or ErrFenced, ErrDuplicateEntry,
// ErrBadChecksum, ErrInvalidArgument, ErrClosed, ErrFailed (wrapped). done runs on the
// store's completer goroutine, or on the caller's for a request refused up front; it
// must not block. The adds of one ledger are answered in the order they were queued.
// The payload must not be modified until done has run.
func (s *Store) AddAsync(a Add, done func(error)) {
	if err := checkAdd(a); err != nil {
		done(err)
		return
	}
	s.enqueue(&op{
		kind: opAdd, ledger: a.Ledger, entry: a.Entry, lac: a.LAC,
		payload: a.Payload, crc: a.CRC32C, recovery: a.Recovery,
		addDone: done,
	})
}

func checkAdd(a Add) error {
	if a.Entry < 0 {
		return fmt.Errorf("%w: entry id %d", ErrInvalidArgument, a.Entry)
	}
	if a.LAC < -1 {
		return fmt.Errorf("%w: lac %d", ErrInvalidArgument, a.LAC)
	}
	// Checked here, on the caller's goroutine, so the builder does no per-byte work.
	if got := Checksum(a.Payload); got != a.CRC32C {
		return fmt.Errorf("%w: entry %d of ledger %d: computed %08x, writer sent %08x", ErrBadChecksum, a.Entry, a.Ledger, got, a.CRC32C)
	}
	return nil
}

// Add stores an entry and returns once it is durable or refused. If ctx ends first,
// Add returns ctx.Err() and the add may still complete.
func (s *Store) Add(ctx context.Context, a Add) error {
	ch := make(chan error, 1)
	s.AddAsync(a, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// UpdateLAC raises the ledger's LAC (an explicit LAC from an idle writer). It does not
// wait: the new LAC is visible once the batch that carries it completes, and it is
// persisted with that batch without an fsync of its own (a crash may lose it; the LAC
// only ever moves forward again from what the writer sends).
func (s *Store) UpdateLAC(ledger uint64, lac int64) error {
	if lac < -1 {
		return fmt.Errorf("%w: lac %d", ErrInvalidArgument, lac)
	}
	return s.enqueue(&op{kind: opLAC, ledger: ledger, lac: lac})
}

// Fence marks the ledger fenced, durably, and returns its state at that point. Normal
// adds queued after the fence are refused with ErrFenced. A ledger the store has never
// seen is recorded as fenced. If ctx ends first, Fence returns ctx.Err() and the fence
// may still happen.
func (s *Store) Fence(ctx context.Context, ledger uint64) (LedgerState, error) {
	return s.wait(ctx, &op{kind: opFence, ledger: ledger})
}

// DeleteLedger removes every entry and the state of a ledger and leaves a tombstone in
// their place, all in one batch, durably; the space is reclaimed by a compaction of the
// ledger's key range that runs in the background (see WaitCompactions). From then on
// the ledger is unknown to reads (ErrNoSuchLedger) and fenced for writes: every add,
// normal or recovery, is refused with ErrFenced, a fence succeeds, and an LAC update is
// dropped — a writer fenced off by the recovery that preceded the deletion never gets
// an add acknowledged here again. Deleting an unknown ledger succeeds and leaves a
// tombstone too; deleting a deleted one writes nothing.
func (s *Store) DeleteLedger(ctx context.Context, ledger uint64) error {
	_, err := s.wait(ctx, &op{kind: opDelete, ledger: ledger})
	return err
}

func (s *Store) wait(ctx context.Context, o *op) (LedgerState, error) {
	type result struct {
		st  LedgerState
		err error
	}
	ch := make(chan result, 1)
	o.done = func(st LedgerState, err error) { ch <- result{st, err} }
	if err := s.enqueue(o); err != nil {
		return LedgerState{}, err
	}
	select {
	case r := <-ch:
		return r.st, r.err
	case <-ctx.Done():
		return LedgerState{}, ctx.Err()
	}
}

// enqueue hands an op to the builder. A refused op has its callback run here too, and
// the error is also returned.
func (s *Store) enqueue(o *op) error {
	s.mu.Lock()
	var err error
	switch {
	case s.closing:
		err = ErrClosed
	case s.failed != nil:
		err = fmt.Errorf("%w: %v", ErrFailed, s.failed)
	default:
		s.pending = append(s.pending, o)
	}
	s.mu.Unlock()
	if err != nil {
		o.finish(LedgerState{}, err)
		return err
	}
	s.signal()
	return nil
}

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// commitLoop is the builder goroutine: it takes a pipeline slot, then the queued ops,
// builds and applies their batch and hands it to the completer. On Close it drains the
// queue, then closes the hand-off channel so the completer finishes too.
func (s *Store) commitLoop() {
	defer close(s.built)
	for {
		s.slots <- struct{}{} // freed by the completer once a batch is answered
		ops := s.takePending()
		if ops == nil {
			return
		}
		s.built <- s.build(ops) // never blocks: it has a place per slot
	}
}

// takePending waits for queued ops and takes as many as fit in one batch. It returns nil
// when the store is closing and the queue is empty.
func (s *Store) takePending() []*op {
	for {
		s.mu.Lock()
		if n := len(s.pending); n > 0 {
			bytes, take := 0, 0
			for take < n && (take == 0 || bytes+len(s.pending[take].payload) <= s.maxBatchBytes) {
				bytes += len(s.pending[take].payload)
				take++
			}
			ops := s.pending[:take:take]
			if take == n {
				s.pending = nil
			} else {
				s.pending = slices.Clone(s.pending[take:])
			}
			s.mu.Unlock()
			return ops
		}
		if s.closing {
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		<-s.wake
	}
}
