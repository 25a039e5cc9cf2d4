package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/strata-io/strata/internal/testenv"
)

// TestCrashKeepsAcknowledged crashes the file system (keeping only what was synced)
// while an add is inside its fsync: every acknowledged add and the fence survive; the
// unacknowledged add is gone.
func TestCrashKeepsAcknowledged(t *testing.T) {
	mem := vfs.NewCrashableMem()
	gate := &syncGate{}
	s, err := Open("db", Options{FS: errorfs.Wrap(mem, gate)})
	if err != nil {
		t.Fatal(err)
	}
	for e := int64(0); e < 10; e++ {
		mustAdd(t, s, mkAdd(1, e, e-1, fmt.Sprint("acked ", e)))
	}
	if _, err := s.Fence(testCtx(t), 2); err != nil {
		t.Fatal(err)
	}
	reached, release := gate.arm()
	unacked := addAsync(s, mkAdd(1, 10, 9, "unacked"))
	waitCh(t, reached, "the unacknowledged add's fsync")
	if !unacked.pending() {
		t.Fatal("add acknowledged before its fsync")
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	release()
	if err := unacked.get(t); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open("db", Options{FS: crashed})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	for e := int64(0); e < 10; e++ {
		got, err := s.Read(1, e)
		if err != nil || string(got.Payload) != fmt.Sprint("acked ", e) {
			t.Fatalf("acknowledged entry %d after crash: %q %v", e, got.Payload, err)
		}
	}
	if _, err := s.Read(1, 10); !errors.Is(err, ErrNoSuchEntry) {
		t.Fatalf("unsynced entry 10 after a crash that dropped unsynced data: %v", err)
	}
	if st, _ := s.State(1); st != (LedgerState{LAC: 8, LastEntry: 9}) {
		t.Fatalf("ledger 1 after crash: %+v", st)
	}
	if st, _ := s.State(2); !st.Fenced {
		t.Fatal("fence lost in crash")
	}
}

// TestCrashRandomized crashes at random points with a random share of unsynced data
// kept: acknowledged state always survives, unacknowledged adds survive whole or not
// at all, and the ledger state agrees with the entries.
func TestCrashRandomized(t *testing.T) {
	rng := testenv.Rand(t)
	kept := 0
	for round := 0; round < 20; round++ {
		mem := vfs.NewCrashableMem()
		gate := &syncGate{}
		s, err := Open("db", Options{FS: errorfs.Wrap(mem, gate)})
		if err != nil {
			t.Fatal(err)
		}
		acked := 1 + rng.IntN(30)
		for e := 0; e < acked; e++ {
			mustAdd(t, s, mkAdd(1, int64(e), int64(e-1), fmt.Sprint("acked ", e)))
		}
		fenced := rng.IntN(2) == 0
		if fenced {
			if _, err := s.Fence(testCtx(t), 1); err != nil {
				t.Fatal(err)
			}
		}
		reached, release := gate.arm()
		first := addAsync(s, Add{Recovery: true, Ledger: 1, Entry: int64(acked), LAC: int64(acked - 1),
			Payload: []byte("unacked"), CRC32C: Checksum([]byte("unacked"))})
		waitCh(t, reached, "fsync")
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(rng.Uint64(), 0))})
		release()
		first.get(t)
		s.Close()

		s, err = Open("db", Options{FS: crashed})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		for e := 0; e < acked; e++ {
			if got, err := s.Read(1, int64(e)); err != nil || string(got.Payload) != fmt.Sprint("acked ", e) {
				t.Fatalf("round %d: acknowledged entry %d: %q %v", round, e, got.Payload, err)
			}
		}
		st, _ := s.State(1)
		if st.Fenced != fenced {
			t.Fatalf("round %d: fenced=%v, want %v", round, st.Fenced, fenced)
		}
		got, err := s.Read(1, int64(acked))
		switch {
		case err == nil && string(got.Payload) == "unacked" && st.LastEntry == int64(acked):
			kept++
		case errors.Is(err, ErrNoSuchEntry) && st.LastEntry == int64(acked-1):
		default:
			t.Fatalf("round %d: unacknowledged entry %q %v with state %+v", round, got.Payload, err, st)
		}
		s.Close()
	}
	t.Logf("the unacknowledged add survived %d of 20 crashes", kept)
}

// TestCrashKeepsTombstone: an acknowledged deletion survives a crash with its
// tombstone (the ledger stays fenced), and a deletion caught inside its own fsync is
// all or nothing — the entries and state gone with a tombstone, or all still there —
// never gone without the tombstone.
func TestCrashKeepsTombstone(t *testing.T) {
	rng := testenv.Rand(t)
	const rounds = 10
	kept := 0
	for round := 0; round < rounds; round++ {
		mem := vfs.NewCrashableMem()
		gate := &syncGate{}
		s, err := Open("db", Options{FS: errorfs.Wrap(mem, gate)})
		if err != nil {
			t.Fatal(err)
		}
		for _, ledger := range []uint64{1, 2} {
			for e := int64(0); e < 5; e++ {
				mustAdd(t, s, mkAdd(ledger, e, e-1, fmt.Sprint("entry ", e)))
			}
		}
		if err := s.DeleteLedger(testCtx(t), 1); err != nil {
			t.Fatal(err)
		}
		// Ledger 2's deletion is inside its fsync when the disk crashes.
		reached, release := gate.arm()
		unacked := make(chan error, 1)
		s.enqueue(&op{kind: opDelete, ledger: 2, done: func(_ LedgerState, err error) { unacked <- err }})
		waitCh(t, reached, "the deletion's fsync")
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(rng.Uint64(), 0))})
		release()
		if err := <-unacked; err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s, err = Open("db", Options{FS: crashed})
		if err != nil {
			t.Fatalf("round %d: reopen after crash: %v", round, err)
		}
		checkDeleted(t, s, 1)
		tomb, err := hasTomb(s, 2)
		if err != nil {
			t.Fatal(err)
		}
		if tomb {
			kept++
			checkDeleted(t, s, 2)
		} else {
			if st, known := s.State(2); !known || st != (LedgerState{LAC: 3, LastEntry: 4}) {
				t.Fatalf("round %d: ledger 2 without a tombstone after the crash: %+v known %v", round, st, known)
			}
			for e := int64(0); e < 5; e++ {
				if got, err := s.Read(2, e); err != nil || string(got.Payload) != fmt.Sprint("entry ", e) {
					t.Fatalf("round %d: ledger 2 without a tombstone lost entry %d: %q %v", round, e, got.Payload, err)
				}
			}
		}
		s.Close()
	}
	t.Logf("the unacknowledged deletion survived %d of %d crashes", kept, rounds)
}
