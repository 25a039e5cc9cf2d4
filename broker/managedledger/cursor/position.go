package cursor

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// MaxEntriesPerLedger bounds a ledger's entry count: entry ids are 0..2^31-1, so an entry
// id always fits the uint32 domain of the per-ledger bitmaps.
const MaxEntriesPerLedger = 1 << 31

// Position is the place of one entry in a topic: ledger id, then entry id within the
// ledger. Positions order lexicographically, which is the order of the topic.
//
// Besides entry positions, the cursor uses "before" positions with Entry == -1: (L, -1)
// sorts after every entry of ledgers < L and before entry (L, 0), so "everything ≤ (L, -1)"
// means "everything before ledger L". Earliest, (-1, -1), is before every ledger.
type Position struct {
	Ledger int64
	Entry  int64
}

// Earliest is the position before every entry of every topic: a mark-delete at Earliest
// acknowledges nothing. It is also Pulsar's MessageId.earliest (ledger -1, entry -1).
// A function, not a variable, so that no package can change it.
func Earliest() Position { return Position{Ledger: -1, Entry: -1} }

// Compare returns -1, 0 or +1 as p sorts before, equal to or after q.
func (p Position) Compare(q Position) int {
	if c := cmp.Compare(p.Ledger, q.Ledger); c != 0 {
		return c
	}
	return cmp.Compare(p.Entry, q.Entry)
}

// Less reports whether p sorts before q.
func (p Position) Less(q Position) bool { return p.Compare(q) < 0 }

// String renders p as "ledger:entry", the form ParsePosition reads.
func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Ledger, p.Entry) }

// before returns the position just before entry position p without consulting a layout:
// (L, E-1), which for E == 0 is the "before ledger L" position (L, -1).
func (p Position) before() Position { return Position{Ledger: p.Ledger, Entry: p.Entry - 1} }

// isEntry reports whether p can name an entry: ledger ≥ 0 and 0 ≤ entry < 2^31.
func (p Position) isEntry() bool {
	return p.Ledger >= 0 && p.Entry >= 0 && p.Entry < MaxEntriesPerLedger
}

// validMarkDelete reports whether p can be a mark-delete position: Earliest, or a
// ledger ≥ 0 with -1 ≤ entry < 2^31.
func validMarkDelete(p Position) bool {
	if p == Earliest() {
		return true
	}
	return p.Ledger >= 0 && p.Entry >= -1 && p.Entry < MaxEntriesPerLedger
}

// ParsePosition reads "ledger:entry" as written by Position.String.
func ParsePosition(s string) (Position, error) {
	l, e, ok := strings.Cut(s, ":")
	if !ok {
		return Position{}, fmt.Errorf("cursor: position %q is not ledger:entry", s)
	}
	ledger, err := strconv.ParseInt(l, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("cursor: position %q: bad ledger: %w", s, err)
	}
	entry, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("cursor: position %q: bad entry: %w", s, err)
	}
	return Position{Ledger: ledger, Entry: entry}, nil
}

// Range is a run of consecutive acknowledged entries of one ledger, First..Last inclusive.
type Range struct {
	First, Last Position
}

// String renders r as "l:a..l:b", or "l:a" for a single entry.
func (r Range) String() string {
	if r.First == r.Last {
		return r.First.String()
	}
	return r.First.String() + ".." + r.Last.String()
}
