package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/internal/testenv"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"google.golang.org/grpc"
)

// appendAll appends payloads pipelined and waits for every callback. It checks that
// callbacks come in entry order and returns the ids, or the first error.
func appendAll(ctx context.Context, t *testing.T, w *ledger.Writer, payloads [][]byte) ([]int64, error) {
	t.Helper()
	var (
		mu   sync.Mutex
		ids  []int64
		errs []error
	)
	done := make(chan struct{})
	n := 0
	for _, p := range payloads {
		w.AppendAsync(p, func(id int64, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else {
				if len(ids) > 0 && id != ids[len(ids)-1]+1 {
					t.Errorf("callback for entry %d after entry %d", id, ids[len(ids)-1])
				}
				ids = append(ids, id)
			}
			n++
			if n == len(payloads) {
				close(done)
			}
		})
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("appends not all answered: %v", ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	return ids, errors.Join(errs...)
}

func makePayloads(rng *rand.Rand, tag string, from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = payloadFor(rng, tag, from+i)
	}
	return out
}

func checkEntries(t *testing.T, got []ledger.Entry, first int64, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if e.ID != first+int64(i) || !bytes.Equal(e.Payload, want[i]) {
			t.Fatalf("entry %d: got id %d %q, want %q", first+int64(i), e.ID, e.Payload, want[i])
		}
	}
}

func totalLen(ps [][]byte) int64 {
	var n int64
	for _, p := range ps {
		n += int64(len(p))
	}
	return n
}

var e3q2a2 = ledger.CreateOptions{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2}

func TestWriteReadBack(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	cl := c.NewClient()
	opts := e3q2a2
	opts.Custom = map[string]string{"topic": "persistent://t/n/x"}
	w, err := cl.Create(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	payloads := makePayloads(rng, "rb", 0, n)
	ids, err := appendAll(ctx, t, w, payloads)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != n || ids[0] != 0 || ids[n-1] != n-1 {
		t.Fatalf("ids %d..%d (%d)", ids[0], ids[len(ids)-1], len(ids))
	}
	if lac := w.LastAddConfirmed(); lac != n-1 {
		t.Fatalf("LAC %d", lac)
	}

	// A tailing reader on the open ledger: the last entry becomes visible through the
	// writer's explicit LAC, without another add.
	r, err := c.NewClient().OpenReader(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	lac, err := r.WaitLAC(ctx, n-2)
	if err != nil || lac != n-1 {
		t.Fatalf("WaitLAC: %d %v", lac, err)
	}
	got, err := r.Read(ctx, 0, lac)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, payloads)
	if _, err := r.Read(ctx, n-1, n); !errors.Is(err, ledger.ErrReadBeyondLast) {
		t.Fatalf("read past the LAC: %v", err)
	}

	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m := w.Metadata()
	if m.State != ledger.StateClosed || m.LastEntry != n-1 || m.Length != totalLen(payloads) || m.LengthIsLowerBound {
		t.Fatalf("closed metadata: state %s last %d length %d (want %d) lowerBound %t", m.State, m.LastEntry, m.Length, totalLen(payloads), m.LengthIsLowerBound)
	}
	if m.Custom["topic"] != "persistent://t/n/x" {
		t.Fatalf("custom: %v", m.Custom)
	}
	if _, err := w.Append(ctx, []byte("late")); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("second close: %v", err)
	}

	// A fresh reader of the closed ledger.
	r2, err := c.NewClient().OpenReader(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	got, err = r2.Read(ctx, 0, n-1)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, payloads)
	if _, err := r2.Read(ctx, 0, n); !errors.Is(err, ledger.ErrReadBeyondLast) {
		t.Fatalf("read past the last entry: %v", err)
	}
	if lac, err := r2.WaitLAC(ctx, n-1); !errors.Is(err, ledger.ErrClosed) || lac != n-1 {
		t.Fatalf("WaitLAC on a closed ledger: %d %v", lac, err)
	}
	// Recovering a closed ledger returns it unchanged.
	rm, err := c.NewClient().OpenRecover(ctx, w.ID())
	if err != nil || rm.LastEntry != n-1 || rm.Length != m.Length {
		t.Fatalf("OpenRecover of a closed ledger: %+v %v", rm, err)
	}
}

func TestCreateErrors(t *testing.T) {
	ctx := testCtx(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	cl := c.NewClient()
	for _, o := range []ledger.CreateOptions{
		{EnsembleSize: 2, WriteQuorum: 3, AckQuorum: 2},
		{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 3},
		{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 0},
	} {
		if _, err := cl.Create(ctx, o); !errors.Is(err, ledger.ErrBadQuorum) {
			t.Errorf("%+v: %v, want ErrBadQuorum", o, err)
		}
	}
	if _, err := cl.Create(ctx, ledger.CreateOptions{EnsembleSize: 4, WriteQuorum: 2, AckQuorum: 2}); !errors.Is(err, ledger.ErrNotEnoughBookies) {
		t.Errorf("E=4 on 3 bookies: %v", err)
	}
	if _, err := cl.OpenReader(ctx, 12345); !errors.Is(err, ledger.ErrNoSuchLedger) {
		t.Errorf("OpenReader of a missing ledger: %v", err)
	}
}

// A bookie of the ensemble goes away mid-stream: the writer replaces it (a new fragment
// from the first unacknowledged entry, in etcd), every add still succeeds, and every
// acknowledged entry reads back with that bookie down.
func TestEnsembleChangeOnBookieLoss(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 4)
	cl := c.NewClient()
	w, err := cl.Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	first := makePayloads(rng, "ec", 0, 100)
	if _, err := appendAll(ctx, t, w, first); err != nil {
		t.Fatal(err)
	}
	victim := w.Metadata().Fragments[0].Ensemble[rng.IntN(3)]
	// Stop it while the writer keeps adding, until the writer has replaced it, and a bit
	// more.
	stopped := c.StopBookieAsync(victim)
	all := slices.Clone(first)
	for extra := 2; extra > 0; {
		batch := makePayloads(rng, "ec", len(all), 50)
		if _, err := appendAll(ctx, t, w, batch); err != nil {
			t.Fatalf("adds after losing %s: %v", victim, err)
		}
		all = append(all, batch...)
		if len(w.Metadata().Fragments) > 1 {
			extra--
		}
	}
	stopped()
	n := int64(len(all))

	r, err := c.NewClient().OpenReader(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	m := r.Metadata()
	if len(m.Fragments) < 2 {
		t.Fatalf("no ensemble change in etcd: %+v", m.Fragments)
	}
	last := m.LastFragment()
	if slices.Contains(last.Ensemble, victim) || last.FirstEntry < 100 || last.FirstEntry >= n {
		t.Fatalf("bad new fragment %+v (victim %s)", last, victim)
	}
	if !slices.EqualFunc(m.Fragments, w.Metadata().Fragments, func(a, b ledger.Fragment) bool {
		return a.FirstEntry == b.FirstEntry && slices.Equal(a.Ensemble, b.Ensemble)
	}) {
		t.Fatalf("writer and etcd disagree: %+v vs %+v", w.Metadata().Fragments, m.Fragments)
	}
	lac, err := r.WaitLAC(ctx, n-2)
	if err != nil || lac != n-1 {
		t.Fatalf("WaitLAC %d %v", lac, err)
	}
	got, err := r.Read(ctx, 0, n-1)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, all)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if m := w.Metadata(); m.LastEntry != n-1 || m.Length != totalLen(all) {
		t.Fatalf("closed at %d length %d", m.LastEntry, m.Length)
	}
}

// With no spare bookie the writer fails its pending adds with ErrNotEnoughBookies and
// takes no more; Close still closes the ledger at the LAC, and everything acknowledged
// reads back.
func TestNoSpareBookie(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	w, err := c.NewClient().Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	first := makePayloads(rng, "ns", 0, 50)
	if _, err := appendAll(ctx, t, w, first); err != nil {
		t.Fatal(err)
	}
	stopped := c.StopBookieAsync("b2")
	defer stopped()
	// Some adds may still be acknowledged (those whose write set avoids b2 and that
	// complete before the first failing one); from the first failure on all fail.
	var acked []int64
	var failed error
	for i := 50; failed == nil; i++ {
		id, err := w.Append(ctx, payloadFor(rng, "ns", i))
		if err != nil {
			failed = err
			break
		}
		acked = append(acked, id)
	}
	if !errors.Is(failed, ledger.ErrNotEnoughBookies) {
		t.Fatalf("add after losing the only spare: %v", failed)
	}
	if _, err := w.Append(ctx, []byte("more")); !errors.Is(err, ledger.ErrNotEnoughBookies) {
		t.Fatalf("next add: %v", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m := w.Metadata()
	if want := int64(49 + len(acked)); m.State != ledger.StateClosed || m.LastEntry != want {
		t.Fatalf("closed at %d, want %d", m.LastEntry, want)
	}
	r, err := c.NewClient().OpenReader(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(ctx, 0, 49)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, first)
}

// Writer A keeps adding; another client opens the ledger with recovery. A's next add
// fails with ErrFenced, and the recovered ledger holds every entry A had acknowledged
// and nothing A never sent.
func TestFencingStopsWriter(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	a, err := c.NewClient().Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		acked    = int64(-1)
		sent     [][]byte
		fenced   error
		finished = make(chan struct{})
	)
	// A pipelines adds until one fails.
	go func() {
		defer close(finished)
		sem := make(chan struct{}, 32)
		for i := 0; ; i++ {
			sem <- struct{}{}
			mu.Lock()
			stop := fenced != nil
			p := payloadFor(rng, "fence", i)
			if !stop {
				sent = append(sent, p)
			}
			mu.Unlock()
			if stop {
				return
			}
			a.AppendAsync(p, func(id int64, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if fenced == nil {
						fenced = err
					}
				} else {
					acked = max(acked, id)
				}
				<-sem
			})
		}
	}()
	// Let A get some entries acknowledged, then recover from another client.
	r, err := c.NewClient().OpenReader(ctx, a.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WaitLAC(ctx, 200); err != nil {
		t.Fatal(err)
	}
	rm, err := c.NewClient().OpenRecover(ctx, a.ID())
	if err != nil {
		t.Fatal(err)
	}
	<-finished
	mu.Lock()
	ackedAtEnd, fencedErr, sentN := acked, fenced, len(sent)
	mu.Unlock()
	if !errors.Is(fencedErr, ledger.ErrFenced) {
		t.Fatalf("writer stopped with %v, want ErrFenced", fencedErr)
	}
	if _, err := a.Append(ctx, []byte("after")); !errors.Is(err, ledger.ErrFenced) {
		t.Fatalf("add after fencing: %v", err)
	}
	if err := a.Close(ctx); !errors.Is(err, ledger.ErrFenced) {
		t.Fatalf("close after fencing: %v", err)
	}
	t.Logf("writer: %d sent, last acknowledged %d; recovered last entry %d", sentN, ackedAtEnd, rm.LastEntry)
	if rm.State != ledger.StateClosed || rm.LastEntry < ackedAtEnd || rm.LastEntry >= int64(sentN) {
		t.Fatalf("recovered last entry %d: acknowledged %d, sent %d", rm.LastEntry, ackedAtEnd, sentN)
	}
	rd, err := c.NewClient().OpenReader(ctx, a.ID())
	if err != nil {
		t.Fatal(err)
	}
	got, err := rd.Read(ctx, 0, rm.LastEntry)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, sent[:rm.LastEntry+1])
	// The metadata is final: a second recovery changes nothing.
	again, err := c.NewClient().OpenRecover(ctx, a.ID())
	if err != nil || again.LastEntry != rm.LastEntry {
		t.Fatalf("second recovery: %+v %v", again, err)
	}
}

// writeAndAbandon writes n entries, waits until every bookie in ids heard the final
// LAC (the writer's explicit LAC), then drops the writer without closing the ledger —
// a broker that died.
func writeAndAbandon(ctx context.Context, t *testing.T, c *bookietest.Cluster, rng *rand.Rand, n int, ids ...string) (int64, [][]byte) {
	t.Helper()
	cl := c.NewClient()
	w, err := cl.Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	payloads := makePayloads(rng, "ab", 0, n)
	if _, err := appendAll(ctx, t, w, payloads); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		waitBookieLAC(ctx, t, c, id, w.ID(), int64(n-1))
	}
	cl.Close()
	return w.ID(), payloads
}

func TestRecoveryOneBookieDown(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	id, payloads := writeAndAbandon(ctx, t, c, rng, 100, "b1", "b3")
	c.StopBookie("b2")
	m, err := c.NewClient().OpenRecover(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != ledger.StateClosed || m.LastEntry != 99 {
		t.Fatalf("recovered: state %s last %d", m.State, m.LastEntry)
	}
	r, err := c.NewClient().OpenReader(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(ctx, 0, 99)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, payloads)
}

func TestRecoveryTwoBookiesDown(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	id, payloads := writeAndAbandon(ctx, t, c, rng, 100, "b1", "b2", "b3")
	c.StopBookie("b2")
	c.StopBookie("b3")
	cl := c.NewClient()
	if _, err := cl.OpenRecover(ctx, id); !errors.Is(err, ledger.ErrRecoveryCoverage) {
		t.Fatalf("recovery with two of three bookies down: %v, want ErrRecoveryCoverage", err)
	}
	r, err := cl.OpenReader(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Metadata().State; st != ledger.StateInRecovery {
		t.Fatalf("state after failed recovery: %s", st)
	}
	// The bookies come back on new ports: the client finds them through the registry
	// and recovery completes.
	c.StartBookie("b2")
	c.StartBookie("b3")
	m, err := cl.OpenRecover(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.LastEntry != 99 {
		t.Fatalf("recovered last entry %d", m.LastEntry)
	}
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(ctx, 0, 99)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, payloads)
}

// An unacknowledged tail left on bookies by a dead writer is read forward, re-written
// and kept; concurrent recoverers agree on the result.
func TestRecoveryRewritesTail(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	id, payloads := writeAndAbandon(ctx, t, c, rng, 20)
	// Entries 20..24 reach one bookie of their write set only, behind the writer's
	// back, with LAC 19: the state a writer that died mid-add leaves.
	var tail [][]byte
	for e := int64(20); e < 25; e++ {
		p := payloadFor(rng, "tail", int(e))
		tail = append(tail, p)
		// Entry e's first replica is position e mod 3 of the only fragment.
		rawAdd(ctx, t, c, ledgerBookie(ctx, t, c, id, e), id, e, 19, p)
	}
	var wg sync.WaitGroup
	results := make([]*ledger.Metadata, 3)
	errs := make([]error, 3)
	for i := range results {
		cl := c.NewClient()
		wg.Go(func() { results[i], errs[i] = cl.OpenRecover(ctx, id) })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("recoverer %d: %v", i, errs[i])
		}
		if results[i].LastEntry != 24 {
			t.Fatalf("recoverer %d closed at %d, want 24", i, results[i].LastEntry)
		}
	}
	r, err := c.NewClient().OpenReader(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(ctx, 0, 24)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, append(slices.Clone(payloads), tail...))
	// The re-writes reached the whole write set: entry 24 is now on both replicas.
	for _, b := range r.Metadata().WriteSetBookies(24) {
		resp, err := c.RawClient(b).ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: uint64(id), EntryId: 24})
		if err != nil || !bytes.Equal(resp.Payload, tail[4]) {
			t.Fatalf("entry 24 on %s after recovery: %v", b, err)
		}
	}
}

func crc32c(p []byte) uint32 { return crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)) }

func ledgerBookie(ctx context.Context, t *testing.T, c *bookietest.Cluster, id, e int64) string {
	t.Helper()
	r, err := c.NewClient().OpenReader(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Metadata().WriteSetBookies(e)[0]
}

func rawAdd(ctx context.Context, t *testing.T, c *bookietest.Cluster, bookieID string, id, e, lac int64, p []byte) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.RawClient(bookieID).AddEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&bookiev1.AddRequest{LedgerId: uint64(id), EntryId: e, Lac: lac, Payload: p, Crc32C: crc32c(p)}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Recv()
	if err != nil || resp.Error != nil {
		t.Fatalf("raw add of %d/%d to %s: %v %v", id, e, bookieID, err, resp.GetError())
	}
}

// A replica that returns corrupt bytes (or DataLoss, or nothing) is skipped: the read
// falls back to the other replica and never returns the bad bytes.
func TestReadFallsBackFromBadReplica(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	w, err := c.NewClient().Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	payloads := makePayloads(rng, "cr", 0, 30)
	if _, err := appendAll(ctx, t, w, payloads); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"flip", "dataloss", "notfound"} {
		t.Run(mode, func(t *testing.T) {
			// Fault injection through the client's seam: an interceptor that spoils
			// every ReadEntry answer from b1.
			bad := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				err := invoker(ctx, method, req, reply, cc, opts...)
				if err != nil || !strings.HasSuffix(method, "/ReadEntry") || !strings.HasSuffix(cc.Target(), "/b1") {
					return err
				}
				switch mode {
				case "flip":
					reply.(*bookiev1.ReadEntryResponse).Payload[0] ^= 0xff
					return nil
				case "dataloss":
					return bookiev1.Error(bookiev1.ReasonCorruptEntry, "injected")
				default:
					return bookiev1.Error(bookiev1.ReasonNoSuchEntry, "injected")
				}
			}
			cl := c.NewClient(func(cfg *ledger.ClientConfig) {
				cfg.DialOptions = append(cfg.DialOptions, grpc.WithUnaryInterceptor(bad))
			})
			r, err := cl.OpenReader(ctx, w.ID())
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Read(ctx, 0, 29)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, 0, payloads)
		})
	}
}

func TestDelete(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	cl := c.NewClient()
	w, err := cl.Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appendAll(ctx, t, w, makePayloads(rng, "del", 0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.Delete(ctx, w.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.OpenReader(ctx, w.ID()); !errors.Is(err, ledger.ErrNoSuchLedger) {
		t.Fatalf("reader after delete: %v", err)
	}
	if err := cl.Delete(ctx, w.ID()); !errors.Is(err, ledger.ErrNoSuchLedger) {
		t.Fatalf("second delete: %v", err)
	}
	for _, id := range c.BookieIDs() {
		_, err := c.RawClient(id).ReadEntry(ctx, &bookiev1.ReadEntryRequest{LedgerId: uint64(w.ID()), EntryId: 0})
		if r := bookiev1.ReasonOf(err); r != bookiev1.ReasonNoSuchLedger {
			t.Fatalf("bookie %s after delete: %v", id, err)
		}
	}
}

// Close with a context that is already done does nothing: the writer still works and a
// later Close closes the ledger.
func TestCloseWithDoneContext(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 3)
	w, err := c.NewClient().Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appendAll(ctx, t, w, makePayloads(rng, "cc", 0, 5)); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Close(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("close with a done context: %v", err)
	}
	if id, err := w.Append(ctx, []byte("still open")); err != nil || id != 5 {
		t.Fatalf("append after a no-op close: %d %v", id, err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if m := w.Metadata(); m.State != ledger.StateClosed || m.LastEntry != 5 {
		t.Fatalf("metadata %s %d", m.State, m.LastEntry)
	}
}

// A bookie that takes adds but never answers is timed out (AddTimeout) and replaced;
// no add is lost or fails.
func TestSilentBookieIsReplaced(t *testing.T) {
	ctx, rng := testCtx(t), testenv.Rand(t)
	c := bookietest.Start(t, "/ledgertest", 4)
	var silent atomic.Value // bookie id whose add answers are swallowed
	silent.Store("")
	swallow := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || !strings.HasSuffix(method, "/AddEntries") || !strings.HasSuffix(cc.Target(), "/"+silent.Load().(string)) {
			return s, err
		}
		return swallowingStream{s}, nil
	}
	cl := c.NewClient(func(cfg *ledger.ClientConfig) {
		cfg.AddTimeout = 200 * time.Millisecond
		cfg.DialOptions = append(cfg.DialOptions, grpc.WithStreamInterceptor(swallow))
	})
	w, err := cl.Create(ctx, e3q2a2)
	if err != nil {
		t.Fatal(err)
	}
	victim := w.Metadata().Fragments[0].Ensemble[0]
	silent.Store(victim)
	payloads := makePayloads(rng, "silent", 0, 60)
	if _, err := appendAll(ctx, t, w, payloads); err != nil {
		t.Fatal(err)
	}
	m := w.Metadata()
	if len(m.Fragments) != 1 || slices.Contains(m.Fragments[0].Ensemble, victim) {
		// Nothing could be acknowledged before the victim was replaced (entry 0 needs it),
		// so the change rewrote the only fragment in place.
		t.Fatalf("fragments after a silent bookie: %+v (victim %s)", m.Fragments, victim)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := c.NewClient().OpenReader(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(ctx, 0, 59)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, 0, payloads)
}

// swallowingStream drops every message the bookie sends back.
type swallowingStream struct{ grpc.ClientStream }

func (s swallowingStream) RecvMsg(m any) error {
	for {
		if err := s.ClientStream.RecvMsg(m); err != nil {
			return err
		}
	}
}
