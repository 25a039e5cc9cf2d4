package cursor

import (
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// State is the acknowledgement state of one durable subscription: the mark-delete
// position, the entries individually acknowledged above it, and the partially
// acknowledged batches. It is a plain value machine: no goroutines, no clocks, no I/O,
// and not safe for concurrent use — the goroutine that owns the topic owns its cursors.
//
// Every method that returns an error leaves the State unchanged.
//
// Individual acks are kept as one roaring bitmap of entry ids per ledger, which costs
// about one bit per entry where acks are dense and interleaved with holes (the "ack every
// other message" pattern that makes Pulsar's range set explode), two bytes per ack where
// they are sparse, and a few bytes per run where they are contiguous.
type State struct {
	// layout is the topic's ledger list as last given by New, SetLayout or Extend.
	// Invariant: layout.Validate() == nil; the State owns this slice (never shared).
	layout Layout

	// md is the mark-delete position: every position ≤ md is acknowledged.
	// Invariant: validMarkDelete(md).
	// Invariant: md is maximal — the entry layout.Next(md), if any, is not acknowledged
	// (it is neither in acked nor ≤ md), so acks hold only positions above a gap.
	md Position

	// acked maps a ledger id to the entry ids of that ledger individually acknowledged.
	// Invariant: every bitmap is non-empty; every (L, e) it holds is > md and
	// layout.Contains((L, e)).
	acked map[int64]*roaring.Bitmap

	// count is the number of positions held in acked.
	// Invariant: count == Σ acked[L].GetCardinality().
	count int64

	// batches holds the batch entries of which some but not all messages are
	// acknowledged.
	// Invariant: every key p is > md, layout.Contains(p) and not in acked; every value
	// satisfies batchAcks.valid (at least one index acknowledged, at least one not).
	batches map[Position]*batchAcks
}

// New returns the state of a cursor over the given layout with nothing acknowledged:
// mark-delete at Earliest. Use Reset to start elsewhere (a subscription created at the
// latest position starts with Reset(next position to be written)).
func New(l Layout) (*State, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &State{
		layout:  slices.Clone(l),
		md:      Earliest(),
		acked:   make(map[int64]*roaring.Bitmap),
		batches: make(map[Position]*batchAcks),
	}, nil
}

// SetLayout replaces the layout (the owner calls it when ledgers are added or deleted).
// Acks of positions that no longer exist are dropped, and mark-delete advances if the
// change made a run of acknowledged entries contiguous with it (for example the deletion
// of a ledger between mark-delete and acknowledged entries). Mark-delete itself never
// moves back. The slice is copied.
func (s *State) SetLayout(l Layout) error {
	if err := l.Validate(); err != nil {
		return err
	}
	s.layout = slices.Clone(l)
	for id, bm := range s.acked {
		n, ok := s.layout.entries(id)
		if !ok {
			s.count -= int64(bm.GetCardinality())
			delete(s.acked, id)
			continue
		}
		s.removeRange(id, bm, uint64(n), 1<<32)
	}
	for p := range s.batches {
		if !s.layout.Contains(p) {
			delete(s.batches, p)
		}
	}
	s.advance()
	return nil
}

// Extend records that ledger id now has entries entries: either the last ledger grew
// (entries may not shrink) or a new ledger id, greater than every listed one, was
// appended on rollover. It is the cheap form of SetLayout for the writer's side.
func (s *State) Extend(id, entries int64) error {
	if id < 0 || entries < 0 || entries > MaxEntriesPerLedger {
		return fmt.Errorf("%w: ledger %d with %d entries", ErrBadLayout, id, entries)
	}
	n := len(s.layout)
	switch {
	case n > 0 && s.layout[n-1].ID == id:
		if entries < s.layout[n-1].Entries {
			return fmt.Errorf("%w: ledger %d cannot shrink from %d to %d entries",
				ErrBadLayout, id, s.layout[n-1].Entries, entries)
		}
		s.layout[n-1].Entries = entries
	case n == 0 || s.layout[n-1].ID < id:
		s.layout = append(s.layout, Ledger{ID: id, Entries: entries})
	default:
		return fmt.Errorf("%w: ledger %d is neither the last ledger nor after it", ErrBadLayout, id)
	}
	// Nothing above the old end can be acknowledged yet, so mark-delete cannot move.
	return nil
}

// Layout returns a copy of the current layout.
func (s *State) Layout() Layout { return slices.Clone(s.layout) }

// MarkDelete returns the mark-delete position: everything at or before it is
// acknowledged, and the entry right after it is not.
func (s *State) MarkDelete() Position { return s.md }

// AckIndividual acknowledges the entry at p (a whole entry: every message of a batch).
// It is idempotent, a no-op for p ≤ mark-delete, and fails with ErrOutsideLayout when p
// is above mark-delete but names no entry of the layout.
func (s *State) AckIndividual(p Position) error {
	if p.Compare(s.md) <= 0 {
		return nil
	}
	if !s.layout.Contains(p) {
		return fmt.Errorf("%w: %v", ErrOutsideLayout, p)
	}
	s.add(p)
	s.advance()
	return nil
}

// AckCumulative acknowledges every position ≤ p: mark-delete moves to p (then further
// over acknowledged entries) and individual and batch acks ≤ p are dropped. A no-op for
// p ≤ mark-delete; ErrOutsideLayout when p is above it but names no entry.
func (s *State) AckCumulative(p Position) error {
	if p.Compare(s.md) <= 0 {
		return nil
	}
	if !s.layout.Contains(p) {
		return fmt.Errorf("%w: %v", ErrOutsideLayout, p)
	}
	s.moveMarkDelete(p)
	s.advance()
	return nil
}

// Reset moves the cursor so that the next unacknowledged entry is to (seek,
// reset-cursor): all individual and batch acks are cleared and mark-delete becomes the
// position just before to — (L, E-1), or Earliest for to == Earliest. Mark-delete may
// move backwards; everything after it becomes unacknowledged again.
//
// to must be Earliest or an entry position; it need not exist yet. The owner resolves
// Pulsar's "latest" to the next position the topic will write, (last ledger, its entry
// count), since a mark-delete beyond what the topic will write would acknowledge future
// entries.
func (s *State) Reset(to Position) error {
	var md Position
	switch {
	case to == Earliest():
		md = Earliest()
	case to.isEntry():
		md = to.before()
	default:
		return fmt.Errorf("%w: cannot reset to %v", ErrBadPosition, to)
	}
	s.md = md
	clear(s.acked)
	clear(s.batches)
	s.count = 0
	s.advance()
	return nil
}

// IsAcked reports whether the whole entry at p is acknowledged. A partially
// acknowledged batch is not (see BatchAckSet).
func (s *State) IsAcked(p Position) bool {
	if p.Compare(s.md) <= 0 {
		return true
	}
	if !p.isEntry() {
		return false
	}
	bm := s.acked[p.Ledger]
	return bm != nil && bm.Contains(uint32(p.Entry))
}

// AckedCount returns the number of entries individually acknowledged above mark-delete.
func (s *State) AckedCount() int64 { return s.count }

// RangeCount returns the number of maximal runs of consecutive acknowledged entries
// above mark-delete (Pulsar's individuallyDeletedMessages ranges; a run never spans two
// ledgers). It walks the bitmaps: O(runs), meant for stats, not for every ack.
func (s *State) RangeCount() int {
	n := 0
	for _, bm := range s.acked {
		for range bm.Ranges() {
			n++
		}
	}
	return n
}

// AckedRanges yields the runs of individually acknowledged entries above mark-delete,
// in position order. The State must not be modified while iterating.
func (s *State) AckedRanges() iter.Seq[Range] {
	return func(yield func(Range) bool) {
		for _, id := range s.ackedLedgers() {
			for start, end := range s.acked[id].Ranges() {
				r := Range{
					First: Position{Ledger: id, Entry: int64(start)},
					Last:  Position{Ledger: id, Entry: int64(end) - 1},
				}
				if !yield(r) {
					return
				}
			}
		}
	}
}

// Unacked yields, in order, the existing entries p with from ≤ p ≤ to that are not
// acknowledged (partially acknowledged batches included). The dispatcher reads from its
// read position and stops after as many entries as it has permits; backlog tools bound
// it with the topic's last position. The State must not be modified while iterating.
func (s *State) Unacked(from, to Position) iter.Seq[Position] {
	return func(yield func(Position) bool) {
		if next, ok := s.layout.Next(s.md); !ok {
			return
		} else if from.Less(next) {
			from = next
		}
		for i := s.layout.search(from.Ledger); i < len(s.layout); i++ {
			g := s.layout[i]
			if g.ID > to.Ledger {
				return
			}
			lo, hi := int64(0), g.Entries-1
			if g.ID == from.Ledger {
				lo = max(lo, from.Entry)
			}
			if g.ID == to.Ledger {
				hi = min(hi, to.Entry)
			}
			if lo > hi {
				continue
			}
			more := absent(s.acked[g.ID], uint32(lo), uint32(hi), func(e uint32) bool {
				return yield(Position{Ledger: g.ID, Entry: int64(e)})
			})
			if !more {
				return
			}
		}
	}
}

// Backlog returns the number of existing entries not acknowledged: the entries after
// mark-delete in the layout minus those individually acknowledged. A partially
// acknowledged batch counts as one unacknowledged entry. O(ledgers).
func (s *State) Backlog() int64 {
	return s.layout.countAfter(s.md) - s.count
}

// add records the individual ack of entry p (> md, in the layout) and forgets any
// partial batch ack of it.
func (s *State) add(p Position) {
	bm := s.acked[p.Ledger]
	if bm == nil {
		bm = roaring.New()
		s.acked[p.Ledger] = bm
	}
	if bm.CheckedAdd(uint32(p.Entry)) {
		s.count++
	}
	delete(s.batches, p)
}

// removeRange removes entry ids [lo, hi) from ledger id's bitmap bm, keeping count and
// the non-empty-bitmap invariant.
func (s *State) removeRange(id int64, bm *roaring.Bitmap, lo, hi uint64) {
	before := bm.GetCardinality()
	bm.RemoveRange(lo, hi)
	after := bm.GetCardinality()
	s.count -= int64(before - after)
	if after == 0 {
		delete(s.acked, id)
	}
}

// moveMarkDelete sets md to p (> md) and drops every individual and batch ack ≤ p.
func (s *State) moveMarkDelete(p Position) {
	s.md = p
	for id, bm := range s.acked {
		switch {
		case id < p.Ledger:
			s.count -= int64(bm.GetCardinality())
			delete(s.acked, id)
		case id == p.Ledger && p.Entry >= 0:
			s.removeRange(id, bm, 0, uint64(p.Entry)+1)
		}
	}
	for q := range s.batches {
		if q.Compare(p) <= 0 {
			delete(s.batches, q)
		}
	}
}

// advance moves md over every acknowledged entry contiguous with it, one run at a time:
// the next entry after md is looked up in the layout (which steps over ledger ends and
// empty ledgers), and if it is acknowledged the whole run starting there is consumed at
// once from the bitmap. Runs never hold batch acks (an acknowledged entry has none), and
// acked holds only entries in the layout, so only the run's own bitmap changes. Each
// acknowledged entry is consumed once, so the cost is amortized over the acks.
func (s *State) advance() {
	for {
		next, ok := s.layout.Next(s.md)
		if !ok {
			return
		}
		bm := s.acked[next.Ledger]
		if bm == nil || !bm.Contains(uint32(next.Entry)) {
			return
		}
		// The run [next, end) is all held and nothing below it is (it would be ≤ md), so
		// removing just the run keeps the cost proportional to the run, not to its
		// offset in the container.
		start := uint64(next.Entry)
		end := runEnd(bm, uint32(start)) // ≤ 2^31: entry ids are < 2^31
		bm.RemoveRange(start, end)
		s.count -= int64(end - start)
		if bm.IsEmpty() {
			delete(s.acked, next.Ledger)
		}
		s.md = Position{Ledger: next.Ledger, Entry: int64(end) - 1}
	}
}

// ackedLedgers returns the ids of ledgers with individual acks, in order.
func (s *State) ackedLedgers() []int64 {
	return slices.Sorted(maps.Keys(s.acked))
}

// batchPositions returns the positions of partially acknowledged batches, in order.
func (s *State) batchPositions() []Position {
	return slices.SortedFunc(maps.Keys(s.batches), Position.Compare)
}
