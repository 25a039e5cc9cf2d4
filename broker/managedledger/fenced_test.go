package managedledger

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// TestLedgerFencedByRecoverer: while adds run, a recoverer that is not a new owner —
// the auto-recovery worker, re-replicating a lost bookie's fragment — fences and closes
// the current ledger (OpenRecover), several times. The record is still this owner's, so
// the managed ledger is not Fenced: it rolls over and keeps accepting adds. Adds durable
// in the recovered ledger succeed at their positions; the others go to the next ledger
// (or, when the fence meets a rollover already under way, fail with ErrLedgerFenced and
// are in no ledger). Every acknowledged entry reads back exactly once, in order —
// through this owner, and through a later one.
func TestLedgerFencedByRecoverer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		bookies int
	}{
		{name: "one-bookie", bookies: 1},
		{name: "E3Qw2Qa2", cfg: Config{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2}, bookies: 3},
		// Rolling over every 25 entries: a fence can meet a rollover in progress.
		{name: "rolling", cfg: Config{MaxEntriesPerLedger: 25}, bookies: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.bookies)
			ctx := testCtx(t)
			const topic = "persistent://t/ns/fenced-by-recoverer"
			ml := open(t, c.factory(tc.cfg), topic)
			if _, _, err := ml.OpenCursor(ctx, "hold", Earliest); err != nil {
				t.Fatal(err)
			}
			recoverer := c.client() // the auto-recovery worker's ledger client

			app := newAppender(t, ml)
			var mu sync.Mutex
			acked, failed := 0, 0
			var otherErr error
			stop := make(chan struct{})
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				sem := make(chan struct{}, 8)
				for i := 0; ; i++ {
					select {
					case <-stop:
						app.wait()
						return
					case sem <- struct{}{}:
					}
					app.add([]byte(fmt.Sprintf("entry-%06d", i)), func(r result) {
						defer func() { <-sem }()
						mu.Lock()
						defer mu.Unlock()
						switch {
						case r.err == nil:
							acked++
						case errors.Is(r.err, ErrLedgerFenced):
							failed++
						case otherErr == nil:
							otherErr = r.err
						}
					})
				}
			}()
			ackedAtLeast := func(n int) {
				t.Helper()
				waitFor(t, fmt.Sprintf("%d adds acknowledged", n), func() bool {
					mu.Lock()
					defer mu.Unlock()
					return acked >= n || otherErr != nil
				})
			}

			ackedAtLeast(50)
			var fencedLedgers []*ledger.Metadata
			for round := 0; round < 3; round++ {
				info := ml.Info()
				cur := info.Ledgers[len(info.Ledgers)-1].ID
				md, err := recoverer.OpenRecover(ctx, cur)
				if err != nil {
					t.Fatalf("round %d: recover ledger %d: %v", round, cur, err)
				}
				fencedLedgers = append(fencedLedgers, md)
				mu.Lock()
				n := acked
				mu.Unlock()
				// It moves on: a later ledger, and more adds acknowledged.
				waitFor(t, "a ledger after the fenced one", func() bool {
					info := ml.Info()
					return info.Ledgers[len(info.Ledgers)-1].ID > cur
				})
				ackedAtLeast(n + 50)
			}
			close(stop)
			<-stopped
			mu.Lock()
			if otherErr != nil {
				t.Fatalf("an add failed with %v; only ErrLedgerFenced is allowed", otherErr)
			}
			t.Logf("acknowledged %d, failed with ErrLedgerFenced %d", acked, failed)
			mu.Unlock()
			if ml.Fenced() {
				t.Fatal("the managed ledger turned Fenced, but nobody took the topic over")
			}
			data, pos := app.acked(false)
			checkEntries(t, readAll(t, ml, cursor.Earliest(), 1000), data, pos)

			// An add while idle after a fence goes to a new ledger.
			info := ml.Info()
			cur := info.Ledgers[len(info.Ledgers)-1].ID
			if _, err := recoverer.OpenRecover(ctx, cur); err != nil {
				t.Fatal(err)
			}
			p, err := addSync(t, ml, []byte("after an idle fence"))
			if err != nil {
				t.Fatalf("add after the idle ledger was fenced: %v", err)
			}
			if p.Ledger <= cur {
				t.Fatalf("add after the fence of ledger %d went to %v", cur, p)
			}
			data, pos = append(data, []byte("after an idle fence")), append(pos, p)

			// The fenced ledgers are recorded closed with their recovered counts.
			waitTasks(ml)
			byID := map[int64]LedgerInfo{}
			for _, li := range ml.Info().Ledgers {
				byID[li.ID] = li
			}
			for _, md := range fencedLedgers {
				if li, ok := byID[md.ID]; ok && (!li.Closed || li.Entries != md.LastEntry+1) {
					t.Fatalf("fenced ledger %d recorded as %+v, recovered with last entry %d", md.ID, li, md.LastEntry)
				}
			}

			// A later owner reads exactly the same log.
			if err := ml.Close(ctx); err != nil {
				t.Logf("close: %v", err)
			}
			second := open(t, c.factory(tc.cfg), topic)
			checkEntries(t, readAll(t, second, cursor.Earliest(), 1000), data, pos)
		})
	}
}

// waitFor polls cond every 10 ms until it holds; the test fails after the failsafe.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(failsafe)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, failsafe)
		}
		<-tick.C
	}
}
