package cursor

import (
	"testing"
)

// The "ack hole" pattern: every other entry acknowledged, so every acknowledged entry is
// its own range. Pulsar stores such ranges one by one (and caps how many it persists);
// here they cost one bit per entry of the span.
const (
	holeEntries = 2_000_000 // → 1,000,000 acknowledged entries in 1,000,000 ranges
	// maxHoleSnapshot is the bound this package promises for the million-range pattern:
	// one 8 KiB roaring bitmap container per 65,536 entries of span (~250 KiB for 2M
	// entries), far under etcd's 1.5 MiB request limit.
	maxHoleSnapshot = 1 << 20
)

// holeState acknowledges entries 1, 3, 5, … of the given layout's ledgers.
func holeState(tb testing.TB, l Layout) *State {
	tb.Helper()
	s, err := New(l)
	if err != nil {
		tb.Fatal(err)
	}
	for _, g := range l {
		for e := int64(1); e < g.Entries; e += 2 {
			if err := s.AckIndividual(Position{Ledger: g.ID, Entry: e}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return s
}

func TestMillionHoles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout Layout
	}{
		{"one ledger", Layout{{ID: 1, Entries: holeEntries}}},
		{"four ledgers", Layout{
			{ID: 1, Entries: holeEntries / 4}, {ID: 2, Entries: holeEntries / 4},
			{ID: 5, Entries: 0}, {ID: 6, Entries: holeEntries / 4}, {ID: 9, Entries: holeEntries / 4},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := holeState(t, tc.layout)
			if got := s.RangeCount(); got != holeEntries/2 {
				t.Fatalf("RangeCount = %d, want %d", got, holeEntries/2)
			}
			if got := s.AckedCount(); got != holeEntries/2 {
				t.Fatalf("AckedCount = %d", got)
			}
			if s.MarkDelete() != Earliest() || s.Backlog() != holeEntries/2 {
				t.Fatalf("mark-delete %v backlog %d", s.MarkDelete(), s.Backlog())
			}
			size := s.EncodedSize()
			t.Logf("%d ranges: snapshot %d bytes", s.RangeCount(), size)
			if size >= maxHoleSnapshot {
				t.Fatalf("snapshot of the million-hole pattern is %d bytes, want < %d", size, maxHoleSnapshot)
			}
			var mem uint64
			for _, bm := range s.acked {
				mem += bm.GetSizeInBytes()
			}
			if mem >= maxHoleSnapshot {
				t.Fatalf("bitmaps hold %d bytes in memory, want < %d", mem, maxHoleSnapshot)
			}

			back, err := Unmarshal(s.Marshal(), tc.layout)
			if err != nil {
				t.Fatal(err)
			}
			if back.RangeCount() != holeEntries/2 || back.AckedCount() != holeEntries/2 {
				t.Fatalf("round trip: %d ranges, %d acked", back.RangeCount(), back.AckedCount())
			}

			// Filling the holes walks mark-delete to the end and empties the set.
			for _, g := range tc.layout {
				for e := int64(0); e < g.Entries; e += 2 {
					if err := s.AckIndividual(Position{Ledger: g.ID, Entry: e}); err != nil {
						t.Fatal(err)
					}
				}
			}
			last, _ := Layout(tc.layout).Last()
			if s.MarkDelete() != last || s.AckedCount() != 0 || s.Backlog() != 0 {
				t.Fatalf("after filling: mark-delete %v (want %v), %d acked, backlog %d",
					s.MarkDelete(), last, s.AckedCount(), s.Backlog())
			}
			if s.EncodedSize() != minSnapshotSize {
				t.Fatalf("empty state encodes to %d bytes", s.EncodedSize())
			}
		})
	}
}
