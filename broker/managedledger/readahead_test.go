package managedledger

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/internal/testenv"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"google.golang.org/grpc"
)

// bookieReads records the read calls a ledger client makes to the bookies, through a
// client interceptor (the ledger client's seam).
type bookieReads struct {
	mu    sync.Mutex
	calls []*bookiev1.ReadEntriesRequest
	// single counts ReadEntry calls.
	single int
}

func (r *bookieReads) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	r.mu.Lock()
	switch q := req.(type) {
	case *bookiev1.ReadEntriesRequest:
		r.calls = append(r.calls, q)
	case *bookiev1.ReadEntryRequest:
		r.single++
	}
	r.mu.Unlock()
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (r *bookieReads) take() []*bookiev1.ReadEntriesRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// readFactory is a Factory over a ledger client whose bookie reads are recorded.
func (c *cluster) readFactory(t testing.TB, cfg Config) (*Factory, *bookieReads) {
	t.Helper()
	reads := &bookieReads{}
	lc, err := ledger.NewClient(ledger.ClientConfig{
		Store: c.store, AddTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithUnaryInterceptor(reads.intercept)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Close() })
	return NewFactory(c.store, lc, cfg), reads
}

// fixedPayloads returns n entries of exactly size bytes, unique per (tag, i).
func fixedPayloads(tag string, n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		p := fmt.Appendf(nil, "%s-%06d-", tag, i)
		out[i] = append(p, bytes.Repeat([]byte{byte('a' + i%26)}, size-len(p))...)
	}
	return out
}

// backlog opens a topic with a durable cursor at the start (so nothing is trimmed) and
// appends data; it returns the positions.
func backlog(t *testing.T, f *Factory, name string, data [][]byte) (*ManagedLedger, []Position) {
	t.Helper()
	ml := open(t, f, name)
	if _, _, err := ml.OpenCursor(testCtx(t), "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, ml)
	a.run(data, 1, 64)
	_, pos := a.acked(true)
	waitTasks(ml)
	return ml, pos
}

// streams returns a copy of the read-ahead streams' extents: ledger, start, held, and
// whether a fetch is in flight.
func streams(ml *ManagedLedger) []raStream {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	var out []raStream
	for _, s := range ml.ra.streams {
		out = append(out, raStream{ledger: s.ledger, start: s.start, ents: s.ents, bytes: s.bytes, fetch: s.fetch})
	}
	return out
}

// A sequential reader asking for a few entries at a time is served mostly from
// read-ahead: a handful of ReadEntries calls instead of one per read. With read-ahead
// off it is one call per read. The pool is empty once the topic is closed.
func TestReadAheadSequential(t *testing.T) {
	c := newCluster(t, 1)
	data := fixedPayloads("seq", 1000, 100)
	for _, tc := range []struct {
		name      string
		readAhead int
	}{{"on", 50}, {"off", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			f, reads := c.readFactory(t, Config{CacheBytes: 1, ReadAheadEntries: tc.readAhead})
			ml, pos := backlog(t, f, "persistent://t/ns/seq-"+tc.name, data)
			reads.take()
			got := readAll(t, ml, cursor.Earliest(), 5)
			checkEntries(t, got, data, pos)
			calls := reads.take()
			switch tc.name {
			case "on":
				// 200 reads of 5: the first from the bookies, then a fetch each time
				// the 50-entry window is half used: about 40.
				if len(calls) > 50 {
					t.Fatalf("%d ReadEntries calls for 200 sequential reads", len(calls))
				}
			case "off":
				if len(calls) < 200 {
					t.Fatalf("%d ReadEntries calls for 200 reads without read-ahead", len(calls))
				}
			}
			if reads.single != 0 {
				t.Fatalf("%d entries read one by one", reads.single)
			}
			if n := len(streams(ml)); n > 1 {
				t.Fatalf("%d streams for one reader", n)
			}
			ml.Close(testCtx(t))
			if u := f.readAhead.used.Load(); u != 0 {
				t.Fatalf("%d bytes still counted in the pool after Close", u)
			}
		})
	}
}

// Reads that jump — back, forward into the read-ahead, far ahead, single entries
// anywhere — all return the right entries; single-entry reads start no stream; and a
// reader that rewinds to the start and reads through again gets read-ahead again.
func TestReadAheadSeek(t *testing.T) {
	c := newCluster(t, 1)
	rng := testenv.Rand(t)
	data := fixedPayloads("seek", 600, 80)
	f, reads := c.readFactory(t, Config{CacheBytes: 1, ReadAheadEntries: 50})
	ml, pos := backlog(t, f, "persistent://t/ns/seek", data)
	ctx := testCtx(t)
	read := func(i, n int) {
		t.Helper()
		got, err := ml.ReadEntries(ctx, pos[i], n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || len(got) > n {
			t.Fatalf("read %d from %d: %d entries", n, i, len(got))
		}
		checkEntries(t, got, data[i:i+len(got)], pos[i:i+len(got)])
	}
	for i := 0; i < 40; i += 10 {
		read(i, 10)
	}
	read(3, 10)   // back
	read(45, 10)  // forward, into what was read ahead
	read(500, 10) // far ahead
	read(47, 10)  // back into the first stream's
	before := len(streams(ml))
	for range 50 {
		read(rng.IntN(len(data)), 1)
	}
	if n := len(streams(ml)); n > before {
		t.Fatalf("single-entry reads started streams: %d, then %d", before, n)
	}
	reads.take()
	for _, p := range []int{0, 0} { // rewind, twice
		checkEntries(t, readAll(t, ml, pos[p], 6), data[p:], pos[p:])
		if calls := reads.take(); len(calls) > 30 {
			t.Fatalf("read through after a rewind: %d ReadEntries calls", len(calls))
		}
	}
	if n := len(streams(ml)); n > maxStreams {
		t.Fatalf("%d streams", n)
	}
}

// Read-ahead stops at the end of a ledger — it never asks for an entry the ledger does
// not have — and a reader crossing ledgers gets read-ahead in each.
func TestReadAheadLedgerBoundary(t *testing.T) {
	c := newCluster(t, 1)
	data := fixedPayloads("edge", 200, 50)
	f, reads := c.readFactory(t, Config{CacheBytes: 1, ReadAheadEntries: 100, MaxEntriesPerLedger: 30})
	ml, pos := backlog(t, f, "persistent://t/ns/edge", data)
	reads.take()
	counts := ledgerCounts(pos)
	if len(counts) < 3 {
		t.Fatalf("only %d ledgers", len(counts))
	}
	got := readAll(t, ml, cursor.Earliest(), 7)
	checkEntries(t, got, data, pos)
	calls := reads.take()
	perLedger := map[int64]int{}
	for _, q := range calls {
		id := int64(q.LedgerId)
		if q.LastEntryId >= counts[id] {
			t.Fatalf("asked for %d..%d of ledger %d, which has %d entries", q.FirstEntryId, q.LastEntryId, id, counts[id])
		}
		perLedger[id]++
	}
	for id := range counts {
		if perLedger[id] > 3 { // the first read of the ledger, then one or two fetches
			t.Fatalf("%d calls for ledger %d of %d entries", perLedger[id], id, counts[id])
		}
	}
	for _, s := range streams(ml) {
		if s.end() >= counts[s.ledger] || (s.fetch != nil && s.fetch.last >= counts[s.ledger]) {
			t.Fatalf("stream of ledger %d reaches %d (fetch %v), past its %d entries", s.ledger, s.end(), s.fetch, counts[s.ledger])
		}
	}
}

// A ledger trimmed while a stream holds its entries: the stream goes, its bytes go back
// to the pool, and reads carry on in the next ledger.
func TestReadAheadTrimmedLedger(t *testing.T) {
	c := newCluster(t, 1)
	data := fixedPayloads("trim", 100, 60)
	f, _ := c.readFactory(t, Config{CacheBytes: 1, ReadAheadEntries: 20, MaxEntriesPerLedger: 40})
	ml, pos := backlog(t, f, "persistent://t/ns/trim-ra", data)
	ctx := testCtx(t)
	first := pos[0].Ledger
	got, err := ml.ReadEntries(ctx, pos[0], 5)
	if err != nil || len(got) != 5 {
		t.Fatalf("read: %d entries, %v", len(got), err)
	}
	// Wait for the stream's fetch: its entries are then held.
	ss := streams(ml)
	if len(ss) != 1 || ss[0].ledger != first {
		t.Fatalf("streams after the first read: %+v", ss)
	}
	if ss[0].fetch != nil {
		<-ss[0].fetch.done
	}
	if ss = streams(ml); len(ss[0].ents) == 0 || f.readAhead.used.Load() != ss[0].bytes {
		t.Fatalf("stream holds %d entries, %d bytes; pool counts %d", len(ss[0].ents), ss[0].bytes, f.readAhead.used.Load())
	}
	cur, _, err := ml.OpenCursor(ctx, "hold", Earliest)
	if err != nil {
		t.Fatal(err)
	}
	n := int(ledgerCounts(pos)[first])
	if n == len(pos) || n < 10 {
		t.Fatalf("first ledger holds %d of %d entries", n, len(pos))
	}
	if err := cur.AckCumulative(pos[n-1]); err != nil { // the whole first ledger
		t.Fatal(err)
	}
	waitTasks(ml)
	if c.ledgerExists(t, first) {
		t.Fatalf("ledger %d not trimmed", first)
	}
	if ss := streams(ml); len(ss) != 0 || f.readAhead.used.Load() != 0 {
		t.Fatalf("after the trim: streams %+v, pool %d", ss, f.readAhead.used.Load())
	}
	got = readAll(t, ml, pos[7], 5) // in the trimmed ledger: moves to the next
	checkEntries(t, got, data[n:], pos[n:])
}

// Many readers at once under a small pool: every read is right, the pool never holds
// more than its bound, a topic never has more than maxStreams streams, and streams
// nobody reads expire.
func TestReadAheadBounds(t *testing.T) {
	c := newCluster(t, 1)
	data := fixedPayloads("bound", 800, 100)
	const pool = 3000 // 30 entries: less than two full windows
	f, _ := c.readFactory(t, Config{CacheBytes: 1, ReadAheadEntries: 20, ReadAheadTotalBytes: pool})
	ml, pos := backlog(t, f, "persistent://t/ns/bound", data)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for r := range maxStreams + 4 {
		wg.Go(func() {
			p := pos[r*37]
			for {
				got, err := ml.ReadEntries(ctx, p, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, e := range got {
					i := e.Pos.Entry
					if e.Pos != pos[i] || !bytes.Equal(e.Data, data[i]) {
						t.Errorf("reader %d: entry %v is %q", r, e.Pos, e.Data)
						return
					}
				}
				if u := f.readAhead.used.Load(); u > pool {
					t.Errorf("pool holds %d bytes, bound %d", u, pool)
					return
				}
				if n := len(streams(ml)); n > maxStreams {
					t.Errorf("%d streams", n)
					return
				}
				p = ml.Next(got[len(got)-1].Pos)
			}
		})
	}
	wg.Wait()
	if len(streams(ml)) == 0 {
		t.Fatal("no stream left to expire")
	}
	ml.expireReadAhead(time.Now().Add(raIdle + time.Second))
	ml.ra.wg.Wait() // fetches in flight return their reservations
	if n, u := len(streams(ml)), f.readAhead.used.Load(); n != 0 || u != 0 {
		t.Fatalf("after expiry: %d streams, %d bytes in the pool", n, u)
	}
}

// Read-ahead never reads what the tailing cache holds: a reader catching up reads the
// backlog from the bookies up to the first cached entry and the rest from the cache,
// and the cache is neither grown nor changed by the reads.
func TestReadAheadStaysOutOfCache(t *testing.T) {
	c := newCluster(t, 1)
	data := fixedPayloads("tail", 1000, 100)
	f, reads := c.readFactory(t, Config{CacheBytes: 100 * 100, ReadAheadEntries: 64})
	ml, pos := backlog(t, f, "persistent://t/ns/tail", data)
	reads.take()
	ml.mu.Lock()
	cached, firstCached := ml.cache.len(), ml.cache.ents[ml.cache.head].pos
	ml.mu.Unlock()
	if cached != 100 || firstCached != pos[900] {
		t.Fatalf("cache holds %d entries from %v", cached, firstCached)
	}
	got := readAll(t, ml, cursor.Earliest(), 10)
	checkEntries(t, got, data, pos)
	for _, q := range reads.take() {
		if q.LastEntryId >= firstCached.Entry {
			t.Fatalf("asked the bookies for %d..%d; the cache holds %d on", q.FirstEntryId, q.LastEntryId, firstCached.Entry)
		}
	}
	ml.mu.Lock()
	defer ml.mu.Unlock()
	if ml.cache.len() != cached || ml.cache.ents[ml.cache.head].pos != firstCached {
		t.Fatalf("the reads changed the cache: %d entries from %v", ml.cache.len(), ml.cache.ents[ml.cache.head].pos)
	}
	for _, s := range ml.ra.streams {
		if s.end() >= firstCached.Entry || (s.fetch != nil && s.fetch.last >= firstCached.Entry) {
			t.Fatalf("a stream reaches into the cache: %d..%d", s.start, s.end())
		}
	}
}

// A tailing reader is served by the cache alone: no bookie call, no stream.
func TestTailingReadsStayInCache(t *testing.T) {
	c := newCluster(t, 1)
	f, reads := c.readFactory(t, Config{})
	ml := open(t, f, "persistent://t/ns/tailing")
	ctx := testCtx(t)
	p := ml.Next(ml.LastConfirmed())
	for i := range 50 {
		want := fmt.Appendf(nil, "m%d", i)
		if _, err := addSync(t, ml, want); err != nil {
			t.Fatal(err)
		}
		got, err := ml.ReadEntries(ctx, p, 10)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0].Data, want) {
			t.Fatalf("tailing read %d: %v %v", i, got, err)
		}
		p = ml.Next(got[0].Pos)
	}
	if calls := reads.take(); len(calls) != 0 || reads.single != 0 {
		t.Fatalf("%d bookie reads for a tailing reader", len(calls)+reads.single)
	}
	if n := len(streams(ml)); n != 0 {
		t.Fatalf("%d streams for a tailing reader", n)
	}
}

// Closing a topic while fetches are in flight ends them; nothing leaks (goleak checks
// the goroutines in TestMain) and the pool is empty.
func TestReadAheadClose(t *testing.T) {
	c := newCluster(t, 1)
	data := fixedPayloads("close", 400, 100)
	f, _ := c.readFactory(t, Config{CacheBytes: 1, ReadAheadEntries: 100})
	ml, pos := backlog(t, f, "persistent://t/ns/close", data)
	ctx := testCtx(t)
	for i := 0; i < 400; i += 50 {
		if _, err := ml.ReadEntries(ctx, pos[i], 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := ml.Close(ctx); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Fatal(err)
	}
	if n, u := len(streams(ml)), f.readAhead.used.Load(); n != 0 || u != 0 {
		t.Fatalf("after Close: %d streams, %d bytes in the pool", n, u)
	}
	// Reads after Close still work (from the bookies) and start nothing.
	got, err := ml.ReadEntries(ctx, pos[0], 5)
	if err != nil || len(got) != 5 {
		t.Fatalf("read after Close: %d entries, %v", len(got), err)
	}
	if n := len(streams(ml)); n != 0 {
		t.Fatalf("a read after Close started %d streams", n)
	}
}

// BenchmarkCatchUpReadNoReadAhead is BenchmarkCatchUpRead with read-ahead off: what the
// range reads alone give.
func BenchmarkCatchUpReadNoReadAhead(b *testing.B) { benchCatchUp(b, Config{ReadAheadEntries: -1}) }
