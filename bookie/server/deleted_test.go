package server

import (
	"testing"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// TestDeletedLedgerStaysFenced drives, over gRPC, what happens to a ledger whose
// metadata is gone: a new owner fences it, then it is deleted — by its deleter, by
// auto-recovery dropping a copy, or by whatever collects a bookie's orphaned ledgers.
// The old writer's stream, still open, must get LEDGER_FENCED for every add from then
// on (recovery adds too), reads say NO_SUCH_LEDGER, deleting it again writes nothing
// and does not bring it back as a ledger the bookie holds, and all of it holds after a
// restart.
func TestDeletedLedgerStaysFenced(t *testing.T) {
	e := start(t, Config{})
	ctx := testCtx(t)
	old := e.adder(t) // the previous owner's writer
	for i := range int64(3) {
		if got := old.do(req(1, i, i-1, "written")); got != "" {
			t.Fatalf("entry %d: %q", i, got)
		}
	}
	if got := old.do(req(2, 0, -1, "other ledger")); got != "" {
		t.Fatal(got)
	}
	// The new owner's recovery fences it, then the ledger is deleted.
	if _, err := e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, Fence: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.DeleteLedger(ctx, &bookiev1.DeleteLedgerRequest{LedgerId: 1}); err != nil {
		t.Fatal(err)
	}

	check := func(when string, a *adder, next int64) {
		t.Helper()
		if got := a.do(req(1, next, next-1, "after delete")); got != bookiev1.ReasonLedgerFenced {
			t.Fatalf("%s: add to the deleted ledger: %q, want %s", when, got, bookiev1.ReasonLedgerFenced)
		}
		if got := a.do(recovery(req(1, 0, -1, "written"))); got != bookiev1.ReasonLedgerFenced {
			t.Fatalf("%s: recovery add to the deleted ledger: %q, want %s", when, got, bookiev1.ReasonLedgerFenced)
		}
		if _, err := e.cli.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0}); bookiev1.ReasonOf(err) != bookiev1.ReasonNoSuchLedger {
			t.Fatalf("%s: read: %v", when, err)
		}
		if _, err := e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: 1}); bookiev1.ReasonOf(err) != bookiev1.ReasonNoSuchLedger {
			t.Fatalf("%s: ReadLAC: %v", when, err)
		}
		r, err := e.cli.ReadLAC(ctx, &bookiev1.ReadLACRequest{LedgerId: 1, Fence: true})
		if err != nil || !r.Fenced || r.Lac != -1 || r.LastEntryId != -1 {
			t.Fatalf("%s: fencing ReadLAC: %v %v", when, r, err)
		}
		// The fence wrote nothing: the ledger is still unknown.
		if _, err := e.cli.ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0, Fence: true}); bookiev1.ReasonOf(err) != bookiev1.ReasonNoSuchLedger {
			t.Fatalf("%s: fencing read: %v", when, err)
		}
		before := e.st.Stats()
		if _, err := e.cli.DeleteLedger(ctx, &bookiev1.DeleteLedgerRequest{LedgerId: 1}); err != nil {
			t.Fatalf("%s: delete again: %v", when, err)
		}
		if after := e.st.Stats(); after.Batches != before.Batches || after.Ledgers != 1 {
			t.Fatalf("%s: deleting the deleted ledger again: stats %+v, before %+v (ledger 2 is the only one)", when, after, before)
		}
		if got := a.do(req(2, next, next-1, "other ledger")); got != "" {
			t.Fatalf("%s: other ledger: %q", when, got)
		}
	}
	check("same stream", old, 3)
	check("new stream", e.adder(t), 4)

	e.stop()
	e.open(t, Config{})
	check("after a restart", e.adder(t), 5)
}
