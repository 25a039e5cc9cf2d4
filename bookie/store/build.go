package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The builder's half of the pipeline (see commit.go): decide each op of a group against
// the ledger states as every batch built before it leaves them, encode the accepted
// ones straight into one Pebble batch, and apply it.
//
// The builder keeps its own copy of every ledger's state, s.staging, which runs ahead of
// the published s.ledgers by the batches in flight: a batch is decided on top of the
// batches applied before it, fsynced or not. No lock is taken for it.

// staged is a ledger's state as the batch being built will leave it.
type staged struct {
	st      LedgerState
	known   bool // a state record exists (or will) after this batch
	dirty   bool // the state record must be written in this batch
	deleted bool // the batch deletes the ledger's entries: Pebble no longer speaks for them
	notify  bool // waiters must be woken after the commit
	// tomb: the ledger was deleted — a tombstone is in Pebble (applied by an earlier
	// batch, synced or not) or in this batch. Looked up once per batch, and only for a
	// ledger without a state record (checked): a ledger with one was not deleted since.
	// Invariant: tomb implies !known — nothing ever writes a state record for a
	// tombstoned ledger again, so it stays deleted and fenced for good.
	tomb, checked bool
}

// entryID names one entry.
type entryID struct {
	ledger uint64
	entry  int64
}

// written is one entry a batch stores.
type written struct {
	id      entryID
	payload []byte
}

// group is one batch: built and applied by the builder, then completed (fsync awaited,
// state published, ops answered) by the completer. Only one goroutine uses it at a time;
// the hand-off channel orders the two.
type group struct {
	s       *Store
	b       *pebble.Batch
	ops     []*op
	states  []LedgerState
	results []error
	ledgers map[uint64]*staged
	// written are the entries this batch stores, in order, for duplicate checks within
	// the batch; index maps them, built on the first add that needs such a check (an id
	// not above its ledger's last entry) so that the common add (the next id) pays nothing.
	written   []written
	index     map[entryID][]byte
	deleted   []uint64
	sync      bool // the batch must be fsynced before its ops are answered
	committed bool // the batch had something to write and was applied to Pebble
	applied   bool // ... with a sync requested: the completer must wait for it
	entries   int
	// err is why the batch could not be applied; every op that was to be stored fails.
	err error
}

// batchOverhead is a generous bound on what a batch record costs beyond its payload and
// header: the op kind, the key and two length varints.
const batchOverhead = 1 + entryKeyLen + 2*5

// build decides ops, applies their batch to Pebble (memtable and WAL, fsync requested)
// and returns it for the completer.
func (s *Store) build(ops []*op) *group {
	size := 64
	for _, o := range ops {
		size += len(o.payload) + entryHeaderLen + batchOverhead
	}
	g := &group{
		s:       s,
		b:       s.db.NewBatchWithSize(size),
		ops:     ops,
		states:  make([]LedgerState, len(ops)),
		results: make([]error, len(ops)),
		ledgers: make(map[uint64]*staged),
		written: make([]written, 0, len(ops)),
	}
	s.ops.Add(uint64(len(ops)))
	s.mu.Lock()
	failed, onApplied := s.failed, s.onApplied
	s.mu.Unlock()
	if failed != nil {
		// A batch before this one failed: its effects, and so the staged states, are
		// unknown. Refuse everything that was queued behind it.
		g.err = failed
		return g
	}
	for i, o := range ops {
		g.states[i], g.results[i] = g.apply(o)
	}
	for id, sl := range g.ledgers {
		if sl.known && sl.dirty {
			d := g.b.SetDeferred(ledgerKeyLen, stateRecordLen)
			putLedgerKey(d.Key, id)
			putState(d.Value, d.Key, sl.st)
			d.Finish() // an unindexed batch: cannot fail
		}
	}
	if !g.b.Empty() {
		var err error
		if g.sync {
			// Applied to the memtable and written to the WAL; the fsync runs behind our
			// back and the completer waits for it (Batch.SyncWait) before answering.
			err = s.db.ApplyNoSyncWait(g.b, pebble.Sync)
			g.applied = err == nil
		} else {
			err = g.b.Commit(pebble.NoSync)
		}
		g.committed = err == nil
		if err != nil {
			s.log.Error("store: batch commit failed; refusing all further writes", "err", err, "ops", len(ops))
			s.mu.Lock()
			if s.failed == nil {
				s.failed = err
			}
			s.mu.Unlock()
			g.err = err
			return g
		}
	}
	for id, sl := range g.ledgers {
		if sl.known {
			s.staging[id] = sl.st
		} else {
			delete(s.staging, id)
		}
	}
	if onApplied != nil {
		onApplied(len(ops))
	}
	return g
}

func (g *group) ledger(id uint64) *staged {
	if sl, ok := g.ledgers[id]; ok {
		return sl
	}
	st, known := g.s.staging[id]
	if !known {
		st = LedgerState{LAC: -1, LastEntry: -1}
	}
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

// apply decides one op against the staged state and adds its writes to the batch.
func (g *group) apply(o *op) (LedgerState, error) {
	sl := g.ledger(o.ledger)
	if err := g.checkTomb(sl, o.ledger); err != nil {
		return sl.st, err
	}
	if sl.tomb {
		return g.applyDeleted(sl, o)
	}
	switch o.kind {
	case opAdd:
		if err := g.add(sl, o); err != nil {
			return sl.st, err
		}
		g.sync = true
	case opLAC:
		sl.raiseLAC(o.lac)
	case opFence:
		// An already fenced ledger needs nothing: its fence was synced by the batch that
		// set it, or will be by the time this op is answered — by this batch, which is
		// then synced anyway, or by an earlier one still in flight, which completes first.
		if !sl.st.Fenced || !sl.known {
			sl.st.Fenced = true
			sl.known, sl.dirty, sl.notify = true, true, true
			g.sync = true
		}
	case opDelete:
		// The entries and the state go; the tombstone stays, in the same batch, so that
		// no crash can leave the ledger gone but unfenced.
		g.b.DeleteRange(ledgerEntriesStart(o.ledger), ledgerEntriesEnd(o.ledger), nil)
		g.b.Delete(ledgerKey(o.ledger), nil)
		g.b.Set(tombKey(o.ledger), tombRecord, nil)
		*sl = staged{st: deletedState, deleted: true, notify: true, tomb: true, checked: true}
		g.forget(o.ledger)
		g.deleted = append(g.deleted, o.ledger)
		g.sync = true
	}
	return sl.st, nil
}

// deletedState is what the store answers for a deleted ledger: nothing stored, fenced.
var deletedState = LedgerState{LAC: -1, LastEntry: -1, Fenced: true}

// checkTomb looks up, once per batch, whether a ledger without a state record was
// deleted. Batches before this one were applied to the memtable before this one is
// built, so Pebble answers for them too, synced or not.
func (g *group) checkTomb(sl *staged, ledger uint64) error {
	if sl.known || sl.checked {
		return nil
	}
	_, closer, err := g.s.db.Get(tombKey(ledger))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fmt.Errorf("store: read tombstone of ledger %d: %w", ledger, err)
	default:
		// Any value counts: the key alone says the ledger was deleted, and a
		// tombstone that cannot be read is still a tombstone (fencing is the safe side).
		closer.Close()
		sl.tomb, sl.st = true, deletedState
	}
	sl.checked = true
	return nil
}

// applyDeleted decides an op on a deleted ledger. Nothing is written: the tombstone
// already says everything, and it is durable by the time the op is answered — it was
// written by this batch (then synced), or by an earlier one, which completes first. A
// tombstone-only ledger stays unknown (no state record), so a second deletion does not
// bring it back as a ledger to delete and compact again.
func (g *group) applyDeleted(sl *staged, o *op) (LedgerState, error) {
	switch o.kind {
	case opAdd:
		// Normal and recovery adds alike: the ledger is closed for good, and its
		// writer must learn it as it learns any fence.
		return sl.st, fmt.Errorf("%w: ledger %d was deleted", ErrFenced, o.ledger)
	case opLAC:
		// Dropped: raising the LAC would write a state record and revive the ledger.
	case opFence, opDelete:
		// Already fenced, already deleted.
	}
	return sl.st, nil
}

func (g *group) add(sl *staged, o *op) error {
	if sl.st.Fenced && !o.recovery {
		return fmt.Errorf("%w: ledger %d", ErrFenced, o.ledger)
	}
	same, exists, err := g.existing(sl, o)
	if err != nil {
		return err
	}
	if exists {
		if !same {
			return fmt.Errorf("%w: entry %d of ledger %d", ErrDuplicateEntry, o.entry, o.ledger)
		}
		// An identical resend: already stored, by this batch or an earlier one (which is
		// answered, so durable, before this one). Keep its LAC news.
		sl.raiseLAC(o.lac)
		return nil
	}
	d := g.b.SetDeferred(entryKeyLen, entryHeaderLen+len(o.payload))
	putEntryKey(d.Key, o.ledger, o.entry)
	putEntry(d.Value, d.Key, o.lac, o.crc, o.payload)
	d.Finish() // an unindexed batch: cannot fail
	id := entryID{o.ledger, o.entry}
	g.written = append(g.written, written{id, o.payload})
	if g.index != nil {
		g.index[id] = o.payload
	}
	g.entries++
	sl.known, sl.dirty, sl.notify = true, true, true
	sl.st.LastEntry = max(sl.st.LastEntry, o.entry)
	sl.raiseLAC(o.lac)
	return nil
}

// forget drops a ledger's entries from the batch's duplicate index: a range deletion
// later in the batch covers them.
func (g *group) forget(ledger uint64) {
	kept := g.written[:0]
	for _, w := range g.written {
		if w.id.ledger != ledger {
			kept = append(kept, w)
		} else if g.index != nil {
			delete(g.index, w.id)
		}
	}
	clear(g.written[len(kept):])
	g.written = kept
}

// existing reports whether the entry is already stored (in this batch, in an earlier
// batch or in Pebble) and whether with the same payload. A stored record that fails its
// checks is reported as absent, so that a valid add repairs it.
func (g *group) existing(sl *staged, o *op) (same, exists bool, err error) {
	// The staged state covers this batch and every earlier one: an id above the last
	// entry is stored nowhere. This is the common add, and it costs no lookup at all.
	if o.entry > sl.st.LastEntry {
		return false, false, nil
	}
	if g.index == nil {
		g.index = make(map[entryID][]byte, len(g.written))
		for _, w := range g.written {
			g.index[w.id] = w.payload
		}
	}
	if p, ok := g.index[entryID{o.ledger, o.entry}]; ok {
		return bytes.Equal(p, o.payload), true, nil
	}
	// Nothing before this batch's deletion of the ledger counts any more.
	if !sl.known || sl.deleted {
		return false, false, nil
	}
	// Batches before this one were applied to the memtable before this one is built, so
	// Pebble answers for them too, synced or not.
	key := entryKey(o.ledger, o.entry)
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
