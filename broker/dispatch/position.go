package dispatch

import (
	"fmt"
	"slices"
)

// Position identifies one entry of a topic's managed ledger: the ledger id and
// the entry id within it. Positions are ordered lexicographically, which is the
// order of the log. The cursor package has its own position type; the driver
// converts between the two.
type Position struct {
	Ledger int64
	Entry  int64
}

// Compare returns -1, 0 or +1 as p is before, equal to or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Ledger < q.Ledger:
		return -1
	case p.Ledger > q.Ledger:
		return 1
	case p.Entry < q.Entry:
		return -1
	case p.Entry > q.Entry:
		return 1
	}
	return 0
}

// Less reports whether p is before q.
func (p Position) Less(q Position) bool { return p.Compare(q) < 0 }

// String formats p as "ledger:entry", as Pulsar does.
func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Ledger, p.Entry) }

// prev returns the bound just below p: the next read "after" it starts at p.
// (l, -1) is below every entry of ledger l and above every entry of older
// ledgers, so no knowledge of ledger boundaries is needed.
func (p Position) prev() Position { return Position{p.Ledger, p.Entry - 1} }

func maxPos(a, b Position) Position {
	if a.Less(b) {
		return b
	}
	return a
}

// posSet is an ordered set of positions, shaped for the dispatchers' access
// pattern: insertions are mostly at the end (entries are read and sent in log
// order), removals mostly near the front (acks arrive roughly in order), and
// the smallest members are what reads and mark-delete moves look at. Both are
// amortised O(1) in that pattern; an insertion in the middle (a redelivery)
// costs a binary search and a copy of the tail.
//
// Removal leaves a tombstone in items; tombstones before head are skipped for
// good, the others are compacted away once they outnumber the members.
type posSet struct {
	// Invariant: items[head:] is sorted ascending, without duplicates, and holds
	// every member of live; positions in it that are not in live are tombstones.
	items []Position
	head  int
	live  map[Position]struct{}
}

func (s *posSet) Len() int { return len(s.live) }

func (s *posSet) Has(p Position) bool {
	_, ok := s.live[p]
	return ok
}

// Add inserts p; adding a member is a no-op.
func (s *posSet) Add(p Position) {
	if s.live == nil {
		s.live = make(map[Position]struct{})
	}
	if _, ok := s.live[p]; ok {
		return
	}
	s.live[p] = struct{}{}
	n := len(s.items)
	if n == s.head || s.items[n-1].Less(p) {
		s.items = append(s.items, p)
		return
	}
	i, found := slices.BinarySearchFunc(s.items[s.head:], p, Position.Compare)
	i += s.head
	switch {
	case found: // a tombstone of p: it is live again
	case i == s.head && s.head > 0:
		s.head--
		s.items[s.head] = p
	default:
		s.items = slices.Insert(s.items, i, p)
	}
}

// Remove deletes p and reports whether it was a member.
func (s *posSet) Remove(p Position) bool {
	if _, ok := s.live[p]; !ok {
		return false
	}
	delete(s.live, p)
	s.skipDead()
	dead := len(s.items) - s.head - len(s.live)
	if dead > 32 && dead > len(s.live) {
		s.compact()
	}
	return true
}

// Ascend calls fn on the members in order until fn returns false.
func (s *posSet) Ascend(fn func(Position) bool) {
	for _, p := range s.items[s.head:] {
		if _, ok := s.live[p]; ok && !fn(p) {
			return
		}
	}
}

// Clear removes every member.
func (s *posSet) Clear() { *s = posSet{} }

func (s *posSet) skipDead() {
	for s.head < len(s.items) {
		if _, ok := s.live[s.items[s.head]]; ok {
			break
		}
		s.head++
	}
	if s.head == len(s.items) {
		s.items, s.head = s.items[:0], 0
	}
}

func (s *posSet) compact() {
	items := make([]Position, 0, len(s.live))
	for _, p := range s.items[s.head:] {
		if _, ok := s.live[p]; ok {
			items = append(items, p)
		}
	}
	s.items, s.head = items, 0
}
