package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// The committer: one goroutine owns every write to Pebble and every change of ledger
// state. Callers queue ops (enqueue) and get a callback when the batch holding their op
// is committed — synced, for anything but an explicit LAC update. While one batch is
// being synced, new ops pile up in the queue and all of them go into the next batch:
// that is the group commit. Nothing waits on a timer to gather a group; the fsync
// itself is the gathering window, so a lone writer pays one fsync and N concurrent
// writers share one.
//
// The committer holds no lock while it reads existing entries or commits: it is the
// only writer, so the state it read under mu cannot change underneath it. It takes mu
// only to take the queue, to read a ledger's state, and to publish the results.

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
	// done, if set, runs on the committer goroutine once the op is decided and, when
	// accepted, durable. It must not block.
	done func(LedgerState, error)
}

// AddAsync queues an add and calls done with its outcome: nil once the entry is durable
// (an identical entry already stored also counts), or ErrFenced, ErrDuplicateEntry,
// ErrBadChecksum, ErrInvalidArgument, ErrClosed, ErrFailed (wrapped). done runs on the
// committer goroutine, or on the caller's for a request refused up front; it must not
// block. The payload must not be modified until done has run.
func (s *Store) AddAsync(a Add, done func(error)) {
	if err := checkAdd(a); err != nil {
		done(err)
		return
	}
	s.enqueue(&op{
		kind: opAdd, ledger: a.Ledger, entry: a.Entry, lac: a.LAC,
		payload: a.Payload, crc: a.CRC32C, recovery: a.Recovery,
		done: func(_ LedgerState, err error) { done(err) },
	})
}

func checkAdd(a Add) error {
	if a.Entry < 0 {
		return fmt.Errorf("%w: entry id %d", ErrInvalidArgument, a.Entry)
	}
	if a.LAC < -1 {
		return fmt.Errorf("%w: lac %d", ErrInvalidArgument, a.LAC)
	}
	// Checked here, on the caller's goroutine, so the committer does no per-byte work.
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
// wait: the new LAC is visible once the committer's next batch commits, and it is
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

// DeleteLedger removes every entry and the state of a ledger, durably; the space is
// reclaimed by a compaction of the ledger's key range that runs in the background (see
// WaitCompactions). Deleting an unknown ledger succeeds.
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

// enqueue hands an op to the committer. A refused op has its callback run here too, and
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
		if o.done != nil {
			o.done(LedgerState{}, err)
		}
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

func (s *Store) commitLoop() {
	defer close(s.committerDone)
	for {
		ops := s.takePending()
		if ops == nil {
			return
		}
		s.commitGroup(ops)
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

// staged is a ledger's state as the batch being built will leave it.
type staged struct {
	st      LedgerState
	known   bool // a state record exists (or will) after this batch
	dirty   bool // the state record must be written in this batch
	deleted bool // the batch deletes the ledger's entries: Pebble no longer speaks for them
	notify  bool // waiters must be woken after the commit
}

// group is one batch under construction.
type group struct {
	s       *Store
	b       *pebble.Batch
	ledgers map[uint64]*staged
	// written are the payloads this batch stores, for duplicate checks within it.
	written map[uint64]map[int64][]byte
	deleted []uint64
	sync    bool
	entries int
}

func (g *group) ledger(id uint64) *staged {
	if sl, ok := g.ledgers[id]; ok {
		return sl
	}
	g.s.mu.Lock()
	st, known := g.s.stateLocked(id)
	g.s.mu.Unlock()
	sl := &staged{st: st, known: known}
	g.ledgers[id] = sl
	return sl
}

func (sl *staged) raiseLAC(lac int64) {
	if lac > sl.st.LAC {
		sl.st.LAC = lac
		sl.known, sl.dirty, sl.notify = true, true, true
	}
}

// commitGroup decides every op, commits them as one batch, publishes the new state and
// runs the callbacks.
func (s *Store) commitGroup(ops []*op) {
	g := &group{s: s, b: s.db.NewBatch(), ledgers: make(map[uint64]*staged), written: make(map[uint64]map[int64][]byte)}
	defer g.b.Close()
	results := make([]error, len(ops))
	states := make([]LedgerState, len(ops))
	for i, o := range ops {
		states[i], results[i] = g.apply(o)
	}
	for id, sl := range g.ledgers {
		if sl.known && sl.dirty {
			k := ledgerKey(id)
			g.b.Set(k, encodeState(k, sl.st), nil)
		}
	}
	s.ops.Add(uint64(len(ops)))
	if !g.b.Empty() {
		opts := pebble.NoSync
		if g.sync {
			opts = pebble.Sync
		}
		if err := g.b.Commit(opts); err != nil {
			s.fail(ops, results, err)
			return
		}
		s.batches.Add(1)
		if g.sync {
			s.syncs.Add(1)
		}
		s.entries.Add(uint64(g.entries))
	}
	s.mu.Lock()
	for id, sl := range g.ledgers {
		if sl.known {
			s.ledgers[id] = sl.st
		} else {
			delete(s.ledgers, id)
		}
		if sl.notify {
			s.notifyLocked(id)
		}
	}
	if len(g.deleted) > 0 {
		s.compactQueue = append(s.compactQueue, g.deleted...)
	}
	s.mu.Unlock()
	if len(g.deleted) > 0 {
		select {
		case s.compactWake <- struct{}{}:
		default:
		}
	}
	for i, o := range ops {
		if o.done != nil {
			o.done(states[i], results[i])
		}
	}
}

// fail handles a failed commit: nothing of the batch can be assumed durable or not, so
// the store refuses all further writes and every op that was to be stored fails.
//
// A failed WAL write or fsync never gets here: Pebble treats it as fatal and calls its
// logger's Fatalf, which panics (pebbleLogger), so the process dies and restarts from
// what is durable — after an fsync error the page cache and the disk disagree in unknown
// ways, and restarting is the only honest answer (BookKeeper does the same on a journal
// failure). This path covers the errors Pebble does return from Commit.
func (s *Store) fail(ops []*op, results []error, err error) {
	s.log.Error("store: batch commit failed; refusing all further writes", "err", err, "ops", len(ops))
	s.mu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.mu.Unlock()
	for i, o := range ops {
		if results[i] == nil {
			results[i] = fmt.Errorf("%w: %v", ErrFailed, err)
		}
		if o.done != nil {
			o.done(LedgerState{}, results[i])
		}
	}
}

// apply decides one op against the staged state and adds its writes to the batch.
func (g *group) apply(o *op) (LedgerState, error) {
	sl := g.ledger(o.ledger)
	switch o.kind {
	case opAdd:
		if err := g.add(sl, o); err != nil {
			return sl.st, err
		}
		g.sync = true
	case opLAC:
		sl.raiseLAC(o.lac)
	case opFence:
		// An already fenced ledger needs nothing: its fence was synced by the batch
		// that set it (or by this one, which is then synced anyway).
		if !sl.st.Fenced || !sl.known {
			sl.st.Fenced = true
			sl.known, sl.dirty, sl.notify = true, true, true
			g.sync = true
		}
	case opDelete:
		g.b.DeleteRange(ledgerEntriesStart(o.ledger), ledgerEntriesEnd(o.ledger), nil)
		g.b.Delete(ledgerKey(o.ledger), nil)
		*sl = staged{st: LedgerState{LAC: -1, LastEntry: -1}, deleted: true, notify: true}
		delete(g.written, o.ledger)
		g.deleted = append(g.deleted, o.ledger)
		g.sync = true
	}
	return sl.st, nil
}

func (g *group) add(sl *staged, o *op) error {
	if sl.st.Fenced && !o.recovery {
		return fmt.Errorf("%w: ledger %d", ErrFenced, o.ledger)
	}
	key := entryKey(o.ledger, o.entry)
	same, exists, err := g.existing(sl, o, key)
	if err != nil {
		return err
	}
	if exists {
		if !same {
			return fmt.Errorf("%w: entry %d of ledger %d", ErrDuplicateEntry, o.entry, o.ledger)
		}
		// An identical resend: already durable (or in this batch). Keep its LAC news.
		sl.raiseLAC(o.lac)
		return nil
	}
	g.b.Set(key, encodeEntry(key, o.lac, o.crc, o.payload), nil)
	w := g.written[o.ledger]
	if w == nil {
		w = make(map[int64][]byte)
		g.written[o.ledger] = w
	}
	w[o.entry] = o.payload
	g.entries++
	sl.known, sl.dirty, sl.notify = true, true, true
	sl.st.LastEntry = max(sl.st.LastEntry, o.entry)
	sl.raiseLAC(o.lac)
	return nil
}

// existing reports whether the entry is already stored (in this batch or in Pebble) and
// whether with the same payload. A stored record that fails its checks is reported as
// absent, so that a valid add repairs it.
func (g *group) existing(sl *staged, o *op, key []byte) (same, exists bool, err error) {
	if p, ok := g.written[o.ledger][o.entry]; ok {
		return bytes.Equal(p, o.payload), true, nil
	}
	// The state says which ids cannot be stored: above the last entry, or everything
	// when this batch deleted the ledger. Only the rest costs a read.
	if !sl.known || sl.deleted || o.entry > sl.st.LastEntry {
		return false, false, nil
	}
	v, closer, err := g.s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("store: read entry %d of ledger %d: %w", o.entry, o.ledger, err)
	}
	defer closer.Close()
	e, err := decodeEntry(o.ledger, o.entry, key, v)
	if err != nil {
		g.s.log.Warn("store: replacing a corrupt stored entry with a valid add", "ledger", o.ledger, "entry", o.entry, "err", err, "recovery", o.recovery)
		return false, false, nil
	}
	return bytes.Equal(e.Payload, o.payload), true, nil
}
