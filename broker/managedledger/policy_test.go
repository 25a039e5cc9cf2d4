package managedledger

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestRetention: with retention on, ledgers every cursor consumed are kept; once a
// limit releases them, the oldest consumed ledgers — as many as the limit says, never
// the current one — are deleted from the bookies.
func TestRetention(t *testing.T) {
	// 5 closed ledgers of 4 entries of 100 bytes (400 bytes each) and a current ledger
	// holding 1 entry: 2,100 bytes in all.
	const perLedger, n, size = 4, 21, 100
	for _, tc := range []struct {
		name      string
		ret       Retention
		firstKept int
	}{
		{name: "infinite", ret: Retention{Time: -1, Size: -1}, firstKept: 0},
		{name: "time not reached", ret: Retention{Time: time.Hour, Size: -1}, firstKept: 0},
		{name: "size not reached", ret: Retention{Time: -1, Size: 1 << 20}, firstKept: 0},
		// 2100-400-400-400 = 900 ≤ 1000 after three ledgers.
		{name: "size exceeded", ret: Retention{Time: -1, Size: 1000}, firstKept: 3},
		{name: "time exceeded", ret: Retention{Time: time.Nanosecond, Size: -1}, firstKept: 5},
		{name: "either limit releases", ret: Retention{Time: time.Hour, Size: 1000}, firstKept: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1)
			ctx := testCtx(t)
			ml := open(t, c.factory(Config{MaxEntriesPerLedger: perLedger, Retention: Retention{Time: -1, Size: -1}}), "persistent://t/ns/ret")
			cur, _, err := ml.OpenCursor(ctx, "a", Earliest)
			if err != nil {
				t.Fatal(err)
			}
			var pos []Position
			for i := range n {
				p, err := addSync(t, ml, bytes.Repeat([]byte{byte(i)}, size))
				if err != nil {
					t.Fatal(err)
				}
				pos = append(pos, p)
			}
			if err := cur.AckCumulative(pos[n-1]); err != nil {
				t.Fatal(err)
			}
			waitTasks(ml)
			ids := ledgerIDs(ml)
			if len(ids) != 6 {
				t.Fatalf("infinite retention: %d ledgers listed after everything was consumed, want 6", len(ids))
			}
			ml.SetRetention(tc.ret)
			waitTasks(ml)
			if got := ledgerIDs(ml); fmt.Sprint(got) != fmt.Sprint(ids[tc.firstKept:]) {
				t.Fatalf("ledgers %v, want %v", got, ids[tc.firstKept:])
			}
			for i, id := range ids {
				if gone := i < tc.firstKept; c.ledgerExists(t, id) == gone {
					t.Errorf("ledger %d: metadata exists %v, want %v", id, !gone, !gone)
				}
			}
		})
	}
}

// TestRetentionDefaultIsTrim: the zero Retention is today's trim (consumed ledgers go).
func TestRetentionDefaultIsTrim(t *testing.T) {
	c := newCluster(t, 1)
	ml := open(t, c.factory(Config{MaxEntriesPerLedger: 2}), "persistent://t/ns/ret0")
	for i := range 5 {
		if _, err := addSync(t, ml, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitTasks(ml)
	if ids := ledgerIDs(ml); len(ids) != 1 {
		t.Fatalf("no cursor, no retention: ledgers %v, want only the current one", ids)
	}
}

// TestPersistence: SetPersistence applies to the ledgers created after it.
func TestPersistence(t *testing.T) {
	c := newCluster(t, 3)
	ctx := testCtx(t)
	ml := open(t, c.factory(Config{MaxEntriesPerLedger: 1}), "persistent://t/ns/persist")
	if _, _, err := ml.OpenCursor(ctx, "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	p0, err := addSync(t, ml, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	ml.SetPersistence(Persistence{EnsembleSize: 3, WriteQuorum: 3, AckQuorum: 2})
	p1, err := addSync(t, ml, []byte("b")) // rolls over: a new ledger
	if err != nil {
		t.Fatal(err)
	}
	if p1.Ledger == p0.Ledger {
		t.Fatal("no rollover")
	}
	for _, tc := range []struct {
		id        int64
		e, qw, qa int
	}{{p0.Ledger, 1, 1, 1}, {p1.Ledger, 3, 3, 2}} {
		r, err := ml.lc.OpenReader(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		md := r.Metadata()
		if md.EnsembleSize != tc.e || md.WriteQuorum != tc.qw || md.AckQuorum != tc.qa {
			t.Errorf("ledger %d: %d/%d/%d, want %d/%d/%d", tc.id, md.EnsembleSize, md.WriteQuorum, md.AckQuorum, tc.e, tc.qw, tc.qa)
		}
	}
}

func ledgerIDs(ml *ManagedLedger) []int64 {
	var out []int64
	for _, li := range ml.Info().Ledgers {
		out = append(out, li.ID)
	}
	return out
}
