package managedledger

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"

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

// cursorRecordVersion is the version of the cursor record (docs/format/metadata.md).
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

	mu        sync.Mutex
	state     *cursor.State
	layoutGen uint64
	dirty     bool
	rev       int64 // etcd ModRevision of the record
	// snapshotLedger holds the last persisted large snapshot (0: none).
	snapshotLedger int64
	properties     map[string]string
	deleted        bool
}

func (ml *ManagedLedger) cursorKey(name string) string { return ml.key + "/cursors/" + name }

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
	vals, _, err := ml.store.List(ctx, ml.cursorKey(""))
	if err != nil {
		return err
	}
	layout, gen := ml.layout()
	for _, v := range vals {
		name := strings.TrimPrefix(v.Key, ml.cursorKey(""))
		var rec cursorRecord
		if err := json.Unmarshal(v.Data, &rec); err != nil || rec.FormatVersion != cursorRecordVersion {
			return fmt.Errorf("managedledger %s: cursor %q: bad record (version %d): %v", ml.name, name, rec.FormatVersion, err)
		}
		snap, err := ml.readSnapshot(ctx, &rec)
		if err != nil {
			return fmt.Errorf("managedledger %s: cursor %q: %w", ml.name, name, err)
		}
		st, err := cursor.Unmarshal(snap, layout)
		if err != nil {
			return fmt.Errorf("managedledger %s: cursor %q: %w", ml.name, name, err)
		}
		ml.cursors[name] = &Cursor{ml: ml, name: name, durable: true, key: v.Key, state: st, layoutGen: gen,
			rev: v.ModRevision, snapshotLedger: rec.SnapshotLedger, properties: rec.Properties}
	}
	return nil
}

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
	ml.mu.Lock()
	if c, ok := ml.cursors[name]; ok {
		ml.mu.Unlock()
		return c, false, nil
	}
	ml.mu.Unlock()
	c, err = ml.newCursor(name, initial, true)
	if err != nil {
		return nil, false, err
	}
	data, err := c.record(ctx)
	if err != nil {
		return nil, false, err
	}
	rev, err := ml.store.Create(ctx, c.key, data)
	if err != nil {
		if errors.Is(err, metadata.ErrExists) {
			return nil, false, fmt.Errorf("%w: cursor %q created concurrently", ErrFenced, name)
		}
		return nil, false, err
	}
	c.rev = rev
	ml.mu.Lock()
	defer ml.mu.Unlock()
	if prev, ok := ml.cursors[name]; ok {
		return prev, false, nil
	}
	ml.cursors[name] = c
	return c, true, nil
}

// NewNonDurableCursor returns a cursor that is never persisted and does not hold back
// deletion (a reader). Its first unacknowledged entry is start.
func (ml *ManagedLedger) NewNonDurableCursor(start Position) (*Cursor, error) {
	layout, gen := ml.layout()
	st, err := cursor.New(layout)
	if err != nil {
		return nil, err
	}
	if start != cursor.Earliest {
		if err := st.Reset(start); err != nil {
			return nil, err
		}
	}
	return &Cursor{ml: ml, state: st, layoutGen: gen}, nil
}

func (ml *ManagedLedger) newCursor(name string, initial InitialPosition, durable bool) (*Cursor, error) {
	ml.mu.Lock()
	layout, gen := ml.layoutLocked(), ml.layoutGen
	next := ml.nextWritePositionLocked()
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
	return &Cursor{ml: ml, name: name, durable: durable, key: ml.cursorKey(name), state: st, layoutGen: gen, dirty: false}, nil
}

// nextWritePositionLocked is where the next entry will be written: right after
// lastConfirmed in its ledger, or entry 0 of the current ledger.
func (ml *ManagedLedger) nextWritePositionLocked() Position {
	cur := ml.info.Ledgers[len(ml.info.Ledgers)-1]
	if ml.lastConfirmed.Ledger == cur.ID {
		return Position{Ledger: cur.ID, Entry: ml.lastConfirmed.Entry + 1}
	}
	return Position{Ledger: cur.ID, Entry: 0}
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

// DeleteCursor removes a durable cursor and its record.
func (ml *ManagedLedger) DeleteCursor(ctx context.Context, name string) error {
	ml.mu.Lock()
	c, ok := ml.cursors[name]
	delete(ml.cursors, name)
	ml.mu.Unlock()
	if !ok {
		return nil
	}
	c.mu.Lock()
	c.deleted = true
	snap := c.snapshotLedger
	c.mu.Unlock()
	if err := ml.store.Delete(ctx, c.key, -1); err != nil {
		return err
	}
	if snap != 0 {
		ml.deleteLedgerBackground(snap)
	}
	ml.maybeTrim()
	return nil
}

// Name is the subscription name ("" for a non-durable cursor).
func (c *Cursor) Name() string { return c.name }

// Durable reports whether the cursor is persisted.
func (c *Cursor) Durable() bool { return c.durable }

// syncLocked brings the cursor's layout up to date with the managed ledger.
func (c *Cursor) syncLocked() {
	c.ml.mu.Lock()
	gen := c.ml.layoutGen
	var l cursor.Layout
	if gen != c.layoutGen {
		l = c.ml.layoutLocked()
	}
	c.ml.mu.Unlock()
	if l != nil {
		if err := c.state.SetLayout(l); err == nil {
			c.layoutGen = gen
		}
	}
}

func (c *Cursor) update(f func(*cursor.State) error) error {
	c.mu.Lock()
	c.syncLocked()
	before := c.state.MarkDelete()
	err := f(c.state)
	if err == nil {
		c.dirty = true
	}
	moved := c.state.MarkDelete() != before
	c.mu.Unlock()
	if moved && c.durable {
		c.ml.maybeTrim()
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
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
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
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	return c.state.Backlog()
}

// Unacked lists unacknowledged positions in [from, to]. The iteration holds the cursor
// lock; do not call the cursor from inside it.
func (c *Cursor) Unacked(from, to Position) iter.Seq[Position] {
	return func(yield func(Position) bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.syncLocked()
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

// record builds the etcd record, writing a large snapshot to a new cursor ledger first.
// It returns the record bytes; the caller CASes them.
func (c *Cursor) record(ctx context.Context) ([]byte, error) {
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
			return nil, err
		}
		rec.SnapshotLedger = id
	}
	return json.Marshal(rec)
}

// flush persists the cursor if it changed since the last flush.
func (c *Cursor) flush(ctx context.Context) error {
	c.mu.Lock()
	if !c.durable || !c.dirty || c.deleted {
		c.mu.Unlock()
		return nil
	}
	c.dirty = false
	rev := c.rev
	oldSnap := c.snapshotLedger
	c.mu.Unlock()
	data, err := c.record(ctx)
	if err == nil {
		var newRev int64
		newRev, err = c.ml.store.CAS(ctx, c.key, data, rev)
		if err == nil {
			var rec cursorRecord
			_ = json.Unmarshal(data, &rec)
			c.mu.Lock()
			c.rev, c.snapshotLedger = newRev, rec.SnapshotLedger
			c.mu.Unlock()
			if oldSnap != 0 && oldSnap != rec.SnapshotLedger {
				c.ml.deleteLedgerBackground(oldSnap)
			}
			return nil
		}
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			c.ml.mu.Lock()
			c.ml.state = stateFenced
			c.ml.mu.Unlock()
			return fmt.Errorf("%w: cursor %q changed by another owner", ErrFenced, c.name)
		}
	}
	c.mu.Lock()
	c.dirty = true // try again on the next flush
	c.mu.Unlock()
	return err
}

// writeSnapshotLedger stores a large cursor snapshot in a ledger of its own.
func (ml *ManagedLedger) writeSnapshotLedger(ctx context.Context, cursorName string, snap []byte) (int64, error) {
	w, err := ml.lc.Create(ctx, ledgerCreateOptions(ml.cfg, map[string]string{"managedLedger": ml.name, "cursor": cursorName}))
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
		return 0, fmt.Errorf("close cursor ledger: %w", err)
	}
	return w.ID(), nil
}
