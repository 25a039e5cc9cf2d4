package managedledger

import (
	"context"
	"errors"
	"hash/crc32"
	"testing"

	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

// TestDeletedLedgerStaysFenced: owner 1 opens a topic and writes nothing; owner 2 opens
// it, recovers owner 1's empty ledger (which fences it on the bookies) and drops it,
// deleting it from the bookies and etcd. Owner 1, resuming, must have its append
// refused as fenced — every time, not only when the add meets the fence before the
// deletion — and so must a raw add to that ledger on every bookie of its ensemble,
// normal or recovery: the storage layer's promise that a fenced writer never again gets
// an add acknowledged holds for a deleted ledger too (bookie/store's tombstone). Run it
// with -count=20: before the tombstone, a deletion took the fence with it.
func TestDeletedLedgerStaysFenced(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		bookies int
	}{
		{name: "one-bookie", bookies: 1},
		{name: "E3Qw2Qa2", cfg: Config{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2}, bookies: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.bookies)
			ctx := testCtx(t)
			const topic = "persistent://t/ns/deleted-fence"
			first := open(t, c.factory(tc.cfg), topic)
			ledgers := first.Info().Ledgers
			if len(ledgers) != 1 {
				t.Fatalf("owner 1 has %d ledgers, want 1", len(ledgers))
			}
			dropped := ledgers[0].ID

			second := open(t, c.factory(tc.cfg), topic)
			waitTasks(second) // the background deletion of the dropped ledger
			for _, li := range second.Info().Ledgers {
				if li.ID == dropped {
					t.Fatalf("owner 2 kept owner 1's empty ledger %d", dropped)
				}
			}
			if c.ledgerExists(t, dropped) {
				t.Fatalf("ledger %d's metadata survived its deletion", dropped)
			}

			if _, err := addSync(t, first, []byte("from the old owner")); !errors.Is(err, ErrFenced) {
				t.Fatalf("owner 1's append after its ledger was recovered and deleted: %v, want ErrFenced", err)
			}
			if !first.Fenced() {
				t.Fatal("owner 1 is not fenced after a refused append")
			}

			// Below the managed ledger: every bookie refuses the deleted ledger's adds.
			payload := []byte("late add")
			crc := crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli))
			for _, id := range c.BookieIDs() {
				sctx, cancel := context.WithCancel(ctx)
				defer cancel()
				stream, err := c.RawClient(id).AddEntries(sctx)
				if err != nil {
					t.Fatal(err)
				}
				for i, recovery := range []bool{false, true} {
					err := stream.Send(&bookiev1.AddRequest{LedgerId: uint64(dropped), EntryId: int64(i), Lac: -1,
						Payload: payload, Crc32C: crc, Recovery: recovery})
					if err != nil {
						t.Fatal(err)
					}
					r, err := stream.Recv()
					if err != nil {
						t.Fatal(err)
					}
					if r.GetError().GetReason() != bookiev1.ReasonLedgerFenced {
						t.Fatalf("bookie %s: add (recovery %v) to deleted ledger %d answered %v, want %s",
							id, recovery, dropped, r.GetError(), bookiev1.ReasonLedgerFenced)
					}
				}
				if err := stream.CloseSend(); err != nil {
					t.Fatal(err)
				}
			}

			// Owner 2 is unaffected.
			if _, err := addSync(t, second, []byte("from the new owner")); err != nil {
				t.Fatalf("owner 2's append: %v", err)
			}
		})
	}
}
