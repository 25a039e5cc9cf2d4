package cursor

import (
	"fmt"
	"slices"
)

// checkInvariants verifies every `Invariant:` of State.
func checkInvariants(s *State) error {
	if err := s.layout.Validate(); err != nil {
		return err
	}
	if !validMarkDelete(s.md) {
		return fmt.Errorf("invalid mark-delete %v", s.md)
	}
	if next, ok := s.layout.Next(s.md); ok && s.IsAcked(next) {
		return fmt.Errorf("mark-delete %v not maximal: %v is acknowledged", s.md, next)
	}
	var count int64
	for id, bm := range s.acked {
		if bm.IsEmpty() {
			return fmt.Errorf("ledger %d: empty bitmap", id)
		}
		if err := bm.Validate(); err != nil {
			return fmt.Errorf("ledger %d: %v", id, err)
		}
		min, max := Position{Ledger: id, Entry: int64(bm.Minimum())}, Position{Ledger: id, Entry: int64(bm.Maximum())}
		if min.Compare(s.md) <= 0 || !s.layout.Contains(min) || !s.layout.Contains(max) {
			return fmt.Errorf("ledger %d: acks %v..%v not above mark-delete %v or outside the layout", id, min, max, s.md)
		}
		count += int64(bm.GetCardinality())
	}
	if count != s.count {
		return fmt.Errorf("count %d, bitmaps hold %d", s.count, count)
	}
	for p, b := range s.batches {
		if p.Compare(s.md) <= 0 || !s.layout.Contains(p) || s.IsAcked(p) || !b.valid() {
			return fmt.Errorf("batch %v (size %d, %d acked) violates its invariant", p, b.size, b.ones())
		}
	}
	if !slices.IsSortedFunc(s.batchPositions(), Position.Compare) {
		return fmt.Errorf("batch positions unsorted")
	}
	return nil
}
