package managedledger

import (
	"errors"
	"fmt"
	"testing"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// TestTrim: ledgers every durable cursor has consumed are removed from the record and
// then deleted from the bookies (their metadata disappears from etcd; they cannot be
// read); what a slower cursor still needs stays; with no durable cursor every closed
// ledger goes; the current ledger never does.
func TestTrim(t *testing.T) {
	// 5 ledgers of 4 entries, written one add at a time (so exactly 4 each) — the
	// 21st add rolled over to a 6th, current ledger holding 1 entry.
	const perLedger, n = 4, 21
	for _, tc := range []struct {
		name string
		// cursors: name → index of the entry it acks cumulatively (-1: none).
		cursors map[string]int
		// survivors: the first ledger (0-based) kept.
		firstKept int
	}{
		{name: "one cursor, two ledgers consumed", cursors: map[string]int{"a": 2*perLedger - 1}, firstKept: 2},
		{name: "one cursor, partway into a ledger", cursors: map[string]int{"a": 2*perLedger + 1}, firstKept: 2},
		{name: "one cursor, nothing consumed", cursors: map[string]int{"a": -1}, firstKept: 0},
		{name: "two cursors, slower one decides", cursors: map[string]int{"fast": n - 1, "slow": perLedger - 1}, firstKept: 1},
		{name: "one cursor, everything consumed", cursors: map[string]int{"a": n - 1}, firstKept: 5},
		{name: "no cursor", cursors: nil, firstKept: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1)
			ctx := testCtx(t)
			ml := open(t, c.factory(Config{MaxEntriesPerLedger: perLedger}), "persistent://t/ns/trim")
			curs := map[string]*Cursor{}
			for name := range tc.cursors {
				cur, _, err := ml.OpenCursor(ctx, name, Earliest)
				if err != nil {
					t.Fatal(err)
				}
				curs[name] = cur
			}
			var pos []Position
			for i := range n {
				p, err := addSync(t, ml, fmt.Appendf(nil, "t%d", i))
				if err != nil {
					t.Fatal(err)
				}
				pos = append(pos, p)
			}
			waitTasks(ml) // rolled-over ledgers closed (and, with no cursor, trimmed)
			var ids []int64
			for i := 0; i < n; i += perLedger {
				ids = append(ids, pos[i].Ledger)
			}
			if len(ids) != 6 || ledgerCounts(pos)[ids[0]] != perLedger {
				t.Fatalf("ledgers %v, counts %v", ids, ledgerCounts(pos))
			}
			for name, upTo := range tc.cursors {
				if upTo >= 0 {
					if err := curs[name].AckCumulative(pos[upTo]); err != nil {
						t.Fatal(err)
					}
				}
			}
			waitTasks(ml)

			in := ml.Info()
			var listed []int64
			for _, li := range in.Ledgers {
				listed = append(listed, li.ID)
			}
			if fmt.Sprint(listed) != fmt.Sprint(ids[tc.firstKept:]) {
				t.Fatalf("ledgers listed %v, want %v (all: %v)", listed, ids[tc.firstKept:], ids)
			}
			rec := recordOf(t, c, ml)
			if len(rec.Ledgers) != len(listed) {
				t.Fatalf("etcd record lists %d ledgers, Info %d", len(rec.Ledgers), len(listed))
			}
			for i, id := range ids {
				gone := i < tc.firstKept
				if c.ledgerExists(t, id) == gone {
					t.Errorf("ledger %d: metadata exists %v, want %v", id, !gone, !gone)
				}
				if gone {
					if _, err := ml.lc.OpenReader(ctx, id); !errors.Is(err, ledger.ErrNoSuchLedger) {
						t.Errorf("opening deleted ledger %d: %v", id, err)
					}
				}
			}
			// Reads start at the first entry kept.
			got := readAll(t, ml, cursor.Earliest(), 100)
			first := tc.firstKept * perLedger
			if len(got) != n-first || got[0].Pos != pos[first] {
				t.Fatalf("read %d entries from %v, want %d from %v", len(got), got[0].Pos, n-first, pos[first])
			}
			// The current ledger is still written to.
			if p, err := addSync(t, ml, []byte("more")); err != nil || p.Ledger != ids[5] {
				t.Fatalf("add after trim: %v %v", p, err)
			}
		})
	}
}

func recordOf(t testing.TB, c *cluster, ml *ManagedLedger) *Info {
	t.Helper()
	v, err := c.store.Get(testCtx(t), ml.key)
	if err != nil {
		t.Fatal(err)
	}
	in, err := unmarshalInfo(v.Data)
	if err != nil {
		t.Fatal(err)
	}
	return in
}
