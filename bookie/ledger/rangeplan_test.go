package ledger

import (
	"fmt"
	"slices"
	"testing"
)

// planSpans cuts a range into calls: every entry of the range is in exactly one span,
// a span's entries are all stored by each of its bookies (the write set of its first
// entry, head first),
// no span crosses a fragment or holds more than rangeMaxEntries entries, and the number
// of spans is the least those rules allow.
func TestPlanSpans(t *testing.T) {
	frag := func(first int64, ens ...string) Fragment { return Fragment{FirstEntry: first, Ensemble: ens} }
	meta := func(e, qw int, fs ...Fragment) *Metadata {
		return &Metadata{ID: 7, EnsembleSize: e, WriteQuorum: qw, AckQuorum: 1, State: StateClosed, Fragments: fs}
	}
	tests := []struct {
		name        string
		m           *Metadata
		first, last int64
		want        int // spans
	}{
		{"E1, one span", meta(1, 1, frag(0, "a")), 0, 63, 1},
		{"E1, 65 entries", meta(1, 1, frag(0, "a")), 0, 64, 2},
		{"E1, one entry", meta(1, 1, frag(0, "a")), 9, 9, 1},
		{"E3Qw3 is consecutive", meta(3, 3, frag(0, "a", "b", "c")), 5, 200, 4},
		{"E2Qw2", meta(2, 2, frag(0, "a", "b")), 0, 99, 2},
		{"E3Qw2: one span per position", meta(3, 2, frag(0, "a", "b", "c")), 0, 99, 3},
		{"E3Qw2: two entries", meta(3, 2, frag(0, "a", "b", "c")), 10, 11, 2},
		{"E3Qw2: 64 per position", meta(3, 2, frag(0, "a", "b", "c")), 0, 3*64 - 1, 3},
		{"E3Qw2: 65 at position 0", meta(3, 2, frag(0, "a", "b", "c")), 0, 3 * 64, 4},
		{"E5Qw2", meta(5, 2, frag(0, "a", "b", "c", "d", "e")), 3, 1000, 5 * 4},
		{"across fragments", meta(3, 2, frag(0, "a", "b", "c"), frag(50, "a", "d", "c"), frag(120, "e", "d", "c")), 0, 199, 9},
		{"within the second fragment", meta(3, 2, frag(0, "a", "b", "c"), frag(50, "a", "d", "c")), 60, 70, 3},
		{"an emptied fragment", meta(2, 2, frag(0, "a", "b"), frag(40, "c", "b"), frag(40, "c", "d")), 0, 99, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m.Validate(); err != nil {
				t.Fatal(err)
			}
			spans := planSpans(tc.m, tc.first, tc.last)
			seen := map[int64]bool{}
			for _, s := range spans {
				desc := fmt.Sprintf("span %d..%d step %d on %v", s.first, s.last, s.step, s.bookies)
				if s.first < tc.first || s.last > tc.last || s.last < s.first || (s.last-s.first)%s.step != 0 {
					t.Fatalf("%s: outside %d..%d or ragged", desc, tc.first, tc.last)
				}
				if n := (s.last-s.first)/s.step + 1; n > rangeMaxEntries {
					t.Fatalf("%s: %d entries", desc, n)
				}
				if ws := tc.m.WriteSetBookies(s.first); !slices.Equal(ws, s.bookies) {
					t.Fatalf("%s: not in the write-set order of its first entry, %v", desc, ws)
				}
				if f, g := tc.m.FragmentFor(s.first), tc.m.FragmentFor(s.last); f.FirstEntry != g.FirstEntry {
					t.Fatalf("%s: crosses fragments at %d and %d", desc, f.FirstEntry, g.FirstEntry)
				}
				for e := s.first; e <= s.last; e += s.step {
					if seen[e] {
						t.Fatalf("%s: entry %d is in two spans", desc, e)
					}
					seen[e] = true
					if ws := tc.m.WriteSetBookies(e); !slices.Equal(slices.Sorted(slices.Values(ws)), slices.Sorted(slices.Values(s.bookies))) {
						t.Fatalf("%s: entry %d is stored on %v", desc, e, ws)
					}
				}
			}
			if int64(len(seen)) != tc.last-tc.first+1 {
				t.Fatalf("spans cover %d of %d entries", len(seen), tc.last-tc.first+1)
			}
			if len(spans) != tc.want {
				t.Fatalf("%d spans, want %d", len(spans), tc.want)
			}
		})
	}
}
