package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/strata-io/strata/internal/testenv"
)

// applied reports each batch the builder applies to Pebble (its op count).
func applied(s *Store) <-chan int {
	ch := make(chan int, 1024)
	s.mu.Lock()
	s.onApplied = func(ops int) { ch <- ops }
	s.mu.Unlock()
	return ch
}

// appliedOps waits until batches holding n more ops have been applied.
func appliedOps(t *testing.T, ch <-chan int, n int) {
	t.Helper()
	for n > 0 {
		select {
		case k := <-ch:
			n -= k
		case <-time.After(failsafe):
			t.Fatalf("the builder did not apply %d more ops", n)
		}
	}
}

// answers records the order in which callbacks run.
type answers struct {
	mu    sync.Mutex
	order []string
	errs  map[string]error
	done  chan string
}

func newAnswers() *answers {
	return &answers{errs: make(map[string]error), done: make(chan string, 1024)}
}

func (a *answers) add(s *Store, name string, ad Add) {
	s.AddAsync(ad, func(err error) { a.record(name, err) })
}

func (a *answers) fence(s *Store, name string, ledger uint64) {
	s.enqueue(&op{kind: opFence, ledger: ledger, done: func(_ LedgerState, err error) { a.record(name, err) }})
}

func (a *answers) record(name string, err error) {
	a.mu.Lock()
	a.order = append(a.order, name)
	a.errs[name] = err
	a.mu.Unlock()
	a.done <- name
}

func (a *answers) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.order)
}

// wait waits for n answers and returns every answer so far, in order.
func (a *answers) wait(t *testing.T, n int) []string {
	t.Helper()
	for range n {
		select {
		case <-a.done:
		case <-time.After(failsafe):
			t.Fatalf("timed out waiting for answers; have %v", a.order)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, err := range a.errs {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return append([]string(nil), a.order...)
}

// TestPipelineBuildsDuringFsync holds the fsync of a first batch and shows the builder
// applying the next batches meanwhile — while nothing is answered before the held
// fsync returns — and then everything answered in queue order.
func TestPipelineBuildsDuringFsync(t *testing.T) {
	gate := &syncGate{}
	s, err := Open("db", Options{FS: errorfsWrap(vfs.NewMem(), gate)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batches := applied(s)
	a := newAnswers()

	reached, release := gate.arm()
	defer release() // runs before the deferred Close if the test fails while it holds the sync
	a.add(s, "1/0", mkAdd(1, 0, -1, "a"))
	waitCh(t, reached, "the first batch's fsync")
	appliedOps(t, batches, 1)

	// The pipeline's other slots (maxInFlightBatches is 3): these are applied while the
	// first fsync is held.
	a.add(s, "1/1", mkAdd(1, 1, 0, "b"))
	appliedOps(t, batches, 1)
	a.fence(s, "fence 3", 3)
	appliedOps(t, batches, 1)
	// Every slot is taken now: these wait in the queue.
	a.add(s, "2/0", mkAdd(2, 0, -1, "c"))
	a.add(s, "1/2", mkAdd(1, 2, 1, "d"))

	if n := a.count(); n != 0 {
		t.Fatalf("%d ops answered while the first batch's fsync was held", n)
	}
	if st, _ := s.State(1); st != (LedgerState{LAC: -1, LastEntry: -1}) {
		t.Fatalf("state published before its fsync: %+v", st)
	}
	release()
	got := a.wait(t, 5)
	want := []string{"1/0", "1/1", "fence 3", "2/0", "1/2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("answered in order %v, want %v", got, want)
	}
	if st, _ := s.State(1); st != (LedgerState{LAC: 1, LastEntry: 2}) {
		t.Fatalf("ledger 1: %+v", st)
	}
	if st, _ := s.State(3); !st.Fenced {
		t.Fatal("ledger 3 not fenced")
	}
}

// TestPipelineDecidesOnUnsyncedState: a batch is decided on top of the batches applied
// before it, fsynced or not — a resend of an entry still being fsynced is a duplicate
// (identical: success; different: refused), an add after a fence still being fsynced is
// refused — and each is answered only after that fsync. The pipeline is made deep
// enough for every op to be applied behind the held fsync however the builder splits
// them into batches.
func TestPipelineDecidesOnUnsyncedState(t *testing.T) {
	gate := &syncGate{}
	s, err := Open("db", Options{FS: errorfsWrap(vfs.NewMem(), gate), batchesInFlight: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustAdd(t, s, mkAdd(1, 0, -1, "stored"))
	batches := applied(s)

	reached, release := gate.arm()
	defer release() // runs before the deferred Close if the test fails while it holds the sync
	held := addAsync(s, mkAdd(1, 1, 0, "in flight"))
	fenced := make(chan error, 1)
	s.enqueue(&op{kind: opFence, ledger: 2, done: func(_ LedgerState, err error) { fenced <- err }})
	waitCh(t, reached, "the fsync of the first batch")
	appliedOps(t, batches, 2)

	same := addAsync(s, mkAdd(1, 1, 0, "in flight"))
	different := addAsync(s, mkAdd(1, 1, 0, "other bytes"))
	afterFence := addAsync(s, mkAdd(2, 0, -1, "late"))
	old := addAsync(s, mkAdd(1, 0, -1, "stored"))
	appliedOps(t, batches, 4)
	for name, r := range map[string]addResult{"held": held, "same": same, "different": different, "after fence": afterFence, "old": old} {
		if !r.pending() {
			t.Fatalf("%s answered while the batch it depends on was still being fsynced", name)
		}
	}
	release()
	for _, c := range []struct {
		name string
		r    addResult
		want error
	}{
		{"held", held, nil},
		{"identical resend of the in-flight entry", same, nil},
		{"different bytes for the in-flight entry", different, ErrDuplicateEntry},
		{"add after the in-flight fence", afterFence, ErrFenced},
		{"identical resend of a stored entry", old, nil},
	} {
		if err := c.r.get(t); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if err := <-fenced; err != nil {
		t.Fatal(err)
	}
	if e, err := s.Read(1, 1); err != nil || string(e.Payload) != "in flight" {
		t.Fatalf("entry 1: %q %v", e.Payload, err)
	}
}

// TestCrashBetweenCommitAndSync crashes while one batch is inside its fsync and a second
// one has been committed (applied to Pebble's memtable and WAL buffer) behind it:
// nothing of either was acknowledged, and neither survives a crash that keeps only
// synced data; everything acknowledged before does.
func TestCrashBetweenCommitAndSync(t *testing.T) {
	mem := vfs.NewCrashableMem()
	gate := &syncGate{}
	s, err := Open("db", Options{FS: errorfs.Wrap(mem, gate)})
	if err != nil {
		t.Fatal(err)
	}
	for e := int64(0); e < 10; e++ {
		mustAdd(t, s, mkAdd(1, e, e-1, fmt.Sprint("acked ", e)))
	}
	batches := applied(s)
	a := newAnswers()
	reached, release := gate.arm()
	a.add(s, "1/10", mkAdd(1, 10, 9, "syncing"))
	waitCh(t, reached, "the fsync of entry 10")
	a.add(s, "1/11", mkAdd(1, 11, 10, "committed"))
	a.fence(s, "fence 2", 2)
	appliedOps(t, batches, 3)
	// The second batch is committed: Pebble serves it already (as it does between any
	// commit and its fsync). It is not acknowledged.
	if e, err := s.Read(1, 11); err != nil || string(e.Payload) != "committed" {
		t.Fatalf("committed entry 11 before its fsync: %q %v", e.Payload, err)
	}
	if n := a.count(); n != 0 {
		t.Fatalf("%d ops answered before their fsync", n)
	}

	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	release()
	if got := a.wait(t, 3); fmt.Sprint(got) != "[1/10 1/11 fence 2]" {
		t.Fatalf("answer order %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open("db", Options{FS: crashed})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	for e := int64(0); e < 10; e++ {
		if got, err := s.Read(1, e); err != nil || string(got.Payload) != fmt.Sprint("acked ", e) {
			t.Fatalf("acknowledged entry %d after crash: %q %v", e, got.Payload, err)
		}
	}
	for e := int64(10); e <= 11; e++ {
		if _, err := s.Read(1, e); !errors.Is(err, ErrNoSuchEntry) {
			t.Fatalf("unsynced entry %d after a crash that dropped unsynced data: %v", e, err)
		}
	}
	if st, _ := s.State(1); st != (LedgerState{LAC: 8, LastEntry: 9}) {
		t.Fatalf("ledger 1 after crash: %+v", st)
	}
	if _, known := s.State(2); known {
		t.Fatal("an unacknowledged fence survived a crash that dropped unsynced data")
	}
}

// TestCrashRandomizedPipelined crashes while the WAL fsync covering several pipelined
// batches is in progress — they are written to the WAL file but not synced — with a
// random share of that unsynced data kept. The batch fsynced and acknowledged just
// before survives, as does everything before it; of the rest, what survives is a prefix
// of the queue (Pebble replays its WAL up to the first torn record, and the batches are
// in queue order) made of whole batches, and the ledger state agrees with the entries.
func TestCrashRandomizedPipelined(t *testing.T) {
	rng := testenv.Rand(t)
	outcomes := map[string]int{}
	for round := 0; round < 30; round++ {
		mem := vfs.NewCrashableMem()
		gate := &syncGate{}
		// Deep enough for every op to be applied behind the held fsync, however the
		// builder splits them into batches.
		s, err := Open("db", Options{FS: errorfs.Wrap(mem, gate), batchesInFlight: 8})
		if err != nil {
			t.Fatal(err)
		}
		acked := 1 + rng.IntN(20)
		for e := 0; e < acked; e++ {
			mustAdd(t, s, mkAdd(1, int64(e), int64(e-1), fmt.Sprint("acked ", e)))
		}
		batches := applied(s)
		a := newAnswers()
		reached, release := gate.arm()
		a.add(s, "held", mkAdd(1, int64(acked), int64(acked-1), "acked in flight"))
		waitCh(t, reached, "fsync")
		// One to three more entries and then a fence, in one or more batches behind it.
		more := 1 + rng.IntN(3)
		for i := 1; i <= more; i++ {
			a.add(s, fmt.Sprint("more ", i), mkAdd(1, int64(acked+i), int64(acked+i-1), fmt.Sprint("unacked ", i)))
		}
		a.fence(s, "fence", 3)
		appliedOps(t, batches, 2+more)
		// Let the held fsync finish and hold the next one, which covers everything else.
		reached, release2 := gate.arm()
		release()
		waitCh(t, reached, "the fsync of the pipelined batches")
		if got := a.wait(t, 1); fmt.Sprint(got) != "[held]" {
			t.Fatalf("answers before the second fsync: %v", got)
		}
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(rng.Uint64(), 0))})
		release2()
		a.wait(t, 1+more)
		s.Close()

		s, err = Open("db", Options{FS: crashed})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		last := int64(-1)
		for e := int64(0); e <= int64(acked+more); e++ {
			got, err := s.Read(1, e)
			switch {
			case err == nil && e < int64(acked) && string(got.Payload) == fmt.Sprint("acked ", e):
			case err == nil && e == int64(acked) && string(got.Payload) == "acked in flight":
			case err == nil && e > int64(acked) && string(got.Payload) == fmt.Sprint("unacked ", e-int64(acked)):
			case errors.Is(err, ErrNoSuchEntry) && e > int64(acked):
				// Lost; then so must be everything queued after it.
				for f := e + 1; f <= int64(acked+more); f++ {
					if _, err := s.Read(1, f); !errors.Is(err, ErrNoSuchEntry) {
						t.Fatalf("round %d: entry %d survived but entry %d, queued before it, did not", round, f, e)
					}
				}
				e = int64(acked + more) // stop
				continue
			default:
				t.Fatalf("round %d: entry %d: %q %v", round, e, got.Payload, err)
			}
			last = e
		}
		st, _ := s.State(1)
		if st.LastEntry != last || st.LAC != last-1 || st.Fenced {
			t.Fatalf("round %d: ledger 1 state %+v with entries up to %d", round, st, last)
		}
		st3, fenced := s.State(3)
		if fenced && (!st3.Fenced || last != int64(acked+more)) {
			t.Fatalf("round %d: the fence survived (%+v) but entries only up to %d of %d", round, st3, last, acked+more)
		}
		outcomes[fmt.Sprintf("%d of %d unacknowledged entries kept, fence kept %v", last-int64(acked), more, fenced)]++
		s.Close()
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestAckImpliesDurable runs concurrent writers on several ledgers against the real
// pipeline (no gate) and, at every 25th answer, takes a crash image that keeps only
// synced data. Each image must hold every entry acknowledged before it was taken, and
// each ledger's adds must be answered in entry order.
func TestAckImpliesDurable(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s, err := Open("db", Options{FS: mem})
	if err != nil {
		t.Fatal(err)
	}
	const (
		ledgers  = 4
		perLedgr = 300
		inflight = 24
	)
	type image struct {
		fs    *vfs.MemFS
		acked [ledgers]int64 // highest acknowledged entry per ledger when taken
	}
	var (
		mu     sync.Mutex
		acked  [ledgers]int64
		images []image
		n      int
		failed error
	)
	for i := range acked {
		acked[i] = -1
	}
	var wg sync.WaitGroup
	for l := range ledgers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots := make(chan struct{}, inflight)
			for e := range int64(perLedgr) {
				slots <- struct{}{}
				s.AddAsync(mkAdd(uint64(l+1), e, e-1, fmt.Sprintf("l%d e%d", l, e)), func(err error) {
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err != nil && failed == nil:
						failed = err
					case e != acked[l]+1 && failed == nil:
						failed = fmt.Errorf("ledger %d: entry %d answered after entry %d", l+1, e, acked[l])
					}
					acked[l] = e
					if n++; n%25 == 0 {
						// Runs on the completer: the image is taken before any later answer.
						images = append(images, image{mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}), acked})
					}
					<-slots
				})
			}
			for range inflight {
				slots <- struct{}{}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if failed != nil {
		t.Fatal(failed)
	}
	st := s.Stats()
	t.Logf("%d entries in %d synced batches; %d crash images", st.Entries, st.Syncs, len(images))
	for i, img := range images {
		s, err := Open("db", Options{FS: img.fs})
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		for l := range ledgers {
			for e := int64(0); e <= img.acked[l]; e++ {
				if _, err := s.Read(uint64(l+1), e); err != nil {
					t.Fatalf("image %d: entry %d of ledger %d was acknowledged before the image but is lost: %v", i, e, l+1, err)
				}
			}
			if st, _ := s.State(uint64(l + 1)); st.LastEntry < img.acked[l] {
				t.Fatalf("image %d: ledger %d state %+v behind acknowledged entry %d", i, l+1, st, img.acked[l])
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// failingWALSync fails every WAL fsync once armed.
type failingWALSync struct {
	mu    sync.Mutex
	armed bool
}

func (f *failingWALSync) String() string { return "failingWALSync" }

func (f *failingWALSync) MaybeError(op errorfs.Op) error {
	switch op.Kind {
	case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
	default:
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed && strings.HasSuffix(op.Path, ".log") {
		return errors.New("injected WAL fsync failure")
	}
	return nil
}

const fatalChildEnv = "STRATA_STORE_FATAL_CHILD"

// TestWALSyncFailureIsFatal: a failed WAL fsync ends the process, and the add it was to
// cover is never acknowledged. The store runs in a child process (this test binary
// re-run), which must die with the store's message.
func TestWALSyncFailureIsFatal(t *testing.T) {
	if os.Getenv(fatalChildEnv) == "1" {
		walSyncFailureChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWALSyncFailureIsFatal$", "-test.count=1")
	cmd.Env = append(os.Environ(), fatalChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("child did not fail: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "stored before the failure") {
		t.Fatalf("child did not get to the failing add:\n%s", out)
	}
	if strings.Contains(string(out), "ACKNOWLEDGED") {
		t.Fatalf("an add was acknowledged although its fsync failed:\n%s", out)
	}
	if !strings.Contains(string(out), "store: WAL fsync failed") && !strings.Contains(string(out), "pebble: fatal commit error") {
		t.Fatalf("child died without the store's message:\n%s", out)
	}
}

func walSyncFailureChild() {
	inj := &failingWALSync{}
	s, err := Open("db", Options{FS: errorfs.Wrap(vfs.NewMem(), inj)})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(0) // the parent fails on a clean exit
	}
	ch := make(chan error, 1)
	s.AddAsync(mkAdd(1, 0, -1, "ok"), func(err error) { ch <- err })
	if err := <-ch; err != nil {
		fmt.Println("first add:", err)
		os.Exit(0)
	}
	fmt.Println("stored before the failure")
	inj.mu.Lock()
	inj.armed = true
	inj.mu.Unlock()
	s.AddAsync(mkAdd(1, 1, 0, "never durable"), func(err error) {
		if err == nil {
			fmt.Println("ACKNOWLEDGED")
		}
		ch <- err
	})
	select {
	case err := <-ch:
		fmt.Println("the add was answered instead of the process ending:", err)
	case <-time.After(failsafe):
		fmt.Println("the process did not end")
	}
	os.Exit(0)
}
