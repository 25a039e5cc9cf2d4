package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/internal/testenv"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rpcCall is one read call a client made to a bookie.
type rpcCall struct {
	bookie string
	method string // "ReadEntries" or "ReadEntry"
	// first..last step: the ReadEntries request, or entry..entry for ReadEntry.
	first, last int64
	step        uint32
	got         []int64 // the ids answered (before any spoiling)
	payload     int     // the payload bytes answered
	err         error
}

// rpcLog is a client interceptor — the ledger client's fault-injection seam — that
// records every read call and lets a test change a request before it is sent (before)
// or spoil its answer (after).
type rpcLog struct {
	mu     sync.Mutex
	calls  []rpcCall
	before func(bookie string, req any)
	after  func(bookie string, req, reply any, err error) error
}

func (l *rpcLog) client(c *bookietest.Cluster) *ledger.Client {
	return c.NewClient(func(cfg *ledger.ClientConfig) {
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithUnaryInterceptor(l.intercept))
	})
}

func (l *rpcLog) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	bookie := cc.Target()[strings.LastIndex(cc.Target(), "/")+1:]
	if l.before != nil {
		l.before(bookie, req)
	}
	err := invoker(ctx, method, req, reply, cc, opts...)
	call := rpcCall{bookie: bookie, method: method[strings.LastIndex(method, "/")+1:], err: err}
	switch r := req.(type) {
	case *bookiev1.ReadEntriesRequest:
		call.first, call.last, call.step = r.FirstEntryId, r.LastEntryId, r.Step
		for _, e := range reply.(*bookiev1.ReadEntriesResponse).GetEntries() {
			call.got = append(call.got, e.EntryId)
			call.payload += len(e.Payload)
		}
	case *bookiev1.ReadEntryRequest:
		call.first, call.last = r.EntryId, r.EntryId
	default:
		return err
	}
	l.mu.Lock()
	l.calls = append(l.calls, call)
	l.mu.Unlock()
	if l.after != nil {
		err = l.after(bookie, req, reply, err)
	}
	return err
}

func (l *rpcLog) take() []rpcCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

func count(calls []rpcCall, method string) int {
	n := 0
	for _, c := range calls {
		if c.method == method {
			n++
		}
	}
	return n
}

func quorum(e, qw, qa int) ledger.CreateOptions {
	return ledger.CreateOptions{EnsembleSize: e, WriteQuorum: qw, AckQuorum: qa}
}

// writeLedger writes payloads to a new ledger and closes it.
func writeLedger(ctx context.Context, t *testing.T, cl *ledger.Client, opts ledger.CreateOptions, payloads [][]byte) *ledger.Metadata {
	t.Helper()
	w, err := cl.Create(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appendAll(ctx, t, w, payloads); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return w.Metadata()
}

// A range is read with one ReadEntries call per 64 entries of each bookie's share:
// consecutive ids from one bookie where E == Qw, every E-th id from the head of its
// write set where E > Qw. No entry is read one by one, and every call asks only for
// entries of the range that the bookie stores.
func TestRangeReadCalls(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	const n = 400
	payloads := makePayloads(rng, "calls", 0, n)
	for _, q := range []ledger.CreateOptions{quorum(1, 1, 1), quorum(2, 2, 2), quorum(3, 3, 2), quorum(3, 2, 2), quorum(3, 1, 1)} {
		t.Run(fmt.Sprintf("E%dQw%d", q.EnsembleSize, q.WriteQuorum), func(t *testing.T) {
			m := writeLedger(ctx, t, c.NewClient(), q, payloads)
			var log rpcLog
			r, err := log.client(c).OpenReader(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, rg := range [][2]int64{{0, n - 1}, {7, 300}, {399, 399}, {5, 6}} {
				first, last := rg[0], rg[1]
				got, err := r.Read(ctx, first, last)
				if err != nil {
					t.Fatal(err)
				}
				checkEntries(t, got, first, payloads[first:last+1])
				calls := log.take()
				step := int64(1)
				if q.WriteQuorum < q.EnsembleSize {
					step = int64(q.EnsembleSize)
				}
				want := 0
				for r := int64(0); r < step && first+r <= last; r++ {
					want += int((((last-first-r)/step + 1) + 63) / 64)
				}
				if len(calls) != want || count(calls, "ReadEntries") != want {
					t.Fatalf("read %d..%d: %d calls (%d ReadEntries), want %d ReadEntries", first, last, len(calls), count(calls, "ReadEntries"), want)
				}
				for _, call := range calls {
					if call.first < first || call.last > last || int64(max(call.step, 1)) != step || len(call.got) != int((call.last-call.first)/step+1) {
						t.Fatalf("read %d..%d: call %+v", first, last, call)
					}
					if head := m.WriteSetBookies(call.first)[0]; call.bookie != head {
						t.Fatalf("entries from %d asked of %s, not the head of their write set %s", call.first, call.bookie, head)
					}
				}
			}
		})
	}
}

// A bookie that dies in the middle of a range read — it answers its first call, then
// every call fails as an unreachable bookie's do — has the rest of its share read from
// the next member of the write set, as ranges, and the read returns everything.
func TestRangeReadBookieDiesMidRange(t *testing.T) {
	for _, q := range []ledger.CreateOptions{quorum(3, 2, 2), quorum(3, 3, 2)} {
		t.Run(fmt.Sprintf("E%dQw%d", q.EnsembleSize, q.WriteQuorum), func(t *testing.T) {
			ctx, rng := testCtx(t), testenv.Rand(t)
			c := bookietest.Start(t, "/ledgertest", 3)
			const n = 600
			payloads := makePayloads(rng, "dies", 0, n)
			m := writeLedger(ctx, t, c.NewClient(), q, payloads)
			victim := m.WriteSetBookies(0)[0]
			var (
				log  rpcLog
				mu   sync.Mutex
				dead bool
			)
			log.after = func(bookie string, req, reply any, err error) error {
				if bookie != victim {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				if dead {
					return status.Error(codes.Unavailable, "injected: connection refused")
				}
				dead = err == nil
				return err
			}
			r, err := log.client(c).OpenReader(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Read(ctx, 0, n-1)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, 0, payloads)
			calls := log.take()
			var served, failed int
			for _, call := range calls {
				if call.bookie == victim && call.err == nil {
					if failed > 0 {
						t.Fatalf("victim %s answered after it died", victim)
					}
					served += len(call.got)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if served == 0 || served == n || !dead {
				t.Fatalf("victim %s served %d entries: not a death mid-range", victim, served)
			}
			if count(calls, "ReadEntry") != 0 {
				t.Fatalf("%d entries read one by one; the rest of a share should move as a range", count(calls, "ReadEntry"))
			}
		})
	}
}

// Replicas whose copy of one entry is bad — bytes that fail the CRC, CORRUPT_ENTRY, or
// NO_SUCH_ENTRY — on every member of its write set but the last: whichever bookie
// serves the range gives that entry up to the members after it, goes on with the range
// after it, and the bad bytes are never returned.
func TestRangeReadBadEntryOnReplicas(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	const n, bad = 300, int64(120)
	payloads := makePayloads(rng, "bad", 0, n)
	for _, q := range []ledger.CreateOptions{quorum(3, 2, 2), quorum(3, 3, 2)} {
		m := writeLedger(ctx, t, c.NewClient(), q, payloads)
		ws := m.WriteSetBookies(bad)
		good, spoilers := ws[len(ws)-1], ws[:len(ws)-1]
		for _, mode := range []string{"flip", "corrupt", "missing"} {
			t.Run(fmt.Sprintf("E%dQw%d/%s", q.EnsembleSize, q.WriteQuorum, mode), func(t *testing.T) {
				var log rpcLog
				log.after = func(bookie string, req, reply any, err error) error {
					if !slices.Contains(spoilers, bookie) || err != nil {
						return err
					}
					if r, ok := req.(*bookiev1.ReadEntryRequest); ok {
						if r.EntryId == bad {
							return bookiev1.Error(bookiev1.ReasonCorruptEntry, "injected")
						}
						return nil
					}
					resp := reply.(*bookiev1.ReadEntriesResponse)
					for i, e := range resp.Entries {
						if e.EntryId != bad {
							continue
						}
						switch {
						case mode == "flip":
							e.Payload[0] ^= 0xff
						case i > 0: // as a bookie does: stop before it
							resp.Entries = resp.Entries[:i]
						case mode == "corrupt":
							return bookiev1.Error(bookiev1.ReasonCorruptEntry, "injected")
						default:
							return bookiev1.Error(bookiev1.ReasonNoSuchEntry, "injected")
						}
						break
					}
					return nil
				}
				r, err := log.client(c).OpenReader(ctx, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Read(ctx, 0, n-1)
				if err != nil {
					t.Fatal(err)
				}
				checkEntries(t, got, 0, payloads)
				var after, single bool
				for _, call := range log.take() {
					after = after || (call.method == "ReadEntries" && slices.Contains(spoilers, call.bookie) && call.first > bad && call.first <= bad+int64(q.EnsembleSize) && call.err == nil)
					single = single || (call.method == "ReadEntry" && call.first == bad && call.bookie == good && call.err == nil)
				}
				if !single || !after {
					t.Fatalf("entry %d read from %s alone: %t; the range went on after it: %t", bad, good, single, after)
				}
			})
		}
	}
}

// A range that crosses an ensemble change is read per fragment, each call from the
// fragment's own ensemble; with a bookie of the first fragment down, its share comes
// from the other members.
func TestRangeReadAcrossFragments(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 4)
	w, err := c.NewClient().Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	all := makePayloads(rng, "frag", 0, 150)
	if _, err := appendAll(ctx, t, w, all); err != nil {
		t.Fatal(err)
	}
	victim := w.Metadata().Fragments[0].Ensemble[1]
	stopped := c.StopBookieAsync(victim)
	for len(w.Metadata().Fragments) < 2 || len(all) < 400 {
		batch := makePayloads(rng, "frag", len(all), 50)
		if _, err := appendAll(ctx, t, w, batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
	}
	stopped()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m := w.Metadata()
	n := int64(len(all))
	check := func(calls []rpcCall) {
		t.Helper()
		for _, call := range calls {
			f := m.FragmentFor(call.first)
			if g := m.FragmentFor(call.last); g.FirstEntry != f.FirstEntry {
				t.Fatalf("call %+v crosses fragments %d and %d", call, f.FirstEntry, g.FirstEntry)
			}
			if !slices.Contains(m.WriteSetBookies(call.first), call.bookie) {
				t.Fatalf("call %+v to a bookie outside the write set %v", call, m.WriteSetBookies(call.first))
			}
		}
	}

	var log rpcLog
	r, err := log.client(c).OpenReader(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(ctx, 0, n-1)
	if err != nil {
		t.Fatalf("read with %s down: %v", victim, err)
	}
	checkEntries(t, got, 0, all)
	check(log.take())

	c.StartBookie(victim)
	got, err = r.Read(ctx, 0, n-1)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, all)
	calls := log.take()
	check(calls)
	if k := count(calls, "ReadEntry"); k != 0 {
		t.Fatalf("%d entries read one by one with every bookie up", k)
	}
}

// Reads never ask for entries past the range (itself within the LAC or the last entry);
// one answer holds at most the byte cap of payload, or a single entry; and a bookie
// that predates the step field (it answers consecutive ids) is still read correctly.
func TestRangeReadBounds(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)

	t.Run("lac", func(t *testing.T) {
		w, err := c.NewClient().Create(ctx, e3q2a2)
		if err != nil {
			t.Fatal(err)
		}
		payloads := makePayloads(rng, "lac", 0, 100)
		if _, err := appendAll(ctx, t, w, payloads); err != nil {
			t.Fatal(err)
		}
		var log rpcLog
		r, err := log.client(c).OpenReader(ctx, w.ID())
		if err != nil {
			t.Fatal(err)
		}
		lac, err := r.WaitLAC(ctx, 98)
		if err != nil || lac != 99 {
			t.Fatalf("WaitLAC %d %v", lac, err)
		}
		got, err := r.Read(ctx, 10, 99)
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, got, 10, payloads[10:])
		if _, err := r.Read(ctx, 90, 100); !errors.Is(err, ledger.ErrReadBeyondLast) {
			t.Fatalf("read past the LAC: %v", err)
		}
		for _, call := range log.take() {
			if call.last > 99 {
				t.Fatalf("call %+v asks past the LAC", call)
			}
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bytes", func(t *testing.T) {
		big := make([][]byte, 13)
		for i := range big {
			big[i] = bytes.Repeat([]byte{byte(i)}, 1<<20)
		}
		m := writeLedger(ctx, t, c.NewClient(), quorum(1, 1, 1), big)
		var log rpcLog
		r, err := log.client(c).OpenReader(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Read(ctx, 0, 12)
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, got, 0, big)
		calls := log.take()
		for _, call := range calls {
			if call.payload > 4<<20 && len(call.got) > 1 {
				t.Fatalf("one answer of %d entries, %d bytes", len(call.got), call.payload)
			}
		}
		if len(calls) != 4 { // 4+4+4+1 MiB
			t.Fatalf("%d calls for 13 MiB, want 4", len(calls))
		}
	})

	t.Run("old bookie", func(t *testing.T) {
		payloads := makePayloads(rng, "old", 0, 90)
		m := writeLedger(ctx, t, c.NewClient(), e3q2a2, payloads)
		var log rpcLog
		log.before = func(_ string, req any) {
			if r, ok := req.(*bookiev1.ReadEntriesRequest); ok {
				r.Step = 0 // what a bookie that does not know the field sees
			}
		}
		r, err := log.client(c).OpenReader(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Read(ctx, 0, 89)
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, got, 0, payloads)
		if calls := log.take(); count(calls, "ReadEntries") < 90 {
			t.Fatalf("%d calls: an old bookie's consecutive answer cannot cover a share", len(calls))
		}
	})

	t.Run("unreadable", func(t *testing.T) {
		payloads := makePayloads(rng, "gone", 0, 30)
		m := writeLedger(ctx, t, c.NewClient(), e3q2a2, payloads)
		var log rpcLog
		log.after = func(_ string, req, reply any, err error) error {
			if r, ok := req.(*bookiev1.ReadEntryRequest); ok && r.EntryId == 17 {
				return bookiev1.Error(bookiev1.ReasonNoSuchEntry, "injected")
			}
			if r, ok := req.(*bookiev1.ReadEntriesRequest); ok && r.FirstEntryId <= 17 && 17 <= r.LastEntryId {
				return status.Error(codes.Unavailable, "injected")
			}
			return err
		}
		r, err := log.client(c).OpenReader(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(ctx, 0, 29); !errors.Is(err, ledger.ErrEntryUnreadable) || !strings.Contains(err.Error(), "entry 17") {
			t.Fatalf("read with entry 17 on no replica: %v", err)
		}
	})
}

// A replica that lacks many entries — the whole ledger (NO_SUCH_LEDGER), or every entry
// from some point on (NO_SUCH_ENTRY, as a bookie replaced by an ensemble change the
// reader's metadata does not show yet) — hands the rest of the span to the next member
// instead of costing a fallback call per entry.
func TestRangeReadReplicaMissingMany(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	const n = 300
	payloads := makePayloads(rng, "many", 0, n)
	m := writeLedger(ctx, t, c.NewClient(), e3q2a2, payloads)
	victim := m.WriteSetBookies(0)[0]
	for _, mode := range []string{"ledger", "tail"} {
		t.Run(mode, func(t *testing.T) {
			var log rpcLog
			log.after = func(bookie string, req, reply any, err error) error {
				if bookie != victim || err != nil {
					return err
				}
				if mode == "ledger" {
					return bookiev1.Error(bookiev1.ReasonNoSuchLedger, "injected")
				}
				switch r := req.(type) {
				case *bookiev1.ReadEntryRequest:
					if r.EntryId >= 100 {
						return bookiev1.Error(bookiev1.ReasonNoSuchEntry, "injected")
					}
				case *bookiev1.ReadEntriesRequest:
					resp := reply.(*bookiev1.ReadEntriesResponse)
					for i, e := range resp.Entries {
						if e.EntryId >= 100 {
							if i == 0 {
								return bookiev1.Error(bookiev1.ReasonNoSuchEntry, "injected")
							}
							resp.Entries = resp.Entries[:i]
							break
						}
					}
				}
				return nil
			}
			r, err := log.client(c).OpenReader(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Read(ctx, 0, n-1)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, 0, payloads)
			calls := log.take()
			// Spans headed by the victim: 2 (entries 0, 3, … in two spans of ≤ 64).
			if k := count(calls, "ReadEntry"); k > 2 {
				t.Fatalf("%d entries read one by one", k)
			}
			// 6 spans; a victim's span costs at most 5 calls (range, miss, the missed
			// entry elsewhere, miss again, the rest elsewhere). One call per missing
			// entry would be over 60.
			if len(calls) > 16 {
				t.Fatalf("%d calls", len(calls))
			}
		})
	}
}
