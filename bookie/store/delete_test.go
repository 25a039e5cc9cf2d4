package store

import (
	"errors"
	"math/rand/v2"
	"testing"
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
	// A deleted ledger can be written again from scratch (not fenced, no old entries).
	mustAdd(t, s, mkAdd(1, 3, -1, "again"))
	if st, _ := s.State(1); st != (LedgerState{LAC: -1, LastEntry: 3}) {
		t.Fatalf("state after re-add %+v", st)
	}
}
