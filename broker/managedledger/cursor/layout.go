package cursor

import (
	"fmt"
	"sort"
)

// Ledger is one ledger of the topic as the cursor sees it: entries 0..Entries-1 exist and
// may be dispatched and acknowledged. For the open ledger Entries is the count confirmed
// so far (LAC+1); for a closed ledger it is final. Entries == 0 is an empty ledger, which
// the cursor steps over.
type Ledger struct {
	ID      int64
	Entries int64
}

// Layout is the topic's ledger list in increasing id order, as the managed ledger keeps
// it: ledgers are appended on rollover and removed from the front (or anywhere, for a
// forced deletion). The cursor needs it for three things only: to know which position
// follows another (to advance mark-delete across ledger boundaries and empty ledgers),
// to refuse acknowledgements of positions that do not exist, and to count the backlog.
//
// A Layout is a plain value. State.SetLayout copies it, so the owner may reuse its slice.
type Layout []Ledger

// Validate checks that ids are ≥ 0 and strictly increasing and that every entry count is
// within 0..MaxEntriesPerLedger.
func (l Layout) Validate() error {
	for i, g := range l {
		if g.ID < 0 {
			return fmt.Errorf("%w: ledger id %d is negative", ErrBadLayout, g.ID)
		}
		if i > 0 && g.ID <= l[i-1].ID {
			return fmt.Errorf("%w: ledger %d listed after ledger %d", ErrBadLayout, g.ID, l[i-1].ID)
		}
		if g.Entries < 0 || g.Entries > MaxEntriesPerLedger {
			return fmt.Errorf("%w: ledger %d has %d entries", ErrBadLayout, g.ID, g.Entries)
		}
	}
	return nil
}

// search returns the index of the first ledger with id ≥ id.
func (l Layout) search(id int64) int {
	return sort.Search(len(l), func(i int) bool { return l[i].ID >= id })
}

// entries returns the entry count of ledger id, and whether the layout lists it.
func (l Layout) entries(id int64) (int64, bool) {
	i := l.search(id)
	if i < len(l) && l[i].ID == id {
		return l[i].Entries, true
	}
	return 0, false
}

// Contains reports whether p names an existing entry.
func (l Layout) Contains(p Position) bool {
	n, ok := l.entries(p.Ledger)
	return ok && p.Entry >= 0 && p.Entry < n
}

// Next returns the first existing entry position after p, skipping empty and unknown
// ledgers; false when p is at or past the last entry. p need not exist: Next(Earliest)
// is the topic's first entry, and Next((L, -1)) is the first entry of ledger L or after.
func (l Layout) Next(p Position) (Position, bool) {
	i := l.search(p.Ledger)
	if i < len(l) && l[i].ID == p.Ledger {
		if p.Entry < l[i].Entries-1 {
			return Position{Ledger: p.Ledger, Entry: max(p.Entry+1, 0)}, true
		}
		i++
	}
	for ; i < len(l); i++ {
		if l[i].Entries > 0 {
			return Position{Ledger: l[i].ID, Entry: 0}, true
		}
	}
	return Position{}, false
}

// Last returns the topic's last existing entry; false when every ledger is empty.
func (l Layout) Last() (Position, bool) {
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].Entries > 0 {
			return Position{Ledger: l[i].ID, Entry: l[i].Entries - 1}, true
		}
	}
	return Position{}, false
}

// countAfter returns the number of existing entries strictly after p.
func (l Layout) countAfter(p Position) int64 {
	var n int64
	for i := l.search(p.Ledger); i < len(l); i++ {
		g := l[i]
		if g.ID == p.Ledger {
			if p.Entry < g.Entries-1 {
				n += g.Entries - max(p.Entry+1, 0)
			}
			continue
		}
		n += g.Entries
	}
	return n
}
