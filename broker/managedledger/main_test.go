package managedledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failsafe bounds every test; nothing waits on time otherwise.
const failsafe = 90 * time.Second

// testCtx is the test's context, bounded by failsafe.
func testCtx(t testing.TB) context.Context { return testenv.Context(t, failsafe) }

// cluster is a real embedded etcd and real in-process bookies b1..bn on loopback ports
// (bookie/bookietest), with the names these tests use.
type cluster struct {
	*bookietest.Cluster
	t     testing.TB
	store *metadata.Store
}

func newCluster(t testing.TB, n int) *cluster {
	t.Helper()
	bc := bookietest.Start(t, "/mltest", n)
	return &cluster{Cluster: bc, t: t, store: bc.Store}
}

// startBookie starts (or restarts, on its old data dir and a new port) bookie id.
func (c *cluster) startBookie(id string) { c.StartBookie(id) }

// stopBookies closes every bookie, concurrently.
func (c *cluster) stopBookies() { c.StopBookies() }

// client returns a new ledger client (a broker's), closed at the end of the test.
func (c *cluster) client() *ledger.Client { return c.NewClient() }

// factory returns a Factory over a new ledger client: what a (new) broker has.
func (c *cluster) factory(cfg Config) *Factory {
	return NewFactory(c.store, c.client(), cfg)
}

// open opens the topic and closes it at the end of the test (before its client).
func open(t testing.TB, f *Factory, name string) *ManagedLedger {
	t.Helper()
	ml, err := f.Open(testCtx(t), name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { ml.Close(context.Background()) })
	return ml
}

// ledgerExists reports whether a ledger's metadata is still in etcd.
func (c *cluster) ledgerExists(t testing.TB, id int64) bool {
	t.Helper()
	_, err := c.store.Get(testCtx(t), c.store.Keys.Ledger(id))
	if errors.Is(err, metadata.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// waitTasks waits until the background tasks (rollover, closing rolled-over ledgers,
// trimming) are done. Each task adds its follow-ups before it ends, so with no new
// adds or acks this is quiescence.
func waitTasks(ml *ManagedLedger) { ml.tasks.Wait() }

// payloads returns n entries, unique per (tag, i), of sizes drawn from rng.
func payloads(rng *rand.Rand, tag string, n, maxExtra int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		p := []byte(fmt.Sprintf("%s-%06d-", tag, i))
		for range rng.IntN(maxExtra + 1) {
			p = append(p, byte('a'+rng.IntN(26)))
		}
		out[i] = p
	}
	return out
}

// result is one add's outcome.
type result struct {
	pos Position
	err error
}

// appender issues adds from several goroutines and checks that callbacks run in the
// order of the AsyncAdd calls: a call and its sequence number are taken under one lock,
// and every callback must carry the next sequence number.
type appender struct {
	t  testing.TB
	ml *ManagedLedger

	callMu sync.Mutex
	seq    int

	mu      sync.Mutex
	next    int
	results map[int]result
	sent    map[int][]byte
	lastPos Position
	wg      sync.WaitGroup
}

func newAppender(t testing.TB, ml *ManagedLedger) *appender {
	return &appender{t: t, ml: ml, results: map[int]result{}, sent: map[int][]byte{}, lastPos: cursor.Earliest()}
}

// add issues one AsyncAdd; done (may be nil) runs after the checks.
func (a *appender) add(data []byte, done func(result)) {
	a.wg.Add(1)
	a.callMu.Lock()
	seq := a.seq
	a.seq++
	a.mu.Lock()
	a.sent[seq] = data
	a.mu.Unlock()
	a.ml.AsyncAdd(data, func(p Position, err error) {
		a.mu.Lock()
		if seq != a.next {
			a.t.Errorf("callback of add #%d ran when #%d was expected", seq, a.next)
		}
		a.next = seq + 1
		if err == nil {
			if !a.lastPos.Less(p) {
				a.t.Errorf("add #%d at %v, not after %v", seq, p, a.lastPos)
			}
			a.lastPos = p
		}
		r := result{p, err}
		a.results[seq] = r
		a.mu.Unlock()
		if done != nil {
			done(r)
		}
		a.wg.Done()
	})
	a.callMu.Unlock()
}

// run adds data from `workers` goroutines, each keeping up to `window` adds in flight,
// and waits for every callback. It returns the outcomes by sequence number.
func (a *appender) run(data [][]byte, workers, window int) {
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			sem := make(chan struct{}, window)
			for {
				next.Lock()
				if i == len(data) {
					next.Unlock()
					break
				}
				d := data[i]
				i++
				next.Unlock()
				sem <- struct{}{}
				a.add(d, func(result) { <-sem })
			}
			for range window {
				sem <- struct{}{}
			}
		})
	}
	wg.Wait()
	a.wait()
}

func (a *appender) wait() { a.wg.Wait() }

// acked returns, in sequence order, the payloads and positions of successful adds; it
// fails the test on any error when strict.
func (a *appender) acked(strict bool) ([][]byte, []Position) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var data [][]byte
	var pos []Position
	for s := 0; s < a.seq; s++ {
		r, ok := a.results[s]
		if !ok {
			a.t.Fatalf("add #%d has no outcome", s)
		}
		if r.err != nil {
			if strict {
				a.t.Fatalf("add #%d: %v", s, r.err)
			}
			continue
		}
		data = append(data, a.sent[s])
		pos = append(pos, r.pos)
	}
	return data, pos
}

// addSync appends one entry and waits for it.
func addSync(t testing.TB, ml *ManagedLedger, data []byte) (Position, error) {
	t.Helper()
	ch := make(chan result, 1)
	ml.AsyncAdd(data, func(p Position, err error) { ch <- result{p, err} })
	select {
	case r := <-ch:
		return r.pos, r.err
	case <-testCtx(t).Done():
		t.Fatal("add never completed")
		return Position{}, nil
	}
}

// readAll walks the log from `from` with ReadEntries and Next, max entries a call,
// until nothing more is readable.
func readAll(t testing.TB, ml *ManagedLedger, from Position, max int) []Entry {
	t.Helper()
	ctx := testCtx(t)
	var out []Entry
	p := from
	for {
		ents, err := ml.ReadEntries(ctx, p, max)
		if err != nil {
			t.Fatalf("read from %v: %v", p, err)
		}
		if len(ents) == 0 {
			return out
		}
		for i, e := range ents {
			if i > 0 && !ents[i-1].Pos.Less(e.Pos) {
				t.Fatalf("read returned %v after %v", e.Pos, ents[i-1].Pos)
			}
		}
		if len(out) > 0 && !out[len(out)-1].Pos.Less(ents[0].Pos) {
			t.Fatalf("read from %v returned %v after %v", p, ents[0].Pos, out[len(out)-1].Pos)
		}
		out = append(out, ents...)
		p = ml.Next(ents[len(ents)-1].Pos)
	}
}

// checkEntries fails unless got holds exactly want's payloads at want's positions.
func checkEntries(t testing.TB, got []Entry, data [][]byte, pos []Position) {
	t.Helper()
	if len(got) != len(data) {
		t.Fatalf("read %d entries, want %d", len(got), len(data))
	}
	for i := range got {
		if got[i].Pos != pos[i] || !bytes.Equal(got[i].Data, data[i]) {
			t.Fatalf("entry %d: read %v %q, want %v %q", i, got[i].Pos, got[i].Data, pos[i], data[i])
		}
	}
}

// ledgerCounts counts entries per ledger id in pos.
func ledgerCounts(pos []Position) map[int64]int64 {
	m := map[int64]int64{}
	for _, p := range pos {
		m[p.Ledger]++
	}
	return m
}

// firstUnacked is the first entry c has not acknowledged up to `to`, and whether any.
func firstUnacked(c *Cursor, to Position) (Position, bool) {
	for p := range c.Unacked(cursor.Earliest(), to) {
		return p, true
	}
	return Position{}, false
}
