package managedledger

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/internal/testenv"
)

// TestAddOrderAndRead: adds from several goroutines complete in call order at strictly
// increasing positions, LastConfirmed is the last of them, and ReadEntries returns them
// byte-equal — from the entry cache, and from the bookies when the cache holds nothing.
func TestAddOrderAndRead(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cacheBytes int64
		bookies    int
		e, qw, qa  int
	}{
		{name: "cache", bookies: 1},
		{name: "bookies", cacheBytes: 1, bookies: 1},
		{name: "bookies-E3Qw2Qa2", cacheBytes: 1, bookies: 3, e: 3, qw: 2, qa: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := testenv.Rand(t)
			c := newCluster(t, tc.bookies)
			ml := open(t, c.factory(Config{CacheBytes: tc.cacheBytes, EnsembleSize: tc.e, WriteQuorum: tc.qw, AckQuorum: tc.qa}), "persistent://t/ns/order")
			if _, _, err := ml.OpenCursor(testCtx(t), "hold", Earliest); err != nil {
				t.Fatal(err)
			}
			if lc := ml.LastConfirmed(); lc.Entry != -1 {
				t.Fatalf("empty topic: LastConfirmed %v", lc)
			}
			if got := readAll(t, ml, cursor.Earliest(), 10); len(got) != 0 {
				t.Fatalf("empty topic: read %d entries", len(got))
			}
			a := newAppender(t, ml)
			a.run(payloads(rng, "order", 400, 200), 4, 16)
			data, pos := a.acked(true)
			if lc := ml.LastConfirmed(); lc != pos[len(pos)-1] {
				t.Fatalf("LastConfirmed %v, last add at %v", lc, pos[len(pos)-1])
			}
			for _, max := range []int{1, 7, 1000} {
				checkEntries(t, readAll(t, ml, cursor.Earliest(), max), data, pos)
			}
			// From the middle, and from a position past the end: nothing yet.
			checkEntries(t, readAll(t, ml, pos[123], 50), data[123:], pos[123:])
			if got := readAll(t, ml, ml.Next(ml.LastConfirmed()), 10); len(got) != 0 {
				t.Fatalf("read %d entries after LastConfirmed", len(got))
			}
			if tc.cacheBytes == 1 {
				ml.mu.Lock()
				cached := ml.cache.len()
				ml.mu.Unlock()
				if cached != 0 {
					t.Fatalf("a 1-byte cache holds %d entries", cached)
				}
			}
		})
	}
}

// TestRollover: with small ledgers, adds roll over to many ledgers and still complete
// in call order; reads and Next cross ledger boundaries; once the ledgers are closed,
// Info lists each with its exact entry count, as does its ledger metadata.
func TestRollover(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		n    int
	}{
		{name: "entries=10", cfg: Config{MaxEntriesPerLedger: 10}, n: 150},
		{name: "entries=1", cfg: Config{MaxEntriesPerLedger: 1}, n: 60},
		{name: "size=2KiB", cfg: Config{MaxSizePerLedger: 2 << 10}, n: 150},
		{name: "entries=10/no-cache", cfg: Config{MaxEntriesPerLedger: 10, CacheBytes: 1}, n: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := testenv.Rand(t)
			c := newCluster(t, 1)
			cl := c.client()
			ml := open(t, NewFactory(c.store, cl, tc.cfg), "persistent://t/ns/roll")
			if _, _, err := ml.OpenCursor(testCtx(t), "hold", Earliest); err != nil {
				t.Fatal(err)
			}
			a := newAppender(t, ml)
			a.run(payloads(rng, "roll", tc.n, 100), 3, 2)
			data, pos := a.acked(true)
			counts := ledgerCounts(pos)
			if len(counts) < 3 {
				t.Fatalf("%d adds went to %d ledgers", tc.n, len(counts))
			}
			checkEntries(t, readAll(t, ml, cursor.Earliest(), 1000), data, pos)
			checkEntries(t, readAll(t, ml, cursor.Earliest(), 3), data, pos)
			for i := 0; i+1 < len(pos); i++ {
				if next := ml.Next(pos[i]); next != pos[i+1] && pos[i].Ledger == pos[i+1].Ledger {
					t.Fatalf("Next(%v) = %v, want %v", pos[i], next, pos[i+1])
				}
			}

			waitTasks(ml) // the rolled-over ledgers are closed in the background
			in := ml.Info()
			ctx := testCtx(t)
			var total int64
			for i, li := range in.Ledgers {
				total += li.Entries
				if li.Entries != counts[li.ID] {
					t.Errorf("ledger %d: Info says %d entries, %d were added", li.ID, li.Entries, counts[li.ID])
				}
				if i == len(in.Ledgers)-1 {
					if li.Closed {
						t.Errorf("current ledger %d is marked closed", li.ID)
					}
					continue
				}
				if !li.Closed {
					t.Errorf("rolled-over ledger %d is not marked closed", li.ID)
				}
				r, err := cl.OpenReader(ctx, li.ID)
				if err != nil {
					t.Fatal(err)
				}
				if md := r.Metadata(); md.LastEntry+1 != li.Entries {
					t.Errorf("ledger %d: metadata last entry %d, Info %d entries", li.ID, md.LastEntry, li.Entries)
				}
			}
			if total != int64(tc.n) {
				t.Fatalf("Info counts %d entries, %d were added", total, tc.n)
			}
			// Every ledger that holds entries is listed.
			for id := range counts {
				found := false
				for _, li := range in.Ledgers {
					found = found || li.ID == id
				}
				if !found {
					t.Errorf("ledger %d holds entries but is not in Info", id)
				}
			}
		})
	}
}

// TestReopen: a new owner (new Factory, new ledger client) finds every entry, the same
// LastConfirmed, every ledger closed, and appends to a new ledger.
func TestReopen(t *testing.T) {
	rng := testenv.Rand(t)
	c := newCluster(t, 1)
	cfg := Config{MaxEntriesPerLedger: 10, CacheBytes: 1}
	ml := open(t, c.factory(cfg), "persistent://t/ns/reopen")
	if _, _, err := ml.OpenCursor(testCtx(t), "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, ml)
	a.run(payloads(rng, "reopen", 55, 50), 2, 4)
	data, pos := a.acked(true)
	lc := ml.LastConfirmed()
	before := ml.Info()
	if err := ml.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := addSync(t, ml, []byte("late")); err != ErrClosed {
		t.Fatalf("add after Close: %v, want ErrClosed", err)
	}

	ml2 := open(t, c.factory(cfg), "persistent://t/ns/reopen")
	if got := ml2.LastConfirmed(); got != lc {
		t.Fatalf("reopened LastConfirmed %v, want %v", got, lc)
	}
	checkEntries(t, readAll(t, ml2, cursor.Earliest(), 8), data, pos)
	in := ml2.Info()
	for _, li := range in.Ledgers[:len(in.Ledgers)-1] {
		if !li.Closed {
			t.Errorf("ledger %d not closed after reopen", li.ID)
		}
	}
	last := before.Ledgers[len(before.Ledgers)-1]
	cur := in.Ledgers[len(in.Ledgers)-1]
	if cur.ID <= last.ID {
		t.Fatalf("reopen kept writing to ledger %d (last before: %d)", cur.ID, last.ID)
	}
	p, err := addSync(t, ml2, []byte("after reopen"))
	if err != nil {
		t.Fatal(err)
	}
	if p != (Position{Ledger: cur.ID, Entry: 0}) {
		t.Fatalf("first add after reopen at %v, want %d:0", p, cur.ID)
	}
	checkEntries(t, readAll(t, ml2, cursor.Earliest(), 100),
		append(data, []byte("after reopen")), append(pos, p))
}

// TestTailingReader: a reader that follows the log the way a dispatcher does —
// ReadEntries, Next, and NewEntries when it caught up — while adds are pipelined
// across rollovers sees every acknowledged entry exactly once, in order, never one
// whose add has not completed, and never an error (reading the tail of the current
// ledger from the bookies included, before the bookies know its LAC).
func TestTailingReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		n    int
	}{
		{name: "entries=10", cfg: Config{MaxEntriesPerLedger: 10}, n: 1500},
		{name: "entries=1", cfg: Config{MaxEntriesPerLedger: 1}, n: 400},
		{name: "entries=10/no-cache", cfg: Config{MaxEntriesPerLedger: 10, CacheBytes: 1}, n: 600},
		{name: "one-ledger/no-cache", cfg: Config{CacheBytes: 1}, n: 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := testenv.Rand(t)
			c := newCluster(t, 1)
			ctx := testCtx(t)
			ml := open(t, c.factory(tc.cfg), "persistent://t/ns/tail")
			if _, _, err := ml.OpenCursor(ctx, "hold", Earliest); err != nil {
				t.Fatal(err)
			}
			var got []Entry
			readErr := make(chan error, 1)
			go func() {
				p := cursor.Earliest()
				for len(got) < tc.n {
					wake := ml.NewEntries()
					lc := ml.LastConfirmed()
					ents, err := ml.ReadEntries(ctx, p, 1+rng2(len(got)))
					if err != nil {
						readErr <- fmt.Errorf("read from %v: %w", p, err)
						return
					}
					for _, e := range ents {
						if lc.Less(e.Pos) && ml.LastConfirmed().Less(e.Pos) {
							readErr <- fmt.Errorf("read %v beyond LastConfirmed %v", e.Pos, ml.LastConfirmed())
							return
						}
					}
					if len(ents) == 0 {
						select {
						case <-wake:
						case <-ctx.Done():
							readErr <- fmt.Errorf("stuck at %v after %d entries", p, len(got))
							return
						}
						continue
					}
					got = append(got, ents...)
					p = ml.Next(ents[len(ents)-1].Pos)
				}
				readErr <- nil
			}()
			a := newAppender(t, ml)
			a.run(payloads(rng, "tail", tc.n, 64), 4, 32)
			if err := <-readErr; err != nil {
				t.Fatal(err)
			}
			data, pos := a.acked(true)
			checkEntries(t, got, data, pos)
			waitTasks(ml)
			var total int64
			counts := ledgerCounts(pos)
			for _, li := range ml.Info().Ledgers {
				total += li.Entries
				if li.Entries != counts[li.ID] {
					t.Errorf("ledger %d: Info says %d entries, %d were added", li.ID, li.Entries, counts[li.ID])
				}
			}
			if total != int64(tc.n) {
				t.Fatalf("Info counts %d entries, %d were added", total, tc.n)
			}
		})
	}
}

// rng2 varies the read size deterministically (the reader has no rng of its own).
func rng2(i int) int { return (i * 7) % 13 }

// TestCloseDuringRollover: Close while adds wait for the next ledger still delivers
// every callback (success or ErrClosed) before it returns, leaves no ledger open, and
// the next owner reads exactly the acknowledged entries.
func TestCloseDuringRollover(t *testing.T) {
	rng := testenv.Rand(t)
	c := newCluster(t, 1)
	ctx := testCtx(t)
	cfg := Config{MaxEntriesPerLedger: 5}
	ml := open(t, c.factory(cfg), "persistent://t/ns/closeroll")
	if _, _, err := ml.OpenCursor(ctx, "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, ml)
	for i := 0; i < 5; i++ { // fill the first ledger
		if _, err := addSync(t, ml, fmt.Appendf(nil, "fill-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range payloads(rng, "closing", 200, 16) {
		a.add(d, nil) // the first of these starts a rollover; the rest queue or follow
	}
	if err := ml.Close(ctx); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	delivered := len(a.results)
	a.mu.Unlock()
	if delivered != 200 {
		t.Fatalf("Close returned with %d of 200 callbacks delivered", delivered)
	}
	a.wait()
	data, pos := a.acked(false)
	for s, r := range a.results {
		if r.err != nil && !errors.Is(r.err, ErrClosed) {
			t.Errorf("add #%d: %v", s, r.err)
		}
	}
	cl := c.client()
	for _, li := range recordOf(t, c, ml).Ledgers {
		r, err := cl.OpenReader(ctx, li.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !li.Closed || r.Metadata().State != ledger.StateClosed {
			t.Errorf("ledger %d left open by Close (record closed: %v, state %s)", li.ID, li.Closed, r.Metadata().State)
		}
	}
	ml2 := open(t, NewFactory(c.store, cl, cfg), "persistent://t/ns/closeroll")
	got := readAll(t, ml2, cursor.Earliest(), 100)
	if len(got) != 5+len(data) {
		t.Fatalf("reopened: %d entries, want %d", len(got), 5+len(data))
	}
	checkEntries(t, got[5:], data, pos)
}

// testClock is an injected Config.Now that moves only when the test says so.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestRolloverByAge: the first add after the current ledger passed MaxLedgerAge (on the
// injected clock) goes to a new ledger, its age counted from its creation; the record's
// creation times are the clock's.
func TestRolloverByAge(t *testing.T) {
	clk := newTestClock()
	c := newCluster(t, 1)
	ml := open(t, c.factory(Config{MaxLedgerAge: time.Hour, Now: clk.Now}), "persistent://t/ns/age")
	if _, _, err := ml.OpenCursor(testCtx(t), "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	first := ml.Info().Ledgers[0]
	if first.CreatedMillis != clk.Now().UnixMilli() {
		t.Fatalf("first ledger created at %d, clock says %d", first.CreatedMillis, clk.Now().UnixMilli())
	}
	p1, err := addSync(t, ml, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(59 * time.Minute)
	p2, err := addSync(t, ml, []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if p1.Ledger != first.ID || p2.Ledger != first.ID {
		t.Fatalf("adds before the age limit went to %v, %v; want ledger %d", p1, p2, first.ID)
	}
	clk.advance(time.Minute) // the ledger is an hour old now
	p3, err := addSync(t, ml, []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	if p3.Ledger == first.ID {
		t.Fatalf("add after the age limit went to %v, still ledger %d", p3, first.ID)
	}
	waitTasks(ml)
	in := ml.Info()
	if len(in.Ledgers) != 2 || !in.Ledgers[0].Closed || in.Ledgers[0].Entries != 2 {
		t.Fatalf("ledgers after the age rollover: %+v", in.Ledgers)
	}
	if got, want := in.Ledgers[1].CreatedMillis, clk.Now().UnixMilli(); got != want {
		t.Fatalf("new ledger created at %d, clock says %d", got, want)
	}
	p4, err := addSync(t, ml, []byte("d"))
	if err != nil || p4.Ledger != p3.Ledger {
		t.Fatalf("add to the young ledger: %v, %v; want ledger %d", p4, err, p3.Ledger)
	}
}
