package autorecovery_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strata-io/strata/bookie/autorecovery"
	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failsafe bounds every test; nothing waits on time otherwise (conditions are polled
// against a deadline, events are waited on).
const failsafe = 2 * time.Minute

// bound is how long a condition the worker must bring about may take (generous: the
// machine is shared).
const bound = 45 * time.Second

func testCtx(t testing.TB) context.Context { return testenv.Context(t, failsafe) }

// eventually polls cond every 20 ms until it holds or `within` passes; then it fails
// the test with cond's last explanation.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s", what, within, why)
		}
		<-tick.C
	}
}

// testLogger writes the worker's log to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// startWorker starts a candidate with the test's short delays; it is closed at cleanup
// (before the cluster's bookies stop).
func startWorker(t testing.TB, c *bookietest.Cluster, id string, tweak func(*autorecovery.Config)) *autorecovery.Worker {
	t.Helper()
	cfg := autorecovery.Config{
		Store:                              c.Store,
		ID:                                 id,
		LostBookieRecoveryDelay:            time.Second,
		OpenLedgerRereplicationGracePeriod: time.Second,
		LeaseTTL:                           2 * time.Second,
		ReadTimeout:                        5 * time.Second,
		Logger:                             testLogger(t),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	w, err := autorecovery.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func payload(l, e int64) []byte { return []byte(fmt.Sprintf("ledger-%d-entry-%06d-payload", l, e)) }

// writeLedger creates an E/Qw/Qa ledger with n entries; closed unless keepOpen.
func writeLedger(ctx context.Context, t testing.TB, lc *ledger.Client, e, qw, qa int, n int64, keepOpen bool) *ledger.Writer {
	t.Helper()
	w, err := lc.Create(ctx, ledger.CreateOptions{EnsembleSize: e, WriteQuorum: qw, AckQuorum: qa})
	if err != nil {
		t.Fatal(err)
	}
	appendN(ctx, t, w, 0, n)
	if !keepOpen {
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// appendN appends entries from..from+n-1 (payload(ledger, id)) and checks their ids.
func appendN(ctx context.Context, t testing.TB, w *ledger.Writer, from, n int64) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		w.AppendAsync(payload(w.ID(), from+i), func(id int64, err error) {
			defer wg.Done()
			if err == nil && id != from+i {
				err = fmt.Errorf("append %d got id %d", from+i, id)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("ledger %d: append: %v", w.ID(), err)
	}
}

// meta reads a ledger's metadata straight from etcd.
func meta(ctx context.Context, t testing.TB, lc *ledger.Client, id int64) *ledger.Metadata {
	t.Helper()
	m, _, err := lc.ReadMetadata(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// liveBookies is the set of registered bookies.
func liveBookies(ctx context.Context, t testing.TB, c *bookietest.Cluster) map[string]bool {
	t.Helper()
	infos, err := registry.New(c.Store).Available(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, in := range infos {
		out[in.ID] = true
	}
	return out
}

// onlyOn reports whether every fragment of ledger id lists only bookies ok accepts.
func onlyOn(ctx context.Context, t testing.TB, lc *ledger.Client, id int64, ok func(string) bool) (bool, string) {
	m := meta(ctx, t, lc, id)
	for _, f := range m.Fragments {
		for _, b := range f.Ensemble {
			if !ok(b) {
				return false, fmt.Sprintf("ledger %d (%s) fragment at %d lists %s: %v", id, m.State, f.FirstEntry, b, m.Fragments)
			}
		}
	}
	return true, ""
}

// checkCopies reads every entry 0..last of a closed ledger from every bookie of its
// write set, directly: each must hold the payload written (Qw live copies).
func checkCopies(ctx context.Context, t testing.TB, lc *ledger.Client, id int64) {
	t.Helper()
	m := meta(ctx, t, lc, id)
	if m.State != ledger.StateClosed {
		t.Fatalf("ledger %d is %s, want CLOSED", id, m.State)
	}
	for e := int64(0); e <= m.LastEntry; e++ {
		ws := m.WriteSetBookies(e)
		if len(ws) != m.WriteQuorum {
			t.Fatalf("ledger %d entry %d: write set %v", id, e, ws)
		}
		for _, b := range ws {
			got, err := lc.ReadEntryFrom(ctx, b, id, e)
			if err != nil {
				t.Fatalf("ledger %d entry %d on %s (write set %v): %v", id, e, b, ws, err)
			}
			if !bytes.Equal(got, payload(id, e)) {
				t.Fatalf("ledger %d entry %d on %s: %q", id, e, b, got)
			}
		}
	}
}

// reader reads every entry of the given ledgers through a ledger client over and over
// until stopped, failing the test on any read error or wrong byte: re-replication must
// never disturb readers.
type reader struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	errs []error
	laps int
}

func startReader(ctx context.Context, t testing.TB, lc *ledger.Client, ids []int64) *reader {
	r := &reader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			for _, id := range ids {
				select {
				case <-r.stop:
					return
				default:
				}
				if err := readLedger(ctx, lc, id); err != nil {
					r.mu.Lock()
					r.errs = append(r.errs, err)
					r.mu.Unlock()
				}
			}
			r.mu.Lock()
			r.laps++
			r.mu.Unlock()
		}
	}()
	return r
}

func readLedger(ctx context.Context, lc *ledger.Client, id int64) error {
	rd, err := lc.OpenReader(ctx, id)
	if err != nil {
		return err
	}
	last := rd.Metadata().LastEntry
	if rd.Metadata().State != ledger.StateClosed {
		if last, err = rd.ReadLAC(ctx); err != nil {
			return err
		}
	}
	if last < 0 {
		return nil
	}
	ents, err := rd.Read(ctx, 0, last)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !bytes.Equal(e.Payload, payload(id, e.ID)) {
			return fmt.Errorf("ledger %d entry %d: read %q", id, e.ID, e.Payload)
		}
	}
	return nil
}

// finish stops the reader and fails the test if any read failed or it never completed
// a lap over every ledger.
func (r *reader) finish(t testing.TB) {
	t.Helper()
	eventually(t, bound, "reader lap", func() (bool, string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.laps > 0 || len(r.errs) > 0, "no lap over every ledger yet"
	})
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("%d reads failed during re-replication; first: %v", len(r.errs), r.errs[0])
	}
	if r.laps == 0 {
		t.Fatal("the reader never read every ledger")
	}
}

// otherThan returns the ids of bookies b1..bn not in ens.
func otherThan(n int, ens []string) []string {
	var out []string
	for i := 1; i <= n; i++ {
		if id := fmt.Sprintf("b%d", i); !slices.Contains(ens, id) {
			out = append(out, id)
		}
	}
	return out
}

func contextWithCancel(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}
