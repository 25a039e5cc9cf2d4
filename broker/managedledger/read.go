package managedledger

import (
	"context"
	"fmt"
	"sort"

	"github.com/strata-io/strata/bookie/ledger"
)

// ReadEntries returns up to max entries starting at from (inclusive), stopping at the end
// of from's ledger or at LastConfirmed. A from in a deleted ledger, or past the end of a
// closed ledger, moves to the next entry that exists. It returns no entries and no error
// when there is nothing at or after from yet.
func (ml *ManagedLedger) ReadEntries(ctx context.Context, from Position, max int) ([]Entry, error) {
	if max <= 0 {
		return nil, nil
	}
	ml.mu.Lock()
	start, lastInLedger, ok := ml.normalizeLocked(from)
	if !ok {
		ml.mu.Unlock()
		return nil, nil
	}
	last := start.Entry + int64(max) - 1
	if last > lastInLedger {
		last = lastInLedger
	}
	// Serve the head from the cache.
	var out []Entry
	e := start.Entry
	for ; e <= last; e++ {
		p := Position{Ledger: start.Ledger, Entry: e}
		d, ok := ml.cache.get(p)
		if !ok {
			break
		}
		out = append(out, Entry{Pos: p, Data: d})
	}
	ml.mu.Unlock()
	if e > last {
		return out, nil
	}
	if len(out) > 0 {
		return out, nil // the rest comes from bookies on the next call
	}
	r, err := ml.reader(ctx, start.Ledger)
	if err != nil {
		return nil, err
	}
	ents, err := r.Read(ctx, e, last)
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: read %d:%d..%d: %w", ml.name, start.Ledger, e, last, err)
	}
	for _, le := range ents {
		out = append(out, Entry{Pos: Position{Ledger: start.Ledger, Entry: le.ID}, Data: le.Payload})
	}
	return out, nil
}

// normalizeLocked maps from to the first existing position at or after it, and returns
// the last readable entry of that position's ledger. ok is false when nothing is there.
func (ml *ManagedLedger) normalizeLocked(from Position) (start Position, lastInLedger int64, ok bool) {
	ls := ml.info.Ledgers
	i := sort.Search(len(ls), func(i int) bool { return ls[i].ID >= from.Ledger })
	entry := from.Entry
	if entry < 0 {
		entry = 0
	}
	if i < len(ls) && ls[i].ID != from.Ledger {
		entry = 0 // from's ledger is gone: continue at the next one
	}
	for ; i < len(ls); i, entry = i+1, 0 {
		li := ls[i]
		lastEntry := li.Entries - 1
		if li.ID == ml.lastConfirmed.Ledger || i == len(ls)-1 {
			if li.ID == ml.lastConfirmed.Ledger {
				lastEntry = ml.lastConfirmed.Entry
			} else if ml.lastConfirmed.Ledger < li.ID {
				lastEntry = -1
			}
		}
		if entry <= lastEntry {
			return Position{Ledger: li.ID, Entry: entry}, lastEntry, true
		}
	}
	return Position{}, 0, false
}

// reader returns a cached ledger reader.
func (ml *ManagedLedger) reader(ctx context.Context, id int64) (*ledger.Reader, error) {
	ml.mu.Lock()
	r, ok := ml.readers[id]
	ml.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := ml.lc.OpenReader(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: open ledger %d: %w", ml.name, id, err)
	}
	ml.mu.Lock()
	if prev, ok := ml.readers[id]; ok {
		r = prev
	} else {
		ml.readers[id] = r
	}
	ml.mu.Unlock()
	return r, nil
}

// Next returns the position right after p in the log as known now (crossing into the next
// ledger after a ledger's last entry). It may name an entry not written yet.
func (ml *ManagedLedger) Next(p Position) Position {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	ls := ml.info.Ledgers
	for i, li := range ls {
		if li.ID < p.Ledger {
			continue
		}
		if li.ID == p.Ledger {
			lastEntry := li.Entries - 1
			if i == len(ls)-1 || p.Entry < lastEntry {
				return Position{Ledger: li.ID, Entry: p.Entry + 1}
			}
			continue
		}
		return Position{Ledger: li.ID, Entry: 0}
	}
	return Position{Ledger: p.Ledger, Entry: p.Entry + 1}
}
