package store

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestDeleteLedgerReclaimsSpace writes a few MiB to a ledger on a real disk, deletes it,
// and checks that the entries are gone at once and that the compaction that follows
// leaves (almost) nothing of the ledger's key range on disk.
func TestDeleteLedgerReclaimsSpace(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, 64<<10)
	const entries = 64 // 4 MiB of random bytes: nothing for compression to shrink
	for e := int64(0); e < entries; e++ {
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		mustAdd(t, s, Add{Ledger: 1, Entry: e, LAC: e - 1, Payload: payload, CRC32C: Checksum(payload)})
	}
	mustAdd(t, s, mkAdd(2, 0, -1, "survivor"))
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	before, err := s.db.EstimateDiskUsage(ledgerEntriesStart(1), ledgerEntriesEnd(1))
	if err != nil {
		t.Fatal(err)
	}
	if before < entries*uint64(len(payload))/2 {
		t.Fatalf("only %d bytes on disk for ledger 1 before the delete", before)
	}

	ctx := testCtx(t)
	if err := s.DeleteLedger(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(1, 0); !errors.Is(err, ErrNoSuchLedger) {
		t.Fatalf("read after delete: %v", err)
	}
	if _, err := s.ReadRange(1, 0, entries, 0); !errors.Is(err, ErrNoSuchLedger) {
		t.Fatalf("range after delete: %v", err)
	}
	if _, known := s.State(1); known {
		t.Fatal("state survives delete")
	}
	if err := s.WaitCompactions(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := s.db.EstimateDiskUsage(ledgerEntriesStart(1), ledgerEntriesEnd(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ledger 1 on disk: %d bytes before delete, %d after compaction", before, after)
	if after > before/100 {
		t.Fatalf("compaction left %d of %d bytes", after, before)
	}
	if e, err := s.Read(2, 0); err != nil || string(e.Payload) != "survivor" {
		t.Fatalf("other ledger after delete: %q %v", e.Payload, err)
	}
	// Idempotent, also for a ledger never seen.
	if err := s.DeleteLedger(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLedger(ctx, 12345); err != nil {
		t.Fatal(err)
	}
	// A deleted ledger stays fenced: no add, normal or recovery, is ever acknowledged
	// again, and it still reads as deleted.
	checkDeleted(t, s, 1)
	checkDeleted(t, s, 12345)
}

// checkDeleted asserts that ledger reads as deleted and refuses every add as fenced.
func checkDeleted(t *testing.T, s *Store, ledger uint64) {
	t.Helper()
	ctx := testCtx(t)
	for _, recovery := range []bool{false, true} {
		a := mkAdd(ledger, 3, -1, "again")
		a.Recovery = recovery
		if err := s.Add(ctx, a); !errors.Is(err, ErrFenced) {
			t.Fatalf("ledger %d: add (recovery %v) after delete: %v, want ErrFenced", ledger, recovery, err)
		}
	}
	if err := s.UpdateLAC(ledger, 7); err != nil {
		t.Fatal(err)
	}
	// A fence is answered after the LAC update: the ledger is fenced and empty, and
	// neither brought it back.
	if st, err := s.Fence(ctx, ledger); err != nil || st != (LedgerState{LAC: -1, LastEntry: -1, Fenced: true}) {
		t.Fatalf("ledger %d: fence after delete: %+v %v", ledger, st, err)
	}
	if st, known := s.State(ledger); known {
		t.Fatalf("ledger %d: known again after delete: %+v", ledger, st)
	}
	if _, err := s.Read(ledger, 3); !errors.Is(err, ErrNoSuchLedger) {
		t.Fatalf("ledger %d: read after delete: %v", ledger, err)
	}
	if ok, err := hasTomb(s, ledger); err != nil || !ok {
		t.Fatalf("ledger %d: tombstone %v %v", ledger, ok, err)
	}
}

// hasTomb reports whether ledger's tombstone is in Pebble.
func hasTomb(s *Store, ledger uint64) (bool, error) {
	_, closer, err := s.db.Get(tombKey(ledger))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, closer.Close()
}

// TestDeleteFencesInFlight: while an earlier batch is held in its fsync, a deletion
// fences every add queued after it (decided on top of the batches in flight), and no
// answer comes before the held batch was synced. An add queued before the deletion is
// stored and then deleted with the rest.
func TestDeleteFencesInFlight(t *testing.T) {
	gate := &syncGate{}
	s, err := Open("db", Options{FS: errorfsWrap(vfs.NewMem(), gate)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustAdd(t, s, mkAdd(1, 0, -1, "zero"))

	reached, release := gate.arm()
	defer release() // before the deferred Close if the test fails while it holds the sync
	held := addAsync(s, mkAdd(2, 0, -1, "held"))
	waitCh(t, reached, "the held sync")
	before := addAsync(s, mkAdd(1, 1, 0, "before"))
	deleted := make(chan error, 1)
	s.enqueue(&op{kind: opDelete, ledger: 1, done: func(_ LedgerState, err error) { deleted <- err }})
	after := addAsync(s, mkAdd(1, 2, 1, "after"))
	afterRecovery := addAsync(s, Add{Recovery: true, Ledger: 1, Entry: 2, LAC: 1, Payload: []byte("r"), CRC32C: Checksum([]byte("r"))})
	if !after.pending() || !afterRecovery.pending() {
		t.Fatal("an add answered while the batch before it is being synced")
	}
	release()
	if err := held.get(t); err != nil {
		t.Fatal(err)
	}
	if err := before.get(t); err != nil {
		t.Fatalf("add queued before the deletion: %v", err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	for _, r := range []addResult{after, afterRecovery} {
		if err := r.get(t); !errors.Is(err, ErrFenced) {
			t.Fatalf("add queued after the deletion: %v, want ErrFenced", err)
		}
	}
	checkDeleted(t, s, 1)
}

// TestDeleteDeletedWritesNothing: deleting a ledger that is already deleted neither
// writes a batch nor queues another compaction, and a deleted ledger does not count
// among the store's ledgers — a collector that deletes what it finds cannot loop on one.
func TestDeleteDeletedWritesNothing(t *testing.T) {
	s, _ := openMem(t)
	ctx := testCtx(t)
	mustAdd(t, s, mkAdd(1, 0, -1, "x"))
	mustAdd(t, s, mkAdd(2, 0, -1, "y"))
	if err := s.DeleteLedger(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitCompactions(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Ledgers != 1 {
		t.Fatalf("%d ledgers after deleting one of two", st.Ledgers)
	}
	for range 3 {
		if err := s.DeleteLedger(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	after := s.Stats()
	if after.Batches != st.Batches || after.Ledgers != 1 {
		t.Fatalf("deleting a deleted ledger: stats %+v, before %+v", after, st)
	}
	s.mu.Lock()
	queued := len(s.compactQueue)
	s.mu.Unlock()
	if queued != 0 {
		t.Fatalf("%d compactions queued by deleting a deleted ledger", queued)
	}
	checkDeleted(t, s, 1)
}

// TestTombstoneSurvivesReopen: after a clean close and reopen the deleted ledger is
// still fenced, and ledgers that were never deleted are untouched.
func TestTombstoneSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, mkAdd(1, 0, -1, "x"))
	mustAdd(t, s, mkAdd(2, 0, -1, "y"))
	if err := s.DeleteLedger(testCtx(t), 1); err != nil {
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
	checkDeleted(t, s, 1)
	mustAdd(t, s, mkAdd(2, 1, 0, "y1"))
	if st, _ := s.State(2); st != (LedgerState{LAC: 0, LastEntry: 1}) {
		t.Fatalf("ledger 2 after reopen: %+v", st)
	}
}

// TestDeletedBeforeTombstones: data written before tombstones existed — a ledger deleted
// by an older build, with no tombstone — stays valid and reads as it did: the ledger is
// unknown and may be written afresh (the hole the tombstone closes, for such ledgers).
func TestDeletedBeforeTombstones(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, mkAdd(1, 0, -1, "x"))
	if err := s.DeleteLedger(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What an older build's deletion left: the same, without the tombstone.
	db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: pebbleLogger{}.discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(tombKey(1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Read(1, 0); !errors.Is(err, ErrNoSuchLedger) {
		t.Fatalf("read: %v", err)
	}
	mustAdd(t, s, mkAdd(1, 3, -1, "again"))
	if st, _ := s.State(1); st != (LedgerState{LAC: -1, LastEntry: 3}) {
		t.Fatalf("state after re-add %+v", st)
	}
}
