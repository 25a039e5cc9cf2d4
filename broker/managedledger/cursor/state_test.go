package cursor

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func pos(l, e int64) Position { return Position{Ledger: l, Entry: e} }

func TestPosition(t *testing.T) {
	for _, tc := range []struct {
		p, q Position
		want int
	}{
		{pos(1, 5), pos(1, 5), 0},
		{pos(1, 5), pos(1, 6), -1},
		{pos(2, 0), pos(1, 99), 1},
		{Earliest(), pos(0, 0), -1},
		{pos(3, -1), pos(2, math.MaxInt32), 1},
		{pos(3, -1), pos(3, 0), -1},
	} {
		if got := tc.p.Compare(tc.q); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.p, tc.q, got, tc.want)
		}
		if got := tc.p.Less(tc.q); got != (tc.want < 0) {
			t.Errorf("%v.Less(%v) = %v", tc.p, tc.q, got)
		}
		back, err := ParsePosition(tc.p.String())
		if err != nil || back != tc.p {
			t.Errorf("ParsePosition(%q) = %v, %v", tc.p.String(), back, err)
		}
	}
	for _, bad := range []string{"", "1", "1:x", "x:1", "1:2:3"} {
		if _, err := ParsePosition(bad); err == nil || !strings.HasPrefix(err.Error(), "cursor: ") {
			t.Errorf("ParsePosition(%q) error %v", bad, err)
		}
	}
	if Earliest().String() != "-1:-1" {
		t.Errorf("Earliest() = %v", Earliest())
	}
}

func TestLayoutValidate(t *testing.T) {
	for _, tc := range []struct {
		l  Layout
		ok bool
	}{
		{nil, true},
		{Layout{{ID: 0, Entries: 0}}, true},
		{Layout{{ID: 1, Entries: MaxEntriesPerLedger}, {ID: 2, Entries: 3}}, true},
		{Layout{{ID: -1, Entries: 1}}, false},
		{Layout{{ID: 2, Entries: 1}, {ID: 2, Entries: 1}}, false},
		{Layout{{ID: 3, Entries: 1}, {ID: 2, Entries: 1}}, false},
		{Layout{{ID: 1, Entries: -1}}, false},
		{Layout{{ID: 1, Entries: MaxEntriesPerLedger + 1}}, false},
	} {
		err := tc.l.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadLayout)) {
			t.Errorf("Validate(%v) = %v, want ok=%v", tc.l, err, tc.ok)
		}
		if _, err := New(tc.l); (err == nil) != tc.ok {
			t.Errorf("New(%v) = %v, want ok=%v", tc.l, err, tc.ok)
		}
	}
}

func TestLayoutNext(t *testing.T) {
	l := Layout{{ID: 2, Entries: 3}, {ID: 3, Entries: 0}, {ID: 5, Entries: 2}, {ID: 6, Entries: 0}}
	for _, tc := range []struct {
		p    Position
		want Position
		ok   bool
	}{
		{Earliest(), pos(2, 0), true},
		{pos(1, 99), pos(2, 0), true}, // ledger 1 is gone
		{pos(2, -1), pos(2, 0), true},
		{pos(2, -7), pos(2, 0), true},
		{pos(2, 0), pos(2, 1), true},
		{pos(2, 2), pos(5, 0), true}, // over empty ledger 3
		{pos(2, 99), pos(5, 0), true},
		{pos(2, math.MaxInt64), pos(5, 0), true},
		{pos(3, -1), pos(5, 0), true},
		{pos(4, 0), pos(5, 0), true}, // unknown ledger between
		{pos(5, 0), pos(5, 1), true},
		{pos(5, 1), Position{}, false}, // last entry; ledger 6 is empty
		{pos(6, -1), Position{}, false},
		{pos(9, 0), Position{}, false},
	} {
		got, ok := l.Next(tc.p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Next(%v) = %v, %v; want %v, %v", tc.p, got, ok, tc.want, tc.ok)
		}
	}
	if last, ok := l.Last(); last != pos(5, 1) || !ok {
		t.Errorf("Last = %v, %v", last, ok)
	}
	if _, ok := (Layout{{ID: 1, Entries: 0}}).Last(); ok {
		t.Errorf("Last of an empty topic")
	}
	for _, tc := range []struct {
		p    Position
		want int64
	}{
		{Earliest(), 5}, {pos(2, -1), 5}, {pos(2, 0), 4}, {pos(2, 2), 2}, {pos(2, 50), 2},
		{pos(4, 0), 2}, {pos(5, 0), 1}, {pos(5, 1), 0}, {pos(7, 0), 0},
	} {
		if got := l.countAfter(tc.p); got != tc.want {
			t.Errorf("countAfter(%v) = %d, want %d", tc.p, got, tc.want)
		}
	}
	for _, tc := range []struct {
		p    Position
		want bool
	}{
		{pos(2, 0), true}, {pos(2, 2), true}, {pos(2, 3), false}, {pos(2, -1), false},
		{pos(3, 0), false}, {pos(4, 0), false}, {pos(5, 1), true},
	} {
		if got := l.Contains(tc.p); got != tc.want {
			t.Errorf("Contains(%v) = %v", tc.p, got)
		}
	}
}

func TestExtend(t *testing.T) {
	s, err := New(nil)
	must(t, err)
	steps := []struct {
		id, entries int64
		ok          bool
	}{
		{1, 0, true},  // first ledger of a new topic
		{1, 5, true},  // grows
		{1, 5, true},  // no change
		{1, 4, false}, // shrinks
		{0, 9, false}, // before the last
		{3, 0, true},  // rollover
		{3, MaxEntriesPerLedger + 1, false},
		{-1, 0, false},
	}
	for _, st := range steps {
		err := s.Extend(st.id, st.entries)
		if (err == nil) != st.ok || (err != nil && !errors.Is(err, ErrBadLayout)) {
			t.Errorf("Extend(%d, %d) = %v, want ok=%v", st.id, st.entries, err, st.ok)
		}
	}
	if got := s.Layout(); !slices.Equal(got, Layout{{ID: 1, Entries: 5}, {ID: 3, Entries: 0}}) {
		t.Fatalf("layout %v", got)
	}
	// The state's layout is its own: changing the returned copy changes nothing.
	s.Layout()[0].Entries = 99
	if s.Layout()[0].Entries != 5 {
		t.Fatal("Layout returned the state's own slice")
	}
}

// TestErrorsChangeNothing: every refused operation leaves the state byte-for-byte as it
// was.
func TestErrorsChangeNothing(t *testing.T) {
	s, err := New(Layout{{ID: 1, Entries: 10}, {ID: 2, Entries: 10}})
	must(t, err)
	must(t, s.AckIndividual(pos(1, 4)))
	must(t, s.AckBatchIndexes(pos(1, 6), 8, []int{1, 2}))
	before := s.Marshal()
	for name, op := range map[string]func() error{
		"ack outside":                  func() error { return s.AckIndividual(pos(1, 10)) },
		"ack unknown ledger":           func() error { return s.AckIndividual(pos(3, 0)) },
		"cumulative outside":           func() error { return s.AckCumulative(pos(2, 10)) },
		"batch size 0":                 func() error { return s.AckBatchIndexes(pos(1, 7), 0, nil) },
		"batch size too big":           func() error { return s.AckBatchWire(pos(1, 7), MaxBatchSize+1, nil) },
		"batch index out of range":     func() error { return s.AckBatchIndexes(pos(1, 7), 4, []int{1, 4}) },
		"batch negative index":         func() error { return s.AckBatchIndexes(pos(1, 7), 4, []int{-1}) },
		"batch size mismatch":          func() error { return s.AckBatchIndexes(pos(1, 6), 9, []int{0}) },
		"batch outside":                func() error { return s.AckBatchWire(pos(2, 11), 4, nil) },
		"cumulative batch mismatch":    func() error { return s.AckCumulativeBatch(pos(1, 6), 4, nil) },
		"cumulative batch outside":     func() error { return s.AckCumulativeBatch(pos(2, 10), 4, nil) },
		"cumulative batch size 0":      func() error { return s.AckCumulativeBatch(pos(2, 1), 0, nil) },
		"reset to latest sentinel":     func() error { return s.Reset(pos(math.MaxInt64, math.MaxInt64)) },
		"reset to negative ledger":     func() error { return s.Reset(pos(-3, 0)) },
		"reset to before-ledger":       func() error { return s.Reset(pos(2, -1)) },
		"set invalid layout":           func() error { return s.SetLayout(Layout{{ID: 2}, {ID: 1}}) },
		"extend before the last":       func() error { return s.Extend(1, 11) },
		"extend beyond the entry ids":  func() error { return s.Extend(2, MaxEntriesPerLedger+1) },
		"batch ack of unknown ledger":  func() error { return s.AckBatchIndexes(pos(7, 0), 2, []int{0}) },
		"cumulative ack before-ledger": func() error { return s.AckCumulative(pos(2, -1)) },
	} {
		err := op()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "cursor: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
		if !bytes.Equal(s.Marshal(), before) || !slices.Equal(s.Layout(), Layout{{ID: 1, Entries: 10}, {ID: 2, Entries: 10}}) {
			t.Fatalf("%s: the state changed:\n%s", name, render(s))
		}
	}
}

func TestUnackedBounds(t *testing.T) {
	s, err := New(Layout{{ID: 1, Entries: 4}, {ID: 2, Entries: 0}, {ID: 3, Entries: 4}})
	must(t, err)
	must(t, s.AckIndividual(pos(1, 0)))
	must(t, s.AckIndividual(pos(1, 2)))
	must(t, s.AckIndividual(pos(3, 1)))
	for _, tc := range []struct {
		from, to Position
		want     string
	}{
		{Earliest(), lastPosition, "1:1 1:3 3:0 3:2 3:3"},
		{pos(1, 2), pos(3, 0), "1:3 3:0"},
		{pos(1, 3), pos(1, 3), "1:3"},
		{pos(2, 0), pos(2, 9), ""},
		{pos(3, 1), pos(3, 1), ""},
		{pos(3, 2), pos(1, 0), ""}, // to before from
		{pos(3, -5), pos(3, 2), "3:0 3:2"},
		{pos(4, 0), lastPosition, ""},
	} {
		var got []string
		for p := range s.Unacked(tc.from, tc.to) {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("Unacked(%v, %v) = %v, want %q", tc.from, tc.to, got, tc.want)
		}
	}
	// Stopping early stops.
	n := 0
	for range s.Unacked(Earliest(), lastPosition) {
		n++
		break
	}
	if n != 1 {
		t.Fatal("break did not stop the iteration")
	}
}

// TestBatchWireRoundTrip: the ack_set the cursor hands out for redelivery, fed back as the
// client's ack_set, acknowledges exactly the messages already acknowledged (nothing new),
// and its complement completes the entry.
func TestBatchWireRoundTrip(t *testing.T) {
	for _, size := range []int{1, 2, 63, 64, 65, 128, 1000, MaxBatchSize} {
		s, err := New(Layout{{ID: 1, Entries: 3}})
		must(t, err)
		p := pos(1, 1)
		idx := []int{0, size / 2, size - 1}
		if size <= 2 {
			idx = []int{0}
		}
		must(t, s.AckBatchIndexes(p, size, idx))
		if size == 1 {
			if !s.IsAcked(p) {
				t.Fatalf("size 1: acking index 0 did not ack the entry")
			}
			continue
		}
		set := s.BatchAckSet(p)
		if len(set) != wordsFor(size) {
			t.Fatalf("size %d: ack_set of %d words", size, len(set))
		}
		must(t, s.AckBatchWire(p, size, set))
		if got := s.BatchAckSet(p); !slices.Equal(got, set) {
			t.Fatalf("size %d: re-sending the ack_set changed it", size)
		}
		complement := make([]int64, len(set))
		for i, w := range set {
			complement[i] = ^w
		}
		must(t, s.AckBatchWire(p, size, complement))
		if !s.IsAcked(p) || s.BatchAckSet(p) != nil || s.MarkDelete() != Earliest() {
			t.Fatalf("size %d: complement did not complete the entry:\n%s", size, render(s))
		}
	}
}
