package store

import (
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// readStepPrealloc bounds the capacity reserved up front for a ReadStep result; larger
// results grow as usual.
const readStepPrealloc = 256

// ReadStep returns the entries first, first+step, first+2·step, … ≤ last of a ledger,
// their checksums verified; step 1 is ReadRange's consecutive ids. It is the read a
// striped ensemble needs: with E > Qw a bookie holds every E-th entry as the head of
// its write set, so step E reads its share of a range at once.
//
// The rules are ReadRange's: it stops at the first asked-for id that is not stored, at a
// corrupt entry, or before the payload total would pass maxBytes (0: no cap), but it
// returns at least the first entry when it exists. An empty result is an error:
// ErrNoSuchLedger/ErrNoSuchEntry, or *CorruptEntryError for a corrupt first entry.
//
// One Pebble iterator serves the whole call, moving with Next over consecutive ids and
// with forward seeks over a step, so the blocks of a range are read once, in order.
func (s *Store) ReadStep(ledger uint64, first, last, step int64, maxBytes uint64) ([]Entry, error) {
	if first < 0 || last < first || step < 1 {
		return nil, fmt.Errorf("%w: entry range %d..%d step %d", ErrInvalidArgument, first, last, step)
	}
	s.lifeMu.RLock()
	defer s.lifeMu.RUnlock()
	if s.dbClosed {
		return nil, ErrClosed
	}
	upper := ledgerEntriesEnd(ledger)
	if last < math.MaxInt64 {
		upper = entryKey(ledger, last+1)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(ledger, first), UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("store: read ledger %d: %w", ledger, err)
	}
	defer it.Close()
	out := make([]Entry, 0, min((last-first)/step+1, readStepPrealloc))
	var total uint64
	next := first
	for ok := it.First(); ok; {
		_, id, valid := parseEntryKey(it.Key())
		if !valid || id != next {
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("store: read entry %d of ledger %d: %w", id, ledger, err)
		}
		size := uint64(max(len(v)-entryHeaderLen, 0))
		if maxBytes > 0 && len(out) > 0 && total+size > maxBytes {
			break
		}
		e, err := decodeEntry(ledger, id, it.Key(), v)
		if err != nil {
			if len(out) > 0 {
				break // reading it alone reports it
			}
			return nil, err
		}
		out = append(out, e)
		total += size
		if next > last-step {
			break // the next id would pass last (or overflow)
		}
		next += step
		if step == 1 {
			ok = it.Next()
		} else {
			ok = it.SeekGE(entryKey(ledger, next))
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("store: read ledger %d: %w", ledger, err)
	}
	if len(out) == 0 {
		return nil, s.missing(ledger, first)
	}
	return out, nil
}
