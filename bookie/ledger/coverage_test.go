package ledger

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestWriteSetCovered(t *testing.T) {
	for _, tc := range []struct {
		e, qw, qa int
		unknown   []int // positions
		want      bool
	}{
		{3, 2, 2, nil, true},
		{3, 2, 2, []int{1}, true},        // one of three down: every write set of 2 has 1 unknown
		{3, 2, 2, []int{1, 2}, false},    // {1,2} is a write set with 2 unknown
		{3, 2, 2, []int{0, 2}, false},    // {2,0} wraps around
		{3, 3, 2, []int{0}, true},        // Qw=E: need E-Qa+1 = 2 answers
		{3, 3, 2, []int{0, 1}, false},    //
		{3, 2, 1, []int{0}, false},       // Qa=1: every bookie must answer
		{5, 3, 2, []int{0, 3}, false},    // {3,4,0}
		{5, 2, 2, []int{0, 2}, true},     // no 2 consecutive
		{5, 2, 2, []int{0, 2, 4}, false}, // {4,0}
		{1, 1, 1, nil, true},
		{1, 1, 1, []int{0}, false},
	} {
		got := writeSetCovered(tc.e, tc.qw, tc.qa, func(p int) bool { return slices.Contains(tc.unknown, p) })
		if got != tc.want {
			t.Errorf("E=%d Qw=%d Qa=%d unknown=%v: covered=%t, want %t", tc.e, tc.qw, tc.qa, tc.unknown, got, tc.want)
		}
	}
}

func TestSlotOfMatchesWriteSet(t *testing.T) {
	for _, q := range [][2]int{{1, 1}, {3, 2}, {3, 3}, {4, 3}, {5, 2}} {
		e, qw := q[0], q[1]
		for entry := int64(0); entry < 12; entry++ {
			ws := WriteSet(entry, e, qw)
			for pos := 0; pos < e; pos++ {
				want := slices.Index(ws, pos)
				if got := slotOf(entry, pos, e, qw); got != want {
					t.Fatalf("E=%d Qw=%d entry %d pos %d: slot %d, want %d", e, qw, entry, pos, got, want)
				}
			}
		}
	}
}

func TestReadOrder(t *testing.T) {
	m := &Metadata{EnsembleSize: 4, WriteQuorum: 3, AckQuorum: 2, Fragments: []Fragment{
		{FirstEntry: 0, Ensemble: []string{"b1", "b2", "b3", "b4"}},
		{FirstEntry: 10, Ensemble: []string{"b1", "b5", "b3", "b4"}},
	}}
	for _, tc := range []struct {
		entry int64
		down  []string
		want  []string
	}{
		{0, nil, []string{"b1", "b2", "b3"}},
		{3, nil, []string{"b4", "b1", "b2"}},
		{3, []string{"b4"}, []string{"b1", "b2", "b4"}},
		{11, nil, []string{"b4", "b1", "b5"}}, // 11 mod 4 = 3, second fragment
		{11, []string{"b4", "b1"}, []string{"b5", "b4", "b1"}},
	} {
		got := readOrder(m, tc.entry, func(b string) bool { return slices.Contains(tc.down, b) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("entry %d down %v: %v, want %v", tc.entry, tc.down, got, tc.want)
		}
	}
}

func TestWithEnsembleChange(t *testing.T) {
	m := &Metadata{
		FormatVersion: MetadataFormatVersion, ID: 7, EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2,
		State: StateOpen, LastEntry: -1,
		Fragments: []Fragment{{FirstEntry: 0, Ensemble: []string{"b1", "b2", "b3"}}},
	}
	// Replacing at the fragment's own first entry rewrites it in place.
	m0, err := m.WithEnsembleChange(0, map[int]string{1: "b4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m0.Fragments) != 1 || !slices.Equal(m0.Fragments[0].Ensemble, []string{"b1", "b4", "b3"}) {
		t.Fatalf("in-place change: %+v", m0.Fragments)
	}
	if !slices.Equal(m.Fragments[0].Ensemble, []string{"b1", "b2", "b3"}) {
		t.Fatalf("original modified: %+v", m.Fragments)
	}
	m5, err := m0.WithEnsembleChange(5, map[int]string{0: "b5", 2: "b6"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m5.Fragments) != 2 || m5.Fragments[1].FirstEntry != 5 || !slices.Equal(m5.Fragments[1].Ensemble, []string{"b5", "b4", "b6"}) {
		t.Fatalf("new fragment: %+v", m5.Fragments)
	}
	if got := m5.WriteSetBookies(4); !slices.Equal(got, []string{"b4", "b3"}) {
		t.Fatalf("entry 4 write set: %v", got)
	}
	if got := m5.WriteSetBookies(5); !slices.Equal(got, []string{"b6", "b5"}) {
		t.Fatalf("entry 5 write set: %v", got)
	}
	if got := m5.Bookies(); !slices.Equal(got, []string{"b1", "b4", "b3", "b5", "b6"}) {
		t.Fatalf("bookies: %v", got)
	}
	if _, err := m5.WithEnsembleChange(3, map[int]string{0: "b9"}); err == nil {
		t.Fatal("change before the last fragment accepted")
	}
	if _, err := m5.WithEnsembleChange(6, map[int]string{0: "b4"}); err == nil {
		t.Fatal("ensemble with a duplicate bookie accepted")
	}
	// Round trip, including the recovery length flag.
	m5.LengthIsLowerBound = true
	data, err := m5.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalMetadata(data)
	if err != nil || !back.LengthIsLowerBound || len(back.Fragments) != 2 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestClassifyErrors(t *testing.T) {
	transport := status.Error(codes.Unavailable, "connection refused")
	for _, tc := range []struct {
		err      error
		outcome  addOutcome
		negative bool
	}{
		{transport, outcomeBookieFailed, false},
		{fmt.Errorf("wrapped: %w", status.Error(codes.DeadlineExceeded, "slow")), outcomeBookieFailed, false},
		{errors.New("stream reset"), outcomeBookieFailed, false},
		{bookiev1.Error(bookiev1.ReasonLedgerFenced, ""), outcomeFenced, false},
		{bookiev1.NewEntryError(bookiev1.ReasonLedgerFenced, "").Err(), outcomeFenced, false},
		{bookiev1.Error(bookiev1.ReasonReadOnly, ""), outcomeBookieFailed, false},
		{bookiev1.Error(bookiev1.ReasonShuttingDown, ""), outcomeBookieFailed, false},
		{bookiev1.Error(bookiev1.ReasonBadChecksum, ""), outcomeBookieFailed, false},
		{bookiev1.Error(bookiev1.ReasonOutOfOrder, ""), outcomeBookieFailed, false},
		{bookiev1.Error(bookiev1.ReasonEntryTooLarge, ""), outcomeRejected, false},
		{bookiev1.Error(bookiev1.ReasonInvalidArgument, ""), outcomeRejected, false},
		{bookiev1.Error(bookiev1.ReasonDuplicateEntry, ""), outcomeRejected, false},
		{bookiev1.Error(bookiev1.ReasonNoSuchEntry, ""), outcomeBookieFailed, true},
		{bookiev1.Error(bookiev1.ReasonNoSuchLedger, ""), outcomeBookieFailed, true},
		{bookiev1.Error(bookiev1.ReasonCorruptEntry, ""), outcomeBookieFailed, false},
		{status.Error(codes.NotFound, "no reason attached"), outcomeBookieFailed, false},
	} {
		if got := classifyAddError(tc.err); got != tc.outcome {
			t.Errorf("%v: outcome %d, want %d", tc.err, got, tc.outcome)
		}
		if got := isNegative(tc.err); got != tc.negative {
			t.Errorf("%v: negative %t, want %t", tc.err, got, tc.negative)
		}
	}
}
