package cursor

import (
	"testing"
)

// Figures from these benchmarks go to docs/benchmarks.md; no test asserts on time.

var holeLayout = Layout{{ID: 1, Entries: holeEntries}}

// BenchmarkAckIndividualHoles: one op = one ack that opens a new range (every other
// entry of a ledger), the worst case for range-based cursors.
func BenchmarkAckIndividualHoles(b *testing.B) {
	s, err := New(Layout{{ID: 1, Entries: MaxEntriesPerLedger}})
	if err != nil {
		b.Fatal(err)
	}
	e := int64(1)
	for b.Loop() {
		if err := s.AckIndividual(Position{Ledger: 1, Entry: e}); err != nil {
			b.Fatal(err)
		}
		e += 2
		if e >= MaxEntriesPerLedger {
			b.Fatal("ledger exhausted")
		}
	}
}

// BenchmarkAckFillHole: one op = acking the hole right after mark-delete while a million
// ranges sit above it; mark-delete advances over the next range each time.
func BenchmarkAckFillHole(b *testing.B) {
	s := holeState(b, holeLayout)
	e := int64(0)
	for b.Loop() {
		if e >= holeEntries {
			b.StopTimer()
			s = holeState(b, holeLayout)
			e = 0
			b.StartTimer()
		}
		if err := s.AckIndividual(Position{Ledger: 1, Entry: e}); err != nil {
			b.Fatal(err)
		}
		e += 2
	}
}

// BenchmarkAckCumulative: an Exclusive subscription acking every entry cumulatively.
func BenchmarkAckCumulative(b *testing.B) {
	s, err := New(Layout{{ID: 1, Entries: MaxEntriesPerLedger}})
	if err != nil {
		b.Fatal(err)
	}
	e := int64(0)
	for b.Loop() {
		if err := s.AckCumulative(Position{Ledger: 1, Entry: e}); err != nil {
			b.Fatal(err)
		}
		e++
	}
}

// BenchmarkAckBatchIndex: one op = one batch-index ack of a 100-message batch, completing
// the entry every 100 ops.
func BenchmarkAckBatchIndex(b *testing.B) {
	s, err := New(Layout{{ID: 1, Entries: MaxEntriesPerLedger}})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	idx := []int{0}
	for b.Loop() {
		idx[0] = i % 100
		if err := s.AckBatchIndexes(Position{Ledger: 1, Entry: int64(i / 100)}, 100, idx); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkIsAckedMillionHoles(b *testing.B) {
	s := holeState(b, holeLayout)
	e := int64(0)
	for b.Loop() {
		s.IsAcked(Position{Ledger: 1, Entry: e})
		e = (e + 7919) % holeEntries
	}
}

// BenchmarkUnacked1000: the dispatcher's read — the next 1000 unacknowledged entries
// from mark-delete, through a million holes.
func BenchmarkUnacked1000(b *testing.B) {
	s := holeState(b, holeLayout)
	for b.Loop() {
		n := 0
		for range s.Unacked(Earliest(), lastPosition) {
			if n++; n == 1000 {
				break
			}
		}
	}
}

func BenchmarkBacklogMillionHoles(b *testing.B) {
	s := holeState(b, holeLayout)
	for b.Loop() {
		s.Backlog()
	}
}

func BenchmarkRangeCountMillionHoles(b *testing.B) {
	s := holeState(b, holeLayout)
	for b.Loop() {
		s.RangeCount()
	}
}

func BenchmarkMarshalMillionHoles(b *testing.B) {
	s := holeState(b, holeLayout)
	var n int
	for b.Loop() {
		n = len(s.Marshal())
	}
	b.ReportMetric(float64(n), "snapshot-bytes")
}

func BenchmarkUnmarshalMillionHoles(b *testing.B) {
	data := holeState(b, holeLayout).Marshal()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Unmarshal(data, holeLayout); err != nil {
			b.Fatal(err)
		}
	}
}
