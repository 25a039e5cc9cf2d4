package store

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestAddValidation(t *testing.T) {
	s, _ := openMem(t)
	good := mkAdd(1, 0, -1, "x")
	tests := []struct {
		name string
		add  Add
		want error
	}{
		{"ok", good, nil},
		{"negative entry", Add{Ledger: 1, Entry: -1, LAC: -1, CRC32C: Checksum(nil)}, ErrInvalidArgument},
		{"lac below -1", Add{Ledger: 1, Entry: 1, LAC: -2, CRC32C: Checksum(nil)}, ErrInvalidArgument},
		{"bad checksum", Add{Ledger: 1, Entry: 1, LAC: -1, Payload: []byte("y"), CRC32C: Checksum([]byte("z"))}, ErrBadChecksum},
		{"empty payload", Add{Ledger: 1, Entry: 2, LAC: 0, CRC32C: Checksum(nil)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Add(testCtx(t), tc.add)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := s.Read(1, 1); !errors.Is(err, ErrNoSuchEntry) {
		t.Fatalf("refused entry was stored: %v", err)
	}
}

func TestAddReadAndState(t *testing.T) {
	s, _ := openMem(t)
	if _, known := s.State(7); known {
		t.Fatal("fresh store knows ledger 7")
	}
	if _, err := s.Read(7, 0); !errors.Is(err, ErrNoSuchLedger) {
		t.Fatalf("read of unknown ledger: %v", err)
	}
	mustAdd(t, s, mkAdd(7, 0, -1, "zero"))
	mustAdd(t, s, mkAdd(7, 2, 0, "two")) // striping leaves gaps
	mustAdd(t, s, mkAdd(7, 1, 0, "one"))
	st, known := s.State(7)
	if !known || st != (LedgerState{LAC: 0, LastEntry: 2}) {
		t.Fatalf("state %+v known=%v", st, known)
	}
	e, err := s.Read(7, 2)
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Payload) != "two" || e.LAC != 0 || e.CRC32C != Checksum([]byte("two")) || e.Ledger != 7 || e.ID != 2 {
		t.Fatalf("read %+v", e)
	}
	if _, err := s.Read(7, 3); !errors.Is(err, ErrNoSuchEntry) {
		t.Fatalf("read past the end: %v", err)
	}
	if _, err := s.Read(7, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("read of entry -1: %v", err)
	}
	// The LAC is a max: an older LAC never lowers it.
	mustAdd(t, s, mkAdd(7, 3, 2, "three"))
	mustAdd(t, s, mkAdd(7, 4, 1, "four"))
	if st, _ := s.State(7); st.LAC != 2 || st.LastEntry != 4 {
		t.Fatalf("state %+v", st)
	}
}

func TestDuplicates(t *testing.T) {
	s, _ := openMem(t)
	mustAdd(t, s, mkAdd(1, 0, -1, "a"))
	mustAdd(t, s, mkAdd(1, 1, 0, "b"))
	tests := []struct {
		name string
		add  Add
		want error
	}{
		{"identical resend", mkAdd(1, 0, 0, "a"), nil},
		{"identical resend raises lac", mkAdd(1, 1, 1, "b"), nil},
		{"different bytes", mkAdd(1, 0, -1, "A"), ErrDuplicateEntry},
		{"different bytes, recovery", func() Add { a := mkAdd(1, 1, 0, "B"); a.Recovery = true; return a }(), ErrDuplicateEntry},
		{"identical, recovery", func() Add { a := mkAdd(1, 1, 0, "b"); a.Recovery = true; return a }(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Add(testCtx(t), tc.add)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	for id, want := range []string{"a", "b"} {
		e, err := s.Read(1, int64(id))
		if err != nil || string(e.Payload) != want {
			t.Fatalf("entry %d: %q %v", id, e.Payload, err)
		}
	}
	if st, _ := s.State(1); st.LAC != 1 {
		t.Fatalf("lac %d after identical resend with lac 1", st.LAC)
	}
}

func TestFence(t *testing.T) {
	s, _ := openMem(t)
	ctx := testCtx(t)
	mustAdd(t, s, mkAdd(1, 0, -1, "a"))
	mustAdd(t, s, mkAdd(1, 1, 0, "b"))
	st, err := s.Fence(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st != (LedgerState{LAC: 0, LastEntry: 1, Fenced: true}) {
		t.Fatalf("fence state %+v", st)
	}
	if err := s.Add(ctx, mkAdd(1, 2, 1, "c")); !errors.Is(err, ErrFenced) {
		t.Fatalf("add after fence: %v", err)
	}
	rec := mkAdd(1, 2, 1, "c")
	rec.Recovery = true
	if err := s.Add(ctx, rec); err != nil {
		t.Fatalf("recovery add after fence: %v", err)
	}
	// Fencing again is harmless and reports the same fenced state.
	if st, err := s.Fence(ctx, 1); err != nil || !st.Fenced || st.LastEntry != 2 {
		t.Fatalf("second fence: %+v %v", st, err)
	}

	// A ledger never seen: the fence is recorded, so a late add is refused.
	st, err = s.Fence(ctx, 99)
	if err != nil || st != (LedgerState{LAC: -1, LastEntry: -1, Fenced: true}) {
		t.Fatalf("fence of unknown ledger: %+v %v", st, err)
	}
	if err := s.Add(ctx, mkAdd(99, 0, -1, "late")); !errors.Is(err, ErrFenced) {
		t.Fatalf("late add to a ledger fenced before it was seen: %v", err)
	}
	if _, err := s.Read(99, 0); !errors.Is(err, ErrNoSuchEntry) {
		t.Fatalf("read of fenced empty ledger: %v", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for e := int64(0); e < 10; e++ {
		mustAdd(t, s, mkAdd(1, e, e-1, string(rune('a'+e))))
	}
	mustAdd(t, s, mkAdd(2, 0, -1, "x"))
	if _, err := s.Fence(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fence(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateLAC(1, 9); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, mkAdd(4, 0, -1, "y")) // a synced batch after the LAC update
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[uint64]LedgerState{
		1: {LAC: 9, LastEntry: 9},
		2: {LAC: -1, LastEntry: 0, Fenced: true},
		3: {LAC: -1, LastEntry: -1, Fenced: true},
		4: {LAC: -1, LastEntry: 0},
	}
	for id, w := range want {
		if st, known := s.State(id); !known || st != w {
			t.Errorf("ledger %d: %+v known=%v, want %+v", id, st, known, w)
		}
	}
	es, err := s.ReadRange(1, 0, 9, 0)
	if err != nil || len(es) != 10 {
		t.Fatalf("range after reopen: %d entries, %v", len(es), err)
	}
	for i, e := range es {
		if e.ID != int64(i) || string(e.Payload) != string(rune('a'+i)) || e.LAC != int64(i-1) {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if err := s.Add(ctx, mkAdd(2, 1, 0, "z")); !errors.Is(err, ErrFenced) {
		t.Fatalf("fence lost across reopen: %v", err)
	}
}

func TestReadRange(t *testing.T) {
	s, _ := openMem(t)
	for _, e := range []int64{0, 1, 2, 3, 5, 6} {
		mustAdd(t, s, mkAdd(1, e, e-1, string(bytes.Repeat([]byte{byte('a' + e)}, 10))))
	}
	mustAdd(t, s, mkAdd(2, 0, -1, "other ledger"))
	tests := []struct {
		name        string
		first, last int64
		maxBytes    uint64
		want        []int64
		err         error
	}{
		{"all", 0, 3, 0, []int64{0, 1, 2, 3}, nil},
		{"stops at gap", 2, 6, 0, []int64{2, 3}, nil},
		{"after gap", 5, 100, 0, []int64{5, 6}, nil},
		{"single", 6, 6, 0, []int64{6}, nil},
		{"byte cap", 0, 6, 25, []int64{0, 1}, nil},
		{"byte cap exact", 0, 6, 30, []int64{0, 1, 2}, nil},
		{"cap below one entry still returns it", 1, 6, 1, []int64{1}, nil},
		{"first missing", 4, 6, 0, nil, ErrNoSuchEntry},
		{"past the end", 7, 9, 0, nil, ErrNoSuchEntry},
		{"bad range", 3, 2, 0, nil, ErrInvalidArgument},
		{"negative first", -1, 2, 0, nil, ErrInvalidArgument},
		{"max last", 5, 1<<63 - 1, 0, []int64{5, 6}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, err := s.ReadRange(1, tc.first, tc.last, tc.maxBytes)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			var got []int64
			for _, e := range es {
				got = append(got, e.ID)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	if _, err := s.ReadRange(3, 0, 1, 0); !errors.Is(err, ErrNoSuchLedger) {
		t.Fatalf("unknown ledger: %v", err)
	}
}

func TestCorruptEntry(t *testing.T) {
	s, _ := openMem(t)
	for e := int64(0); e < 3; e++ {
		mustAdd(t, s, mkAdd(1, e, e-1, "payload-"+string(rune('0'+e))))
	}
	flip := func(entry int64, at int) {
		t.Helper()
		key := entryKey(1, entry)
		v, closer, err := s.db.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), v...)
		closer.Close()
		bad[at] ^= 0x40
		if err := s.db.Set(key, bad, nil); err != nil {
			t.Fatal(err)
		}
	}
	flip(1, entryHeaderLen+2) // a payload byte
	flip(2, 3)                // a header byte (the LAC)

	for _, entry := range []int64{1, 2} {
		_, err := s.Read(1, entry)
		var ce *CorruptEntryError
		if !errors.As(err, &ce) || ce.Ledger != 1 || ce.Entry != entry {
			t.Fatalf("read of corrupt entry %d: %v", entry, err)
		}
	}
	// A range stops before the corrupt entry; starting on it reports it.
	es, err := s.ReadRange(1, 0, 2, 0)
	if err != nil || len(es) != 1 || es[0].ID != 0 {
		t.Fatalf("range over corrupt entry: %v %v", es, err)
	}
	var ce *CorruptEntryError
	if _, err := s.ReadRange(1, 1, 2, 0); !errors.As(err, &ce) {
		t.Fatalf("range starting at corrupt entry: %v", err)
	}
	// A valid add repairs a corrupt record (recovery re-writing from another replica).
	rec := mkAdd(1, 1, 0, "payload-1")
	rec.Recovery = true
	mustAdd(t, s, rec)
	if e, err := s.Read(1, 1); err != nil || string(e.Payload) != "payload-1" {
		t.Fatalf("after repair: %q %v", e.Payload, err)
	}
}

func TestCorruptStateIsRebuiltFenced(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, mkAdd(5, 0, -1, "a"))
	mustAdd(t, s, mkAdd(5, 1, 0, "b"))
	if err := s.db.Set(ledgerKey(5), []byte("garbage"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, known := s.State(5); !known || st != (LedgerState{LAC: 0, LastEntry: 1, Fenced: true}) {
		t.Fatalf("rebuilt state %+v known=%v", st, known)
	}
}

func TestFormatVersion(t *testing.T) {
	t.Run("unknown version", func(t *testing.T) {
		fs := vfs.NewMem()
		s, err := Open("db", Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.db.Set(formatKey, encodeFormat(FormatVersion+1), nil); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := Open("db", Options{FS: fs}); !errors.Is(err, ErrUnknownFormat) {
			t.Fatalf("open of version %d: %v", FormatVersion+1, err)
		}
	})
	t.Run("data without version", func(t *testing.T) {
		fs := vfs.NewMem()
		s, err := Open("db", Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, s, mkAdd(1, 0, -1, "a"))
		if err := s.db.Delete(formatKey, nil); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := Open("db", Options{FS: fs}); !errors.Is(err, ErrUnknownFormat) {
			t.Fatalf("open without version key: %v", err)
		}
	})
}

func TestCloseCompletesQueuedAndRefusesLater(t *testing.T) {
	gate := &syncGate{}
	s, err := Open("db", Options{FS: errorfsWrap(vfs.NewMem(), gate)})
	if err != nil {
		t.Fatal(err)
	}
	reached, release := gate.arm()
	first := addAsync(s, mkAdd(1, 0, -1, "a"))
	waitCh(t, reached, "the first sync")
	queued := addAsync(s, mkAdd(1, 1, 0, "b"))
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	if err := first.get(t); err != nil {
		t.Fatal(err)
	}
	if err := queued.get(t); err != nil {
		t.Fatalf("op queued before Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := addAsync(s, mkAdd(1, 2, 1, "c")).get(t); !errors.Is(err, ErrClosed) {
		t.Fatalf("add after close: %v", err)
	}
	if _, err := s.Read(1, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
