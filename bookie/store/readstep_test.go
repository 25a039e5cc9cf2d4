package store

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestReadStep(t *testing.T) {
	s, _ := openMem(t)
	// Ledger 1 holds what position 0 of an E3/Qw2 ensemble holds: entries e with
	// e mod 3 ∈ {0, 2}; 9 is missing (a hole), entries are 10 bytes each.
	for _, e := range []int64{0, 2, 3, 5, 6, 8, 11, 12, 14, 15} {
		mustAdd(t, s, mkAdd(1, e, e-1, string(bytes.Repeat([]byte{byte('a' + e)}, 10))))
	}
	mustAdd(t, s, mkAdd(1, math.MaxInt64, 0, "last possible id"))
	mustAdd(t, s, mkAdd(2, 0, -1, "other ledger"))
	tests := []struct {
		name              string
		first, last, step int64
		maxBytes          uint64
		want              []int64
		err               error
	}{
		{"step 3 over the head entries", 0, 8, 3, 0, []int64{0, 3, 6}, nil},
		{"step 3 stops at the hole", 0, 20, 3, 0, []int64{0, 3, 6}, nil},
		{"step 3 after the hole", 12, 20, 3, 0, []int64{12, 15}, nil},
		{"step 3, second slot", 2, 14, 3, 0, []int64{2, 5, 8, 11, 14}, nil},
		{"last below the next step", 0, 5, 3, 0, []int64{0, 3}, nil},
		{"single id", 5, 5, 3, 0, []int64{5}, nil},
		{"byte cap", 2, 14, 3, 25, []int64{2, 5}, nil},
		{"cap below one entry still returns it", 2, 14, 3, 1, []int64{2}, nil},
		{"step 1 stops at the first gap", 2, 8, 1, 0, []int64{2, 3}, nil},
		{"step larger than the range", 3, 8, 100, 0, []int64{3}, nil},
		{"first missing", 1, 10, 3, 0, nil, ErrNoSuchEntry},
		{"first is the hole", 9, 20, 3, 0, nil, ErrNoSuchEntry},
		{"near the largest id: no overflow", math.MaxInt64 - 3, math.MaxInt64, 3, 0, nil, ErrNoSuchEntry},
		{"the largest id", math.MaxInt64, math.MaxInt64, 7, 0, []int64{math.MaxInt64}, nil},
		{"bad range", 3, 2, 1, 0, nil, ErrInvalidArgument},
		{"negative first", -1, 2, 1, 0, nil, ErrInvalidArgument},
		{"zero step", 0, 2, 0, 0, nil, ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, err := s.ReadStep(1, tc.first, tc.last, tc.step, tc.maxBytes)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			var got []int64
			for _, e := range es {
				got = append(got, e.ID)
				if e.Ledger != 1 || e.LAC != e.ID-1 && e.ID != math.MaxInt64 || e.CRC32C != Checksum(e.Payload) {
					t.Fatalf("entry %d: %+v", e.ID, e)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := s.ReadStep(3, 0, 9, 3, 0); !errors.Is(err, ErrNoSuchLedger) {
		t.Fatalf("unknown ledger: %v", err)
	}
}

// With step 1, ReadStep answers exactly as ReadRange on every range of a small ledger.
func TestReadStepOneIsReadRange(t *testing.T) {
	s, _ := openMem(t)
	for _, e := range []int64{0, 1, 2, 4, 5, 7} {
		mustAdd(t, s, mkAdd(1, e, e-1, string(bytes.Repeat([]byte{'x'}, int(e+1)))))
	}
	for first := int64(0); first <= 8; first++ {
		for last := first; last <= 8; last++ {
			for _, maxBytes := range []uint64{0, 1, 4, 9} {
				want, werr := s.ReadRange(1, first, last, maxBytes)
				got, gerr := s.ReadStep(1, first, last, 1, maxBytes)
				if (werr == nil) != (gerr == nil) || len(got) != len(want) {
					t.Fatalf("%d..%d cap %d: ReadStep %d entries (%v), ReadRange %d (%v)", first, last, maxBytes, len(got), gerr, len(want), werr)
				}
				for i := range got {
					if got[i].ID != want[i].ID || !bytes.Equal(got[i].Payload, want[i].Payload) {
						t.Fatalf("%d..%d cap %d: entry %d differs", first, last, maxBytes, i)
					}
				}
			}
		}
	}
}

// A strided read stops before a corrupt entry; starting on it reports it.
func TestReadStepCorruptEntry(t *testing.T) {
	s, _ := openMem(t)
	for e := int64(0); e < 9; e += 2 {
		mustAdd(t, s, mkAdd(1, e, e-1, "payload"))
	}
	key := entryKey(1, 4)
	v, closer, err := s.db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), v...)
	closer.Close()
	bad[len(bad)-1] ^= 1
	if err := s.db.Set(key, bad, nil); err != nil {
		t.Fatal(err)
	}
	es, err := s.ReadStep(1, 0, 8, 2, 0)
	if err != nil || len(es) != 2 || es[1].ID != 2 {
		t.Fatalf("range over the corrupt entry: %v %v", es, err)
	}
	var ce *CorruptEntryError
	if _, err := s.ReadStep(1, 4, 8, 2, 0); !errors.As(err, &ce) || ce.Entry != 4 {
		t.Fatalf("range starting at the corrupt entry: %v", err)
	}
	if es, err := s.ReadStep(1, 6, 8, 2, 0); err != nil || len(es) != 2 {
		t.Fatalf("range after the corrupt entry: %v %v", es, err)
	}
}
