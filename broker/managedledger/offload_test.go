package managedledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/tiered"
	"github.com/strata-io/strata/tiered/fs"
	"github.com/strata-io/strata/tiered/memstore"
	"github.com/strata-io/strata/tiered/offload"
)

// faultyStore wraps a real store and fails on demand: down fails every call; holdPuts
// stores a Put's object and then holds the Put until its context ends (an offloader
// that dies after its upload, before it recorded anything); failDeletes fails deletes.
type faultyStore struct {
	tiered.ObjectStore
	down, holdPuts, failDeletes atomic.Bool
	held                        chan string   // a held Put's key, once stored
	release                     chan struct{} // closed: held Puts succeed
}

var errStoreDown = errors.New("test store down")

func (s *faultyStore) Put(ctx context.Context, key string, body io.Reader) error {
	if s.down.Load() {
		return errStoreDown
	}
	if !s.holdPuts.Load() {
		return s.ObjectStore.Put(ctx, key, body)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if err := s.ObjectStore.Put(ctx, key, bytes.NewReader(data)); err != nil {
		return err
	}
	s.held <- key
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.release:
		return nil
	}
}

func (s *faultyStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if s.down.Load() {
		return nil, errStoreDown
	}
	return s.ObjectStore.GetRange(ctx, key, off, n)
}

func (s *faultyStore) Stat(ctx context.Context, key string) (tiered.ObjectInfo, error) {
	if s.down.Load() {
		return tiered.ObjectInfo{}, errStoreDown
	}
	return s.ObjectStore.Stat(ctx, key)
}

func (s *faultyStore) List(ctx context.Context, prefix string) iter.Seq2[tiered.ObjectInfo, error] {
	if s.down.Load() {
		return func(yield func(tiered.ObjectInfo, error) bool) { yield(tiered.ObjectInfo{}, errStoreDown) }
	}
	return s.ObjectStore.List(ctx, prefix)
}

func (s *faultyStore) Delete(ctx context.Context, key string) error {
	if s.down.Load() || s.failDeletes.Load() {
		return errStoreDown
	}
	return s.ObjectStore.Delete(ctx, key)
}

// offloadConfig is a Config offloading to store, with small ledgers, no tailing cache
// (so reads reach the entry readers), the test clock and a fast tick.
func offloadConfig(store tiered.ObjectStore, clk *testClock) Config {
	return Config{
		MaxEntriesPerLedger: 10, CacheBytes: 1, Now: clk.Now,
		CursorFlushInterval: 5 * time.Millisecond,
		Offload:             OffloadConfig{Store: store, Driver: "memory", Bucket: "b", Prefix: "offload/", BlockSize: 256},
	}
}

// offloadBacklog writes n entries to a new topic held by a durable cursor at the start,
// and returns the payloads and positions.
func offloadBacklog(t *testing.T, f *Factory, name string, n int) (*ManagedLedger, [][]byte, []Position) {
	t.Helper()
	ml := open(t, f, name)
	if _, _, err := ml.OpenCursor(testCtx(t), "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, ml)
	a.run(payloads(testenv.Rand(t), name, n, 60), 1, 1) // one at a time: 10 entries a ledger
	data, pos := a.acked(true)
	waitTasks(ml)
	return ml, data, pos
}

// offloadedIDs returns the ids of ledgers whose offload is complete.
func offloadedIDs(ml *ManagedLedger) []int64 {
	var out []int64
	for _, li := range ml.Info().Ledgers {
		if li.Offload.Complete() {
			out = append(out, li.ID)
		}
	}
	return out
}

// closedIDs returns the ids of the closed ledgers before the current one.
func closedIDs(ml *ManagedLedger) []int64 {
	ls := ml.Info().Ledgers
	var out []int64
	for _, li := range ls[:len(ls)-1] {
		out = append(out, li.ID)
	}
	return out
}

func waitStatus(t *testing.T, ml *ManagedLedger) OffloadStatus {
	t.Helper()
	var st OffloadStatus
	waitFor(t, "manual offload ends", func() bool {
		st = ml.OffloadStatus()
		return st.Status != OffloadRunning
	})
	return st
}

func objectKeys(t *testing.T, s tiered.ObjectStore, prefix string) []string {
	t.Helper()
	var keys []string
	for oi, err := range s.List(testCtx(t), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, oi.Key)
	}
	return keys
}

// TestOffloadManualReadsAndDeletionLag: a manual offload copies every closed ledger;
// every entry reads back byte-equal from the store — before the deletion lag, after it
// deleted the bookie copies, and through a new owner's managed ledger.
func TestOffloadManualReadsAndDeletionLag(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := memstore.New()
	f := c.factory(offloadConfig(store, clk))
	name := "persistent://t/ns/manual"
	ml, data, pos := offloadBacklog(t, f, name, 55)
	closed := closedIDs(ml)
	if len(closed) < 5 {
		t.Fatalf("55 adds made %d closed ledgers", len(closed))
	}
	if st := ml.OffloadStatus(); st.Status != OffloadNotRun {
		t.Fatalf("status before any offload: %+v", st)
	}
	if err := ml.Offload(ml.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, ml)
	cur := ml.Info().Ledgers[len(ml.Info().Ledgers)-1].ID
	if st.Status != OffloadSuccess || st.FirstUnoffloaded != (Position{Ledger: cur}) {
		t.Fatalf("status %+v, want SUCCESS at (%d, 0)", st, cur)
	}
	if got := offloadedIDs(ml); fmt.Sprint(got) != fmt.Sprint(closed) {
		t.Fatalf("offloaded %v, want %v", got, closed)
	}
	var size int64
	for _, li := range ml.Info().Ledgers {
		if li.Offload.Complete() {
			size += li.Size
			o := li.Offload
			if o.Driver != "memory" || o.Bucket != "b" || o.Prefix != "offload" || o.CompleteMillis != clk.Now().UnixMilli() || o.BookieDeleted {
				t.Fatalf("ledger %d offload state %+v", li.ID, o)
			}
			if !c.ledgerExists(t, li.ID) {
				t.Fatalf("ledger %d deleted from the bookies before the lag", li.ID)
			}
			// The object holds the ledger metadata, to re-index a bucket without etcd.
			r, err := offload.Open(testCtx(t), store, stateKey(name, li.ID, o))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(r.Index().Metadata, []byte(`"length"`)) {
				t.Fatalf("object of ledger %d has metadata %q", li.ID, r.Index().Metadata)
			}
		}
	}
	if got := ml.OffloadedSize(); got != size || size == 0 {
		t.Fatalf("OffloadedSize %d, want %d", got, size)
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 7), data, pos)
	m := f.OffloadMetrics()
	if m.OffloadedBytes != size || m.ReadBytes == 0 || m.ReadCount == 0 || m.ReadErrors != 0 || m.OffloadErrors != 0 {
		t.Fatalf("metrics %+v (offloaded %d bytes)", m, size)
	}

	// The deletion lag passes: the bookie copies go, reads come from the store only.
	p := DefaultOffloadPolicy()
	p.DeletionLag = time.Hour
	ml.SetOffloadPolicy(p)
	waitTasks(ml)
	if ls := ml.Info().Ledgers; ls[0].Offload.BookieDeleted {
		t.Fatal("bookie copy deleted before the lag")
	}
	clk.advance(time.Hour)
	waitFor(t, "bookie copies deleted after the lag", func() bool {
		for _, id := range closed {
			if c.ledgerExists(t, id) {
				return false
			}
		}
		return true
	})
	for _, li := range ml.Info().Ledgers[:len(closed)] {
		if !li.Offload.BookieDeleted {
			t.Fatalf("ledger %d deleted from the bookies but not marked so", li.ID)
		}
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 3), data, pos)

	// A new owner reads them all from the store too.
	f2 := c.factory(offloadConfig(store, clk))
	ml2 := open(t, f2, name)
	checkEntries(t, readAll(t, ml2, cursor.Earliest(), 10), data, pos)
	if m := f2.OffloadMetrics(); m.ReadBytes == 0 {
		t.Fatalf("new owner read nothing from the store: %+v", m)
	}
	// A second manual offload has nothing left to do.
	if err := ml2.Offload(ml2.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, ml2); st.Status != OffloadSuccess {
		t.Fatalf("second offload: %+v", st)
	}
}

// TestOffloadBySize: ThresholdBytes keeps about that many bytes of closed ledgers on the
// bookies, the newest ones; the rest is offloaded (here to the filesystem store).
func TestOffloadBySize(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := c.factory(offloadConfig(store, clk))
	ml, data, pos := offloadBacklog(t, f, "persistent://t/ns/bysize", 60)
	ls := ml.Info().Ledgers
	closed := ls[:len(ls)-1]
	if len(closed) < 5 {
		t.Fatalf("%d closed ledgers", len(closed))
	}
	// Keep the newest two on the bookies: the sum passes the threshold at the third.
	keep := closed[len(closed)-1].Size + closed[len(closed)-2].Size
	p := DefaultOffloadPolicy()
	p.ThresholdBytes = keep
	ml.SetOffloadPolicy(p)
	var want []int64
	for _, li := range closed[:len(closed)-2] {
		want = append(want, li.ID)
	}
	waitFor(t, "offload by size", func() bool { return fmt.Sprint(offloadedIDs(ml)) == fmt.Sprint(want) })
	waitTasks(ml)
	if got := offloadedIDs(ml); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("offloaded %v, want %v", got, want)
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 4), data, pos)
}

// TestOffloadByTime: ThresholdSeconds offloads the ledgers closed longer ago than that,
// checked by the periodic tick on the injected clock.
func TestOffloadByTime(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := memstore.New()
	f := c.factory(offloadConfig(store, clk))
	ml, data, pos := offloadBacklog(t, f, "persistent://t/ns/bytime", 52)
	p := DefaultOffloadPolicy()
	p.ThresholdSeconds = 600
	ml.SetOffloadPolicy(p)
	waitTasks(ml)
	if got := offloadedIDs(ml); len(got) != 0 {
		t.Fatalf("offloaded %v before any ledger was 10 min old", got)
	}
	clk.advance(11 * time.Minute) // and past the one-minute check interval
	closed := closedIDs(ml)
	waitFor(t, "offload by time", func() bool { return fmt.Sprint(offloadedIDs(ml)) == fmt.Sprint(closed) })
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 9), data, pos)
}

// TestOffloadIdleRollover: with a threshold on, a current ledger idle for IdleRollover
// is rolled over (through the add state machine), closed and offloaded; adds go on in
// the next ledger.
func TestOffloadIdleRollover(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := memstore.New()
	f := c.factory(offloadConfig(store, clk))
	ml, data, pos := offloadBacklog(t, f, "persistent://t/ns/idle", 45)
	p := DefaultOffloadPolicy()
	p.ThresholdBytes = 0
	p.IdleRollover = 5 * time.Minute
	ml.SetOffloadPolicy(p)
	closed := closedIDs(ml)
	if len(closed) < 4 {
		t.Fatalf("%d closed ledgers", len(closed))
	}
	waitFor(t, "closed ledgers offloaded", func() bool { return fmt.Sprint(offloadedIDs(ml)) == fmt.Sprint(closed) })
	last := pos[len(pos)-1].Ledger
	if ls := ml.Info().Ledgers; ls[len(ls)-1].ID != last {
		t.Fatalf("current ledger %d rolled over before it was idle (last add in %d)", ls[len(ls)-1].ID, last)
	}
	clk.advance(6 * time.Minute)
	waitFor(t, "idle ledger rolled over and offloaded", func() bool {
		for _, id := range offloadedIDs(ml) {
			if id == last {
				return true
			}
		}
		return false
	})
	p2, err := addSync(t, ml, []byte("after idle"))
	if err != nil || p2.Ledger <= last {
		t.Fatalf("add after the idle rollover: %v %v", p2, err)
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 8), append(data, []byte("after idle")), append(pos, p2))
}

// TestOffloadStoreDown: an offload while the store is down fails — status ERROR, the
// ledgers stay on the bookies and are read from there — and succeeds once it is back.
func TestOffloadStoreDown(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := &faultyStore{ObjectStore: memstore.New()}
	f := c.factory(offloadConfig(store, clk))
	ml, data, pos := offloadBacklog(t, f, "persistent://t/ns/down", 50)
	store.down.Store(true)
	if err := ml.Offload(ml.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, ml)
	first := ml.Info().Ledgers[0].ID
	if st.Status != OffloadError || !strings.Contains(st.LastError, errStoreDown.Error()) || st.FirstUnoffloaded != (Position{Ledger: first}) {
		t.Fatalf("status %+v", st)
	}
	if got := offloadedIDs(ml); len(got) != 0 {
		t.Fatalf("offloaded %v with the store down", got)
	}
	if m := f.OffloadMetrics(); m.OffloadErrors == 0 || m.WriteStorageErrors == 0 {
		t.Fatalf("metrics %+v", m)
	}
	for _, id := range closedIDs(ml) {
		if !c.ledgerExists(t, id) {
			t.Fatalf("ledger %d left the bookies", id)
		}
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 6), data, pos)
	store.down.Store(false)
	if err := ml.Offload(ml.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, ml); st.Status != OffloadSuccess {
		t.Fatalf("status after the store came back: %+v", st)
	}
	if got, want := offloadedIDs(ml), closedIDs(ml); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("offloaded %v, want %v", got, want)
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 6), data, pos)
}

// TestOffloadRunningAndDisabled: a second manual offload while one runs is refused
// (ErrOffloadRunning); a Factory without a store refuses with ErrOffloadDisabled.
func TestOffloadRunningAndDisabled(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := &faultyStore{ObjectStore: memstore.New(), held: make(chan string, 1)}
	store.holdPuts.Store(true)
	f := c.factory(offloadConfig(store, clk))
	ml, _, _ := offloadBacklog(t, f, "persistent://t/ns/running", 25)
	if err := ml.Offload(ml.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	<-store.held
	if err := ml.Offload(ml.LastConfirmed()); !errors.Is(err, ErrOffloadRunning) {
		t.Fatalf("second offload: %v, want ErrOffloadRunning", err)
	}
	ml.Close(testCtx(t))
	if st := ml.OffloadStatus(); st.Status != OffloadError {
		t.Fatalf("status after close: %+v", st)
	}
	plain := open(t, c.factory(Config{}), "persistent://t/ns/plain")
	if err := plain.Offload(plain.LastConfirmed()); !errors.Is(err, ErrOffloadDisabled) {
		t.Fatalf("offload without a store: %v", err)
	}
}

// TestOffloadCrashBetweenPrepareAndComplete: an owner dies after its upload, before it
// recorded the offload complete (here: closed while the store holds the Put, and unable
// to delete the object). The next owner deletes that attempt's object and offloads the
// ledger again under a new UUID.
func TestOffloadCrashBetweenPrepareAndComplete(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	inner := memstore.New()
	store := &faultyStore{ObjectStore: inner, held: make(chan string, 1)}
	store.holdPuts.Store(true)
	store.failDeletes.Store(true)
	name := "persistent://t/ns/crash"
	f := c.factory(offloadConfig(store, clk))
	ml, data, pos := offloadBacklog(t, f, name, 50)
	first := ml.Info().Ledgers[0].ID
	if err := ml.Offload(Position{Ledger: first + 1}); err != nil {
		t.Fatal(err)
	}
	deadKey := <-store.held
	ml.Close(testCtx(t))
	li := ml.Info().Ledgers[0]
	if li.Offload == nil || li.Offload.State != OffloadBegun || stateKey(name, first, li.Offload) != deadKey {
		t.Fatalf("record after the crash: %+v (object %s)", li.Offload, deadKey)
	}
	if keys := objectKeys(t, inner, ""); len(keys) != 1 || keys[0] != deadKey {
		t.Fatalf("objects after the crash: %v", keys)
	}

	store.holdPuts.Store(false)
	store.failDeletes.Store(false)
	f2 := c.factory(offloadConfig(store, clk))
	ml2 := open(t, f2, name)
	if err := ml2.Offload(Position{Ledger: first + 1}); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, ml2); st.Status != OffloadSuccess {
		t.Fatalf("status: %+v", st)
	}
	waitTasks(ml2)
	o := ml2.Info().Ledgers[0].Offload
	if !o.Complete() || stateKey(name, first, o) == deadKey {
		t.Fatalf("offload state %+v", o)
	}
	if keys := objectKeys(t, inner, ""); len(keys) != 1 || keys[0] != stateKey(name, first, o) {
		t.Fatalf("objects %v, want only %s", keys, stateKey(name, first, o))
	}
	checkEntries(t, readAll(t, ml2, cursor.Earliest(), 10), data, pos)
}

// TestOffloadCorruptBlock: a flipped byte in a stored block is caught by its CRC: while
// the bookies hold the ledger, reads fall back to them; once the bookie copy is gone,
// the read fails with a typed error — never wrong bytes.
func TestOffloadCorruptBlock(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := memstore.New()
	name := "persistent://t/ns/corrupt"
	f := c.factory(offloadConfig(store, clk))
	ml, data, pos := offloadBacklog(t, f, name, 30)
	if err := ml.Offload(ml.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, ml); st.Status != OffloadSuccess {
		t.Fatalf("status %+v", st)
	}
	li := ml.Info().Ledgers[0]
	if err := store.Corrupt(stateKey(name, li.ID, li.Offload), offload.HeaderSize+3, 0x10); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 5), data, pos)
	if m := f.OffloadMetrics(); m.ReadErrors == 0 {
		t.Fatalf("corrupt block read without an error: %+v", m)
	}
	p := DefaultOffloadPolicy()
	p.DeletionLag = 0
	ml.SetOffloadPolicy(p)
	waitFor(t, "bookie copy deleted", func() bool { return !c.ledgerExists(t, li.ID) })
	// A new owner: nothing of the old reads is held anywhere.
	f2 := c.factory(offloadConfig(store, clk))
	ml2 := open(t, f2, name)
	_, err := ml2.ReadEntries(testCtx(t), Position{Ledger: li.ID}, 3)
	var ce *tiered.ChecksumError
	if !errors.Is(err, tiered.ErrCorrupt) || !errors.As(err, &ce) || ce.Block != 0 {
		t.Fatalf("read of the corrupt block: %v, want a checksum error of block 0", err)
	}
	// The other ledgers still read.
	next := ml2.Info().Ledgers[1].ID
	ents, err := ml2.ReadEntries(testCtx(t), Position{Ledger: next}, 100)
	if err != nil || len(ents) == 0 {
		t.Fatalf("read of ledger %d: %d entries, %v", next, len(ents), err)
	}
}

// TestOffloadOrphanSweep: the periodic sweep deletes the objects under the managed
// ledger's prefix that its record does not name as complete, and nothing else.
func TestOffloadOrphanSweep(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := memstore.New()
	name := "persistent://t/ns/sweep"
	f := c.factory(offloadConfig(store, clk))
	ml, data, pos := offloadBacklog(t, f, name, 25)
	if err := ml.Offload(ml.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, ml); st.Status != OffloadSuccess {
		t.Fatalf("status %+v", st)
	}
	ctx := testCtx(t)
	li := ml.Info().Ledgers[0]
	orphans := []string{
		objectKey("offload", name, li.ID, "00000000-dead-4000-8000-000000000000"),
		objectKey("offload", name, 999999, "00000000-dead-4000-8000-000000000001"),
	}
	other := objectKey("offload", name+"-other", li.ID, "00000000-dead-4000-8000-000000000002")
	for _, k := range append(orphans, other) {
		if err := store.Put(ctx, k, strings.NewReader("junk")); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(11 * time.Minute)
	waitFor(t, "orphans swept", func() bool { return f.OffloadMetrics().OrphansRemoved == 2 })
	for _, k := range orphans {
		if _, err := store.Stat(ctx, k); !errors.Is(err, tiered.ErrNotFound) {
			t.Fatalf("orphan %s: %v", k, err)
		}
	}
	for _, k := range []string{other, stateKey(name, li.ID, li.Offload)} {
		if _, err := store.Stat(ctx, k); err != nil {
			t.Fatalf("%s swept: %v", k, err)
		}
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 5), data, pos)
}

// TestOffloadRetentionAndTopicDelete: ledgers trim deletes take their objects with them,
// and deleting the topic deletes the rest.
func TestOffloadRetentionAndTopicDelete(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := memstore.New()
	name := "persistent://t/ns/retention"
	f := c.factory(offloadConfig(store, clk))
	ml, _, _ := offloadBacklog(t, f, name, 45)
	if err := ml.Offload(ml.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, ml); st.Status != OffloadSuccess {
		t.Fatalf("status %+v", st)
	}
	prefix := mlPrefix("offload", name)
	if n := len(objectKeys(t, store, prefix)); n != len(closedIDs(ml)) {
		t.Fatalf("%d objects for %d offloaded ledgers", n, len(closedIDs(ml)))
	}
	// Consume the first two ledgers: trim deletes them, objects included.
	ls := ml.Info().Ledgers
	cur := ml.Cursors()["hold"]
	if err := cur.AckCumulative(Position{Ledger: ls[1].ID, Entry: ls[1].Entries - 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "consumed ledgers trimmed", func() bool { return ml.Info().Ledgers[0].ID == ls[2].ID })
	waitTasks(ml)
	for _, li := range ls[:2] {
		if _, err := store.Stat(testCtx(t), stateKey(name, li.ID, li.Offload)); !errors.Is(err, tiered.ErrNotFound) {
			t.Fatalf("object of trimmed ledger %d: %v", li.ID, err)
		}
	}
	if n := len(objectKeys(t, store, prefix)); n != len(ls)-3 {
		t.Fatalf("%d objects left, want %d", n, len(ls)-3)
	}
	if err := ml.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := ml.Delete(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if keys := objectKeys(t, store, prefix); len(keys) != 0 {
		t.Fatalf("objects left after the topic was deleted: %v", keys)
	}
	if m := f.OffloadMetrics(); m.DeleteOK == 0 || m.DeleteFailed != 0 {
		t.Fatalf("metrics %+v", m)
	}
}

// TestObjectKeys: every managed-ledger name maps to one valid key component, and
// distinct names to distinct prefixes.
func TestObjectKeys(t *testing.T) {
	names := []string{"persistent://t/ns/a", "persistent://t/ns/a/b", ".", "..", "a b\\c", strings.Repeat("x/", 300), strings.Repeat("x/", 300) + "y"}
	seen := map[string]string{}
	for _, n := range names {
		k := objectKey("p", n, 7, "u")
		if err := tiered.CheckKey(k); err != nil {
			t.Fatalf("%q: %v", n, err)
		}
		pre := mlPrefix("p", n)
		if prev, ok := seen[pre]; ok {
			t.Fatalf("%q and %q share prefix %s", prev, n, pre)
		}
		seen[pre] = n
		id, uuid, ok := parseObjectName(strings.TrimPrefix(k, pre))
		if !ok || id != 7 || uuid != "u" {
			t.Fatalf("%s parsed as %d %q %v", k, id, uuid, ok)
		}
	}
	// The prefix of one name never prefixes another's.
	if strings.HasPrefix(mlPrefix("p", "persistent://t/ns/a/b"), mlPrefix("p", "persistent://t/ns/a")) {
		t.Fatal("one topic's prefix contains another's")
	}
}

// TestOffloadReadStoreDown: with the store down, an offloaded ledger still on its
// bookies is read from them (TIERED_STORAGE_FIRST falls back); once the bookie copy is
// gone, reads fail with the store's error — promptly, not a hang — and succeed, every
// entry byte-equal, when the store is back. BookkeeperFirst reads the bookies while it
// can and the store after the lag.
func TestOffloadReadStoreDown(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	store := &faultyStore{ObjectStore: memstore.New()}
	name := "persistent://t/ns/readdown"
	f := c.factory(offloadConfig(store, clk))
	ml, data, pos := offloadBacklog(t, f, name, 40)
	if err := ml.Offload(ml.LastConfirmed()); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, ml); st.Status != OffloadSuccess {
		t.Fatalf("status %+v", st)
	}
	store.down.Store(true)
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 4), data, pos)
	if m := f.OffloadMetrics(); m.ReadErrors == 0 || m.ReadBytes != 0 {
		t.Fatalf("reads with the store down: %+v", m)
	}

	// BookkeeperFirst: the bookies, without touching the store.
	store.down.Store(false)
	p := DefaultOffloadPolicy()
	p.BookkeeperFirst = true
	ml.SetOffloadPolicy(p)
	before := f.OffloadMetrics()
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 4), data, pos)
	if m := f.OffloadMetrics(); m.ReadBytes != before.ReadBytes || m.ReadCount != before.ReadCount {
		t.Fatalf("BookkeeperFirst read from the store: %+v then %+v", before, m)
	}

	// The lag passes: the store is the only copy, whatever the priority.
	p.DeletionLag = 0
	ml.SetOffloadPolicy(p)
	first := ml.Info().Ledgers[0].ID
	waitFor(t, "bookie copy deleted", func() bool { return !c.ledgerExists(t, first) })
	waitTasks(ml)
	store.down.Store(true)
	f2 := c.factory(offloadConfig(store, clk))
	ml2 := open(t, f2, name)
	ml2.SetOffloadPolicy(p)
	if _, err := ml2.ReadEntries(testCtx(t), Position{Ledger: first}, 5); !errors.Is(err, errStoreDown) {
		t.Fatalf("read with the only copy unreachable: %v, want the store's error", err)
	}
	store.down.Store(false)
	checkEntries(t, readAll(t, ml2, cursor.Earliest(), 4), data, pos)
	if m := f2.OffloadMetrics(); m.ReadBytes == 0 {
		t.Fatalf("read nothing from the store: %+v", m)
	}
}

// TestOffloadFencedOwner: an owner whose topic was taken over during its upload cannot
// record the offload complete (its CAS fails: ErrFenced, and it turns Fenced); it
// deletes its object, and the new owner offloads the ledger itself.
func TestOffloadFencedOwner(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	inner := memstore.New()
	store := &faultyStore{ObjectStore: inner, held: make(chan string, 1), release: make(chan struct{})}
	store.holdPuts.Store(true)
	name := "persistent://t/ns/fenced"
	ml, data, pos := offloadBacklog(t, c.factory(offloadConfig(store, clk)), name, 30)
	first := ml.Info().Ledgers[0].ID
	if err := ml.Offload(Position{Ledger: first + 1}); err != nil {
		t.Fatal(err)
	}
	deadKey := <-store.held
	ml2 := open(t, c.factory(offloadConfig(inner, clk)), name) // the new owner
	store.holdPuts.Store(false)
	close(store.release)
	st := waitStatus(t, ml)
	if st.Status != OffloadError || !strings.Contains(st.LastError, ErrFenced.Error()) || !ml.Fenced() {
		t.Fatalf("old owner: status %+v, fenced %t", st, ml.Fenced())
	}
	if _, err := inner.Stat(testCtx(t), deadKey); !errors.Is(err, tiered.ErrNotFound) {
		t.Fatalf("fenced owner's object: %v", err)
	}
	if err := ml2.Offload(Position{Ledger: first + 1}); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, ml2); st.Status != OffloadSuccess {
		t.Fatalf("new owner: %+v", st)
	}
	if o := ml2.Info().Ledgers[0].Offload; !o.Complete() || stateKey(name, first, o) == deadKey {
		t.Fatalf("new owner's offload state %+v", o)
	}
	checkEntries(t, readAll(t, ml2, cursor.Earliest(), 6), data, pos)
}

// TestOffloadAndTrimExclusion: trim does not delete a ledger while it is being
// offloaded (Pulsar #13219); once the offload ends, the trim it asks for deletes the
// consumed ledger from the record, the bookies and the store.
func TestOffloadAndTrimExclusion(t *testing.T) {
	c := newCluster(t, 1)
	clk := newTestClock()
	inner := memstore.New()
	store := &faultyStore{ObjectStore: inner, held: make(chan string, 1), release: make(chan struct{})}
	store.holdPuts.Store(true)
	name := "persistent://t/ns/exclusion"
	ml, _, _ := offloadBacklog(t, c.factory(offloadConfig(store, clk)), name, 30)
	first := ml.Info().Ledgers[0]
	if err := ml.Offload(Position{Ledger: first.ID + 1}); err != nil {
		t.Fatal(err)
	}
	key := <-store.held
	// Consume the first ledger while its upload is in flight.
	if err := ml.Cursors()["hold"].AckCumulative(Position{Ledger: first.ID, Entry: first.Entries - 1}); err != nil {
		t.Fatal(err)
	}
	ml.CheckRetention()
	waitFor(t, "trim pass over", func() bool {
		ml.mu.Lock()
		defer ml.mu.Unlock()
		return !ml.trimming
	})
	if ml.Info().Ledgers[0].ID != first.ID || !c.ledgerExists(t, first.ID) {
		t.Fatal("trim deleted a ledger being offloaded")
	}
	store.holdPuts.Store(false)
	close(store.release)
	if st := waitStatus(t, ml); st.Status != OffloadSuccess {
		t.Fatalf("status %+v", st)
	}
	waitFor(t, "consumed ledger trimmed after its offload", func() bool { return ml.Info().Ledgers[0].ID != first.ID })
	waitTasks(ml)
	if c.ledgerExists(t, first.ID) {
		t.Fatal("trimmed ledger still on the bookies")
	}
	if _, err := inner.Stat(testCtx(t), key); !errors.Is(err, tiered.ErrNotFound) {
		t.Fatalf("trimmed ledger's object: %v", err)
	}
}
