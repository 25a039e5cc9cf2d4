package managedledger

import (
	"context"
	"fmt"
	"sort"
)

// ReadEntries returns up to max entries starting at from (inclusive), stopping at the end
// of from's ledger or at LastConfirmed. A from in a deleted ledger, or past the end of a
// closed ledger, moves to the next entry that exists. It returns no entries and no error
// when there is nothing at or after from yet.
//
// Entries come from the tailing cache when it holds from (only the cached run is
// returned then), else from a read-ahead stream or the bookies (readahead.go), up to the
// first entry the cache holds.
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
	last := min(start.Entry+int64(max)-1, lastInLedger)
	if out := ml.cache.run(start, last); out != nil {
		ml.mu.Unlock()
		return out, nil // the rest, if not cached, comes from the bookies on the next call
	}
	// Nothing the cache holds is read from the bookies, nor read ahead.
	limit := lastInLedger
	if c, ok := ml.cache.nextAfter(start); ok {
		limit = c - 1
	}
	last = min(last, limit)
	ml.mu.Unlock()
	out, err := ml.readBookies(ctx, start.Ledger, start.Entry, last, limit, max)
	if err != nil {
		return nil, fmt.Errorf("managedledger %s: read %d:%d..%d: %w", ml.name, start.Ledger, start.Entry, last, err)
	}
	return out, nil
}

// normalizeLocked maps from to the first existing position at or after it, and returns
// the last readable entry of that position's ledger. ok is false when nothing is there
// yet. Nothing after lastConfirmed is readable: entries acknowledged out of order (a
// later ledger's, during a rollover) wait until every add before them completed.
func (ml *ManagedLedger) normalizeLocked(from Position) (start Position, lastInLedger int64, ok bool) {
	ls := ml.info.Ledgers
	lc := ml.lastConfirmed
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
		if li.ID > lc.Ledger {
			break
		}
		// Ledgers before lc's are complete: all their adds completed before lc's.
		lastEntry := li.Entries - 1
		if li.ID == lc.Ledger {
			lastEntry = lc.Entry
		}
		if entry <= lastEntry {
			return Position{Ledger: li.ID, Entry: entry}, lastEntry, true
		}
	}
	return Position{}, 0, false
}

// Next returns the position right after p in the log as known now: (L, e+1), or the
// first entry of the next ledger once p is the last entry of a ledger that can no
// longer grow. It may name an entry not written yet; ReadEntries steps from there over
// ledger ends and deleted ledgers.
func (ml *ManagedLedger) Next(p Position) Position {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	ls := ml.info.Ledgers
	i := sort.Search(len(ls), func(i int) bool { return ls[i].ID >= p.Ledger })
	if i == len(ls) {
		return Position{Ledger: p.Ledger, Entry: p.Entry + 1}
	}
	li := ls[i]
	if li.ID != p.Ledger {
		return Position{Ledger: li.ID, Entry: 0} // p's ledger is gone (or p is Earliest)
	}
	// A ledger can still grow while it is the current one, or while adds to it are
	// in flight after a rollover (until it is closed or lastConfirmed moved past it).
	final := i < len(ls)-1 && (li.Closed || li.ID < ml.lastConfirmed.Ledger)
	if !final || p.Entry < li.Entries-1 {
		return Position{Ledger: li.ID, Entry: max(p.Entry+1, 0)}
	}
	return Position{Ledger: ls[i+1].ID, Entry: 0}
}
