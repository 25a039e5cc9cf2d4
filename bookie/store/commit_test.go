package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestGroupCommit holds the fsync of one add while 63 more are queued: none of them is
// answered before that fsync, and they share a few batches — at most the ones the
// builder could apply behind the held fsync (maxInFlightBatches-1) plus one more after it.
func TestGroupCommit(t *testing.T) {
	const n = 64
	gate := &syncGate{}
	s, err := Open("db", Options{FS: errorfsWrap(vfs.NewMem(), gate)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, walBefore := s.Stats(), gate.count()

	reached, release := gate.arm()
	defer release() // runs before the deferred Close if the test fails while it holds the sync
	results := []addResult{addAsync(s, mkAdd(1, 0, -1, "entry 0"))}
	waitCh(t, reached, "the first batch's fsync")
	// AddAsync queues synchronously: when it returns, the op is pending.
	for e := int64(1); e < n; e++ {
		results = append(results, addAsync(s, mkAdd(uint64(1+e%4), e, -1, fmt.Sprint("entry ", e))))
	}
	for i, r := range results {
		if !r.pending() {
			t.Fatalf("add %d completed while the first batch was still syncing", i)
		}
	}
	release()
	for i, r := range results {
		if err := r.get(t); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	st := s.Stats()
	syncs, entries := st.Syncs-before.Syncs, st.Entries-before.Entries
	walSyncs := gate.count() - walBefore
	t.Logf("%d entries, %d synced batches, %d WAL fsyncs", entries, syncs, walSyncs)
	if entries != n || syncs < 2 || syncs > maxInFlightBatches+1 {
		t.Fatalf("%d entries in %d synced batches, want %d in 2..%d", entries, syncs, n, maxInFlightBatches+1)
	}
	if walSyncs > int(syncs) {
		t.Fatalf("%d WAL fsyncs for %d synced batches", walSyncs, syncs)
	}
}

// TestBatchOrder checks that ops in one batch are decided in queue order.
func TestBatchOrder(t *testing.T) {
	gate := &syncGate{}
	s, err := Open("db", Options{FS: errorfsWrap(vfs.NewMem(), gate)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustAdd(t, s, mkAdd(2, 0, -1, "old"))

	reached, release := gate.arm()
	defer release() // runs before the deferred Close if the test fails while it holds the sync
	blocker := addAsync(s, mkAdd(9, 0, -1, "blocker"))
	waitCh(t, reached, "the blocker's fsync")

	type step struct {
		name string
		res  addResult
		want error
	}
	recovery := func(a Add) Add { a.Recovery = true; return a }
	fence := make(chan error, 1)
	del := make(chan error, 1)
	steps := []step{
		{"add before fence", addAsync(s, mkAdd(1, 0, -1, "a")), nil},
		{"same entry again in batch", addAsync(s, mkAdd(1, 0, -1, "a")), nil},
		{"different bytes in batch", addAsync(s, mkAdd(1, 0, -1, "A")), ErrDuplicateEntry},
	}
	s.enqueue(&op{kind: opFence, ledger: 1, done: func(_ LedgerState, err error) { fence <- err }})
	steps = append(steps,
		step{"add after fence", addAsync(s, mkAdd(1, 1, 0, "b")), ErrFenced},
		step{"recovery add after fence", addAsync(s, recovery(mkAdd(1, 1, 0, "b"))), nil},
	)
	s.enqueue(&op{kind: opDelete, ledger: 2, done: func(_ LedgerState, err error) { del <- err }})
	steps = append(steps,
		step{"re-add after delete", addAsync(s, mkAdd(2, 0, -1, "new")), ErrFenced},
		step{"recovery re-add after delete", addAsync(s, recovery(mkAdd(2, 0, -1, "new"))), ErrFenced},
	)
	release()

	if err := blocker.get(t); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		if err := st.res.get(t); !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", st.name, err, st.want)
		}
	}
	if err := <-fence; err != nil {
		t.Fatal(err)
	}
	if err := <-del; err != nil {
		t.Fatal(err)
	}
	if st, _ := s.State(1); st != (LedgerState{LAC: 0, LastEntry: 1, Fenced: true}) {
		t.Fatalf("ledger 1 %+v", st)
	}
	if e, err := s.Read(2, 0); !errors.Is(err, ErrNoSuchLedger) {
		t.Fatalf("ledger 2 entry 0 after delete+add in one batch: %q %v", e.Payload, err)
	}
}
