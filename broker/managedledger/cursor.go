package managedledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/metadata"
)

// InitialPosition is where a new subscription starts.
type InitialPosition int

const (
	Latest   InitialPosition = iota // only entries added after the subscription exists
	Earliest                        // every entry still in the log
)

// inlineSnapshotMax is the largest cursor snapshot kept inside the etcd record; larger
// ones go to a cursor ledger on the bookies (an ack-hole pattern can make them large).
const inlineSnapshotMax = 64 << 10

// cursorRecordVersion is the version of the cursor record (docs/format/managedledger.md).
const cursorRecordVersion = 1

// cursorRecord is a durable cursor's record in etcd.
type cursorRecord struct {
	FormatVersion int    `json:"formatVersion"`
	MarkDelete    string `json:"markDelete"` // "ledger:entry", for people reading etcd
	// Exactly one of Snapshot (cursor.State.Marshal, base64) and SnapshotLedger is set.
	Snapshot       string            `json:"snapshot,omitempty"`
	SnapshotLedger int64             `json:"snapshotLedger,omitempty"`
	Properties     map[string]string `json:"properties,omitempty"`
}

// Cursor is a subscription's acknowledgement state over the managed ledger, persisted
// (when durable) on a short throttle and on close. It is safe for concurrent use.
type Cursor struct {
	ml      *ManagedLedger
	name    string
	durable bool
	key     string

	// persistMu serialises writes of this cursor's record (flush, delete): each is a
	// CAS on rev, so two at once would make the second look like another owner's
	// write. It is held across etcd and bookie I/O by design; acks never take it.
	persistMu sync.Mutex

	mu    sync.Mutex
	state *cursor.State
	// layoutGen is the managed ledger's layoutGen that state's layout reflects. Written
	// under mu; read without it by layoutUpdate.
	layoutGen atomic.Uint64
	dirty     bool
	rev       int64 // etcd ModRevision of the record
	// snapshotLedger holds the last persisted large snapshot (0: none).
	snapshotLedger int64
	properties     map[string]string
	deleted        bool
}

func (ml *ManagedLedger) cursorKey(name string) string { return ml.store.Keys.Cursor(ml.name, name) }

// layoutLocked is the cursor-facing view of the ledger list. Callers hold ml.mu.
func (ml *ManagedLedger) layoutLocked() cursor.Layout {
	l := make(cursor.Layout, len(ml.info.Ledgers))
	for i, li := range ml.info.Ledgers {
		l[i] = cursor.Ledger{ID: li.ID, Entries: li.Entries}
	}
	return l
}

func (ml *ManagedLedger) layout() (cursor.Layout, uint64) {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return ml.layoutLocked(), ml.layoutGen
}

func (ml *ManagedLedger) loadCursors(ctx context.Context) error {
	vals, _, err := ml.store.List(ctx, ml.store.Keys.Cursors(ml.name))
	if err != nil {
		return err
	}
	for _, v := range vals {
		c, err := ml.loadCursor(ctx, v)
		if errors.Is(err, metadata.ErrNotFound) {
			continue // deleted by the previous owner meanwhile
		}
		if err != nil {
			return err
		}
		ml.mu.Lock()
		ml.cursors[c.name] = c
		ml.mu.Unlock()
	}
	return nil
}

// loadCursor claims a durable cursor's record and restores its state.
func (ml *ManagedLedger) loadCursor(ctx context.Context, v metadata.Value) (*Cursor, error) {
	name := strings.TrimPrefix(v.Key, ml.store.Keys.Cursors(ml.name))
	v, err := ml.claimCursorRecord(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: cursor %q: %w", ml.name, name, err)
	}
	var rec cursorRecord
	if err := json.Unmarshal(v.Data, &rec); err != nil || rec.FormatVersion != cursorRecordVersion {
		return nil, fmt.Errorf("managedledger %s: cursor %q: bad record (version %d): %v", ml.name, name, rec.FormatVersion, err)
	}
	snap, err := ml.readSnapshot(ctx, &rec)
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: cursor %q: %w", ml.name, name, err)
	}
	layout, gen := ml.layout()
	st, err := cursor.Unmarshal(snap, layout)
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: cursor %q: %w", ml.name, name, err)
	}
	c := &Cursor{ml: ml, name: name, durable: true, key: v.Key, state: st,
		rev: v.ModRevision, snapshotLedger: rec.SnapshotLedger, properties: rec.Properties}
	c.layoutGen.Store(gen)
	return c, nil
}

// stillOwner reports whether the record is still at the revision this owner last
// wrote, i.e. nobody took the topic over.
func (ml *ManagedLedger) stillOwner(ctx context.Context) (bool, error) {
	ml.metaMu.Lock() // no record write of ours in flight
	defer ml.metaMu.Unlock()
	v, err := ml.store.Get(ctx, ml.key)
	if err != nil {
		return false, err
	}
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return v.ModRevision == ml.infoRev, nil
}

// claimCursorRecord rewrites a cursor record unchanged, so that its revision moves: a
// previous owner that still flushes this cursor (it does not know yet that it lost the
// topic) then fails its CAS and learns it was fenced, instead of overwriting what this
// owner persists later. If the previous owner wrote first, the record is read again.
func (ml *ManagedLedger) claimCursorRecord(ctx context.Context, v metadata.Value) (metadata.Value, error) {
	for {
		rev, err := ml.store.CAS(ctx, v.Key, v.Data, v.ModRevision)
		if err == nil {
			v.ModRevision = rev
			return v, nil
		}
		if !errors.Is(err, metadata.ErrRevisionMismatch) {
			return v, err
		}
		if v, err = ml.store.Get(ctx, v.Key); err != nil {
			return v, err
		}
	}
}

// readSnapshot returns the cursor's snapshot bytes. A cursor ledger is read from the
// bookies directly, not through openEntryReader: it is not in the ledger list and never
// offloaded, and reading it whole needs its final last entry.
func (ml *ManagedLedger) readSnapshot(ctx context.Context, rec *cursorRecord) ([]byte, error) {
	if rec.SnapshotLedger == 0 {
		return base64.StdEncoding.DecodeString(rec.Snapshot)
	}
	r, err := ml.lc.OpenReader(ctx, rec.SnapshotLedger)
	if err != nil {
		return nil, fmt.Errorf("open snapshot ledger %d: %w", rec.SnapshotLedger, err)
	}
	last := r.Metadata().LastEntry
	var out []byte
	for e := int64(0); e <= last; e += 64 {
		ents, err := r.Read(ctx, e, min(e+63, last))
		if err != nil {
			return nil, fmt.Errorf("read snapshot ledger %d: %w", rec.SnapshotLedger, err)
		}
		for _, en := range ents {
			out = append(out, en.Payload...)
		}
	}
	return out, nil
}

// OpenCursor returns the durable cursor called name, creating it at initial if it does
// not exist. created reports whether it was new.
func (ml *ManagedLedger) OpenCursor(ctx context.Context, name string, initial InitialPosition) (c *Cursor, created bool, err error) {
	ml.cursorMu.Lock()
	defer ml.cursorMu.Unlock()
	ml.mu.Lock()
	if c, ok := ml.cursors[name]; ok {
		ml.mu.Unlock()
		return c, false, nil
	}
	refused := ml.add.state == stateClosed || ml.add.state == stateFenced
	ml.mu.Unlock()
	if refused {
		return nil, false, ml.stateErr()
	}
	c, err = ml.newCursor(name, initial, true)
	if err != nil {
		return nil, false, err
	}
	data, snapLedger, err := c.record(ctx)
	if err != nil {
		return nil, false, err
	}
	rev, err := ml.store.Create(ctx, c.key, data)
	if err != nil {
		if snapLedger != 0 {
			ml.deleteLedger(ctx, snapLedger)
		}
		if errors.Is(err, metadata.ErrExists) {
			return ml.adoptCursor(ctx, name)
		}
		return nil, false, err
	}
	c.rev, c.snapshotLedger = rev, snapLedger
	ml.mu.Lock()
	ml.cursors[name] = c
	ml.mu.Unlock()
	return c, true, nil
}

// adoptCursor handles a cursor record that exists although this owner has no such
// cursor: either the previous owner, not aware yet of the takeover, created it after
// this owner loaded the cursors — then it is claimed and loaded like the others — or
// another broker took the topic from this one, which the record's revision tells.
func (ml *ManagedLedger) adoptCursor(ctx context.Context, name string) (*Cursor, bool, error) {
	mine, err := ml.stillOwner(ctx)
	if err != nil {
		return nil, false, err
	}
	if !mine {
		ml.setFenced()
		return nil, false, fmt.Errorf("%w: cursor %q created by another owner", ErrFenced, name)
	}
	v, err := ml.store.Get(ctx, ml.cursorKey(name))
	if err != nil {
		return nil, false, err
	}
	c, err := ml.loadCursor(ctx, v)
	if err != nil {
		return nil, false, err
	}
	ml.mu.Lock()
	ml.cursors[name] = c
	ml.mu.Unlock()
	return c, false, nil
}

// stateErr is the error for an operation refused because the managed ledger is closed
// or fenced.
func (ml *ManagedLedger) stateErr() error {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	if ml.add.state == stateFenced {
		return ErrFenced
	}
	return ErrClosed
}

// deleteLedger deletes a ledger nothing refers to any more, logging a failure (its
// data is then left for the bookies' garbage collection).
func (ml *ManagedLedger) deleteLedger(ctx context.Context, id int64) {
	if err := ml.lc.Delete(ctx, id); err != nil {
		ml.log.Warn("delete unreferenced ledger", "ledger", id, "err", err)
	}
}

// NewNonDurableCursor returns a cursor that is never persisted and does not hold back
// deletion (a reader). Its first unacknowledged entry is start.
func (ml *ManagedLedger) NewNonDurableCursor(start Position) (*Cursor, error) {
	layout, gen := ml.layout()
	st, err := cursor.New(layout)
	if err != nil {
		return nil, err
	}
	if start != cursor.Earliest() {
		if err := st.Reset(start); err != nil {
			return nil, err
		}
	}
	c := &Cursor{ml: ml, state: st}
	c.layoutGen.Store(gen)
	return c, nil
}

func (ml *ManagedLedger) newCursor(name string, initial InitialPosition, durable bool) (*Cursor, error) {
	ml.mu.Lock()
	layout, gen := ml.layoutLocked(), ml.layoutGen
	next := ml.afterLastConfirmedLocked()
	ml.mu.Unlock()
	st, err := cursor.New(layout)
	if err != nil {
		return nil, err
	}
	if initial == Latest {
		if err := st.Reset(next); err != nil {
			return nil, err
		}
	}
	c := &Cursor{ml: ml, name: name, durable: durable, key: ml.cursorKey(name), state: st}
	c.layoutGen.Store(gen)
	return c, nil
}

// afterLastConfirmedLocked is the position right after lastConfirmed in its ledger: a
// cursor reset there has mark-delete = lastConfirmed, so every entry not yet
// acknowledged to its producer — including adds still in flight to the previous ledger
// during a rollover — is unacknowledged (Pulsar's "latest").
func (ml *ManagedLedger) afterLastConfirmedLocked() Position {
	return Position{Ledger: ml.lastConfirmed.Ledger, Entry: ml.lastConfirmed.Entry + 1}
}

// Cursors returns the durable cursors by name.
func (ml *ManagedLedger) Cursors() map[string]*Cursor {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	out := make(map[string]*Cursor, len(ml.cursors))
	for k, v := range ml.cursors {
		out[k] = v
	}
	return out
}

// DeleteCursor removes a durable cursor, its record and its snapshot ledger.
func (ml *ManagedLedger) DeleteCursor(ctx context.Context, name string) error {
	ml.cursorMu.Lock()
	defer ml.cursorMu.Unlock()
	ml.mu.Lock()
	c, ok := ml.cursors[name]
	ml.mu.Unlock()
	if !ok {
		return nil
	}
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	c.mu.Lock()
	rev := c.rev
	c.mu.Unlock()
	if err := ml.store.Delete(ctx, c.key, rev); err != nil {
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			ml.setFenced()
			return fmt.Errorf("%w: cursor %q changed by another owner", ErrFenced, name)
		}
		return err
	}
	c.mu.Lock()
	c.deleted = true
	snap := c.snapshotLedger
	c.snapshotLedger = 0
	c.mu.Unlock()
	ml.mu.Lock()
	delete(ml.cursors, name)
	ml.mu.Unlock()
	if snap != 0 {
		ml.deleteLedger(ctx, snap)
	}
	ml.maybeTrim()
	return nil
}

// Name is the subscription name ("" for a non-durable cursor).
func (c *Cursor) Name() string { return c.name }

// Durable reports whether the cursor is persisted.
func (c *Cursor) Durable() bool { return c.durable }

// layoutUpdate returns the managed ledger's layout and its generation if it changed
// since the one the cursor's state has, else nil. It takes ml.mu, so callers call it
// before taking c.mu: nothing of the managed ledger is locked under a cursor's mu.
func (c *Cursor) layoutUpdate() (cursor.Layout, uint64) {
	known := c.layoutGen.Load()
	c.ml.mu.Lock()
	defer c.ml.mu.Unlock()
	if c.ml.layoutGen == known {
		return nil, known
	}
	return c.ml.layoutLocked(), c.ml.layoutGen
}

// adoptLayoutLocked gives the state l, a layout from layoutUpdate, unless the state has
// that generation or a later one already (another call adopted it meanwhile).
func (c *Cursor) adoptLayoutLocked(l cursor.Layout, gen uint64) {
	if l == nil || gen <= c.layoutGen.Load() {
		return
	}
	if err := c.state.SetLayout(l); err == nil {
		c.layoutGen.Store(gen)
	}
}

func (c *Cursor) update(f func(*cursor.State) error) error {
	l, gen := c.layoutUpdate()
	c.mu.Lock()
	c.adoptLayoutLocked(l, gen)
	before := c.state.MarkDelete()
	err := f(c.state)
	if err == nil {
		c.dirty = true
	}
	after := c.state.MarkDelete()
	c.mu.Unlock()
	if after != before && c.durable {
		c.ml.markDeleteMoved(before, after)
	}
	return err
}

// AckIndividual acknowledges whole entries.
func (c *Cursor) AckIndividual(ps ...Position) error {
	return c.update(func(s *cursor.State) error {
		var first error
		for _, p := range ps {
			if err := s.AckIndividual(p); err != nil && first == nil {
				first = err
			}
		}
		return first
	})
}

// AckCumulative acknowledges everything up to and including p.
func (c *Cursor) AckCumulative(p Position) error {
	return c.update(func(s *cursor.State) error { return s.AckCumulative(p) })
}

// AckBatch applies a batch-index acknowledgement in Pulsar's wire form (set bits are
// messages still unacknowledged).
func (c *Cursor) AckBatch(p Position, batchSize int, ackSet []int64) error {
	return c.update(func(s *cursor.State) error { return s.AckBatchWire(p, batchSize, ackSet) })
}

// AckCumulativeBatch acknowledges everything before p plus the cleared bits of p's batch.
func (c *Cursor) AckCumulativeBatch(p Position, batchSize int, ackSet []int64) error {
	return c.update(func(s *cursor.State) error { return s.AckCumulativeBatch(p, batchSize, ackSet) })
}

// Reset makes to the next unacknowledged entry, clearing all acknowledgements after it.
func (c *Cursor) Reset(to Position) error {
	return c.update(func(s *cursor.State) error { return s.Reset(to) })
}

// MarkDelete is the position up to which everything is acknowledged.
func (c *Cursor) MarkDelete() Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.MarkDelete()
}

// IsAcked reports whether the whole entry at p is acknowledged.
func (c *Cursor) IsAcked(p Position) bool {
	l, gen := c.layoutUpdate()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.adoptLayoutLocked(l, gen)
	return c.state.IsAcked(p)
}

// BatchAckSet is the wire ack_set of a partially acknowledged batch (nil when none).
func (c *Cursor) BatchAckSet(p Position) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.BatchAckSet(p)
}

// Backlog counts the unacknowledged entries.
func (c *Cursor) Backlog() int64 {
	l, gen := c.layoutUpdate()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.adoptLayoutLocked(l, gen)
	return c.state.Backlog()
}

// Unacked lists unacknowledged positions in [from, to]. The iteration holds the cursor
// lock; do not call the cursor from inside it.
func (c *Cursor) Unacked(from, to Position) iter.Seq[Position] {
	return func(yield func(Position) bool) {
		l, gen := c.layoutUpdate()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.adoptLayoutLocked(l, gen)
		for p := range c.state.Unacked(from, to) {
			if !yield(p) {
				return
			}
		}
	}
}

// Properties returns the cursor's properties.
func (c *Cursor) Properties() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.properties))
	for k, v := range c.properties {
		out[k] = v
	}
	return out
}

// record builds the etcd record, writing a large snapshot to a new cursor ledger first
// (snapLedger, 0 when inline). The caller CASes the record, and deletes snapLedger if
// the record surely was not written.
func (c *Cursor) record(ctx context.Context) (data []byte, snapLedger int64, err error) {
	c.mu.Lock()
	snap := c.state.Marshal()
	md := c.state.MarkDelete()
	props := c.properties
	c.mu.Unlock()
	rec := cursorRecord{FormatVersion: cursorRecordVersion, MarkDelete: md.String(), Properties: props}
	if len(snap) <= inlineSnapshotMax {
		rec.Snapshot = base64.StdEncoding.EncodeToString(snap)
	} else {
		id, err := c.ml.writeSnapshotLedger(ctx, c.name, snap)
		if err != nil {
			return nil, 0, err
		}
		rec.SnapshotLedger = id
	}
	data, err = json.Marshal(rec)
	if err != nil && rec.SnapshotLedger != 0 {
		c.ml.deleteLedger(ctx, rec.SnapshotLedger)
		return nil, 0, err
	}
	return data, rec.SnapshotLedger, err
}

// flush persists the cursor if it changed since the last flush. Once the record points
// at a new snapshot ledger, the previous one is deleted.
func (c *Cursor) flush(ctx context.Context) error {
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	c.mu.Lock()
	if !c.durable || !c.dirty || c.deleted {
		c.mu.Unlock()
		return nil
	}
	c.dirty = false
	rev := c.rev
	oldSnap := c.snapshotLedger
	c.mu.Unlock()
	data, newSnap, err := c.record(ctx)
	if err == nil {
		var newRev int64
		newRev, err = c.ml.store.CAS(ctx, c.key, data, rev)
		if err != nil && !errors.Is(err, metadata.ErrRevisionMismatch) {
			// An ambiguous failure (a timeout) may have written it: look.
			if v, gerr := c.ml.store.Get(ctx, c.key); gerr == nil && bytes.Equal(v.Data, data) {
				newRev, err = v.ModRevision, nil
			}
		}
		if err == nil {
			c.mu.Lock()
			c.rev, c.snapshotLedger = newRev, newSnap
			c.mu.Unlock()
			if oldSnap != 0 && oldSnap != newSnap {
				c.ml.deleteLedger(ctx, oldSnap)
			}
			return nil
		}
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			// Surely not written: the new snapshot ledger is nobody's.
			if newSnap != 0 {
				c.ml.deleteLedger(ctx, newSnap)
			}
			c.ml.setFenced()
			return fmt.Errorf("%w: cursor %q changed by another owner", ErrFenced, c.name)
		}
		// Any other failure may or may not have written the record: keep newSnap.
	}
	c.mu.Lock()
	c.dirty = true // try again on the next flush
	c.mu.Unlock()
	return err
}

// writeSnapshotLedger stores a large cursor snapshot in a ledger of its own.
func (ml *ManagedLedger) writeSnapshotLedger(ctx context.Context, cursorName string, snap []byte) (int64, error) {
	w, err := ml.lc.Create(ctx, ledgerCreateOptions(ml.persistenceConfig(), map[string]string{"managedLedger": ml.name, "cursor": cursorName}))
	if err != nil {
		return 0, fmt.Errorf("create cursor ledger: %w", err)
	}
	const chunk = 1 << 20
	for off := 0; off < len(snap); off += chunk {
		if _, err := w.Append(ctx, snap[off:min(off+chunk, len(snap))]); err != nil {
			ml.abandonLedger(w)
			return 0, fmt.Errorf("write cursor ledger: %w", err)
		}
	}
	if err := w.Close(ctx); err != nil {
		ml.abandonLedger(w)
		return 0, fmt.Errorf("close cursor ledger: %w", err)
	}
	return w.ID(), nil
}
