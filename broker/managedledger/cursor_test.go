package managedledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
)

// TestCursorInitialPosition: a cursor created at Earliest starts at the first entry
// still in the log; one created at Latest starts right after LastConfirmed, also on an
// empty topic and on a topic whose current ledger is still empty.
func TestCursorInitialPosition(t *testing.T) {
	c := newCluster(t, 1)
	ctx := testCtx(t)
	ml := open(t, c.factory(Config{MaxEntriesPerLedger: 3}), "persistent://t/ns/initial")

	// Empty topic.
	early, created, err := ml.OpenCursor(ctx, "early", Earliest)
	if err != nil || !created {
		t.Fatalf("OpenCursor: created %v, %v", created, err)
	}
	late, _, err := ml.OpenCursor(ctx, "late", Latest)
	if err != nil {
		t.Fatal(err)
	}
	p0, err := addSync(t, ml, []byte("e0"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cur := range []*Cursor{early, late} {
		if got, ok := firstUnacked(cur, ml.LastConfirmed()); !ok || got != p0 {
			t.Fatalf("cursor %s on an empty topic: first unacked %v %v, want %v", cur.Name(), got, ok, p0)
		}
	}

	// Three ledgers of 3 entries; the third add rolled over, so the current ledger
	// is empty right after it.
	var pos []Position
	for i := 1; i < 9; i++ {
		p, err := addSync(t, ml, fmt.Appendf(nil, "e%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p)
	}
	for _, tc := range []struct {
		name    string
		initial InitialPosition
		want    Position // first unacked once one more entry is added
	}{
		{"earliest2", Earliest, p0},
		{"latest2", Latest, Position{}}, // the entry added below
	} {
		cur, created, err := ml.OpenCursor(ctx, tc.name, tc.initial)
		if err != nil || !created {
			t.Fatalf("OpenCursor %s: created %v, %v", tc.name, created, err)
		}
		if tc.initial == Latest {
			if _, ok := firstUnacked(cur, ml.LastConfirmed()); ok {
				t.Fatalf("latest cursor has a backlog before any new entry")
			}
			if cur.Backlog() != 0 {
				t.Fatalf("latest cursor backlog %d", cur.Backlog())
			}
		}
		p, err := addSync(t, ml, []byte("new"))
		if err != nil {
			t.Fatal(err)
		}
		want := tc.want
		if tc.initial == Latest {
			want = p
		}
		if got, ok := firstUnacked(cur, ml.LastConfirmed()); !ok || got != want {
			t.Fatalf("cursor %s: first unacked %v %v, want %v", tc.name, got, ok, want)
		}
	}
	// Opening an existing cursor returns it, whatever the initial position.
	again, created, err := ml.OpenCursor(ctx, "late", Earliest)
	if err != nil || created || again != late {
		t.Fatalf("reopening a cursor: %p created %v %v, want %p", again, created, err, late)
	}
}

// TestCursorPersistence: individual, cumulative and batch acks survive a flush and a
// reopen by a new owner; a deleted cursor stays deleted; a non-durable cursor is never
// persisted.
func TestCursorPersistence(t *testing.T) {
	c := newCluster(t, 1)
	ctx := testCtx(t)
	const topic = "persistent://t/ns/cursors"
	cfg := Config{MaxEntriesPerLedger: 4, CursorFlushInterval: 1 << 40} // flushes only when asked
	ml := open(t, c.factory(cfg), topic)
	sub, _, err := ml.OpenCursor(ctx, "sub", Earliest)
	if err != nil {
		t.Fatal(err)
	}
	doomed, _, err := ml.OpenCursor(ctx, "doomed", Earliest)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := ml.NewNonDurableCursor(cursor.Earliest())
	if err != nil {
		t.Fatal(err)
	}
	var pos []Position
	for i := range 14 {
		p, err := addSync(t, ml, fmt.Appendf(nil, "m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p)
	}
	// Batch entry 9 has 10 messages; messages 0..4 are acknowledged (wire ack_set: set
	// bits are the unacknowledged ones).
	unackedHalf := []int64{0b1111100000}
	steps := []struct {
		name string
		do   func() error
	}{
		{"individual 3,5,12", func() error { return sub.AckIndividual(pos[3], pos[5], pos[12]) }},
		{"cumulative 1", func() error { return sub.AckCumulative(pos[1]) }},
		{"batch 9", func() error { return sub.AckBatch(pos[9], 10, unackedHalf) }},
		{"individual 2 (mark-delete moves over 3)", func() error { return sub.AckIndividual(pos[2]) }},
		{"doomed cumulative 6", func() error { return doomed.AckCumulative(pos[6]) }},
		{"reader cumulative 10", func() error { return reader.AckCumulative(pos[10]) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if md := sub.MarkDelete(); md != pos[3] {
		t.Fatalf("mark-delete %v, want %v", md, pos[3])
	}
	wantBacklog := sub.Backlog()
	if err := ml.DeleteCursor(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	ml.FlushCursors(ctx)
	if _, ok := ml.Cursors()["doomed"]; ok {
		t.Fatal("deleted cursor still listed")
	}
	// Acks after delete do not bring it back.
	_ = doomed.AckCumulative(pos[8])
	ml.FlushCursors(ctx)
	if _, err := c.store.Get(ctx, ml.cursorKey("doomed")); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleted cursor's record: %v", err)
	}
	// Only the durable cursors are in etcd.
	vals, _, err := c.store.List(ctx, ml.cursorKey(""))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vals {
		names = append(names, v.Key[len(ml.cursorKey("")):])
	}
	if !slices.Equal(names, []string{"sub"}) {
		t.Fatalf("persisted cursors %v, want [sub]", names)
	}
	if err := ml.Close(ctx); err != nil {
		t.Fatal(err)
	}

	ml2 := open(t, c.factory(cfg), topic)
	curs := ml2.Cursors()
	if len(curs) != 1 || curs["sub"] == nil {
		t.Fatalf("after reopen: cursors %v, want only sub", curs)
	}
	got := curs["sub"]
	if !got.Durable() || got.Name() != "sub" {
		t.Fatalf("restored cursor: durable %v name %q", got.Durable(), got.Name())
	}
	if md := got.MarkDelete(); md != pos[3] {
		t.Fatalf("restored mark-delete %v, want %v", md, pos[3])
	}
	for i, p := range pos {
		want := i <= 3 || i == 5 || i == 12
		if got.IsAcked(p) != want {
			t.Errorf("restored IsAcked(%v) = %v, want %v", p, !want, want)
		}
	}
	if set := got.BatchAckSet(pos[9]); !slices.Equal(set, unackedHalf) {
		t.Errorf("restored batch ack set %b, want %b", set, unackedHalf)
	}
	if b := got.Backlog(); b != wantBacklog {
		t.Errorf("restored backlog %d, want %d", b, wantBacklog)
	}
	// The rest of the batch, then a cumulative batch ack of entry 11's first half.
	if err := got.AckBatch(pos[9], 10, []int64{0}); err != nil {
		t.Fatal(err)
	}
	if !got.IsAcked(pos[9]) {
		t.Fatal("a fully acknowledged batch is not acked")
	}
	if err := got.AckCumulativeBatch(pos[11], 4, []int64{0b1100}); err != nil {
		t.Fatal(err)
	}
	if md := got.MarkDelete(); md != pos[10] {
		t.Fatalf("mark-delete after cumulative batch ack %v, want %v", md, pos[10])
	}
	ml2.FlushCursors(ctx)
	if err := ml2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ml3 := open(t, c.factory(cfg), topic)
	got3 := ml3.Cursors()["sub"]
	if md := got3.MarkDelete(); md != pos[10] {
		t.Fatalf("mark-delete after second reopen %v, want %v", md, pos[10])
	}
	if set := got3.BatchAckSet(pos[11]); !slices.Equal(set, []int64{0b1100}) {
		t.Fatalf("batch ack set after second reopen %b", set)
	}
	if !got3.IsAcked(pos[12]) || got3.IsAcked(pos[13]) {
		t.Fatal("individual acks above mark-delete lost")
	}
}

// TestCursorFlushRaces: the periodic flush, explicit flushes, acks and cursor
// deletion run concurrently without the managed ledger mistaking its own writes for
// another owner's (which would fence it).
func TestCursorFlushRaces(t *testing.T) {
	rng := testenv.Rand(t)
	c := newCluster(t, 1)
	ctx := testCtx(t)
	ml := open(t, c.factory(Config{CursorFlushInterval: time.Millisecond}), "persistent://t/ns/flushrace")
	var pos []Position
	a := newAppender(t, ml)
	a.run(payloads(rng, "fr", 3000, 8), 1, 256)
	_, pos = a.acked(true)
	var curs []*Cursor
	for i := range 4 {
		cur, _, err := ml.OpenCursor(ctx, fmt.Sprintf("s%d", i), Earliest)
		if err != nil {
			t.Fatal(err)
		}
		curs = append(curs, cur)
	}
	order := rng.Perm(len(pos))
	var wg sync.WaitGroup
	acking := make(chan struct{})
	// Flushers: FlushCursors back to back from several goroutines (the periodic flush
	// runs too), racing each other and the acks below.
	var flushers sync.WaitGroup
	for range 3 {
		flushers.Go(func() {
			for {
				select {
				case <-acking:
					return
				default:
				}
				ml.FlushCursors(ctx)
			}
		})
	}
	for i, cur := range curs {
		wg.Go(func() {
			for j, k := range order {
				if err := cur.AckIndividual(pos[k]); err != nil {
					t.Errorf("ack: %v", err)
					return
				}
				if i == 3 && j == len(order)/2 {
					if err := ml.DeleteCursor(ctx, cur.Name()); err != nil {
						t.Errorf("delete: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(acking)
	flushers.Wait()
	ml.FlushCursors(ctx)
	if _, err := addSync(t, ml, []byte("still the owner")); err != nil {
		t.Fatalf("add after concurrent flushes: %v", err)
	}
	if _, ok := ml.Cursors()["s3"]; ok {
		t.Fatal("deleted cursor came back")
	}
	// Concurrent OpenCursor of one name: one creates it, the others get the same one.
	var mu sync.Mutex
	got := map[*Cursor]int{}
	news := 0
	var owners sync.WaitGroup
	for range 4 {
		owners.Go(func() {
			cur, isNew, err := ml.OpenCursor(ctx, "race", Latest)
			if err != nil {
				t.Errorf("concurrent OpenCursor: %v", err)
				return
			}
			mu.Lock()
			got[cur]++
			if isNew {
				news++
			}
			mu.Unlock()
		})
	}
	owners.Wait()
	if news != 1 || len(got) != 1 {
		t.Fatalf("concurrent OpenCursor: %d created it, %d distinct cursors", news, len(got))
	}
}

// TestLargeCursorSnapshot: acknowledging every other entry of 200,000 entries over 20
// ledgers makes a snapshot larger than the 64 KiB inline limit: it goes to a cursor
// ledger, a new owner restores it from there, and the next flush replaces that ledger
// and deletes it.
func TestLargeCursorSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 entries")
	}
	c := newCluster(t, 1)
	ctx := testCtx(t)
	const topic = "persistent://t/ns/large"
	cfg := Config{MaxEntriesPerLedger: 10_000, CursorFlushInterval: 1 << 40}
	ml := open(t, c.factory(cfg), topic)
	sub, _, err := ml.OpenCursor(ctx, "sub", Earliest)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	pos := make([]Position, n)
	var failed error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2000)
	payload := []byte("12345678")
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		ml.AsyncAdd(payload, func(p Position, err error) {
			pos[i] = p
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
			<-sem
			wg.Done()
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	if l := len(ledgerCounts(pos)); l < 10 {
		t.Fatalf("200,000 entries in %d ledgers", l)
	}
	for i := 1; i < n; i += 2 {
		if err := sub.AckIndividual(pos[i]); err != nil {
			t.Fatal(err)
		}
	}
	sub.mu.Lock()
	size := sub.state.EncodedSize()
	snap := sub.state.Marshal()
	sub.mu.Unlock()
	if size <= inlineSnapshotMax {
		t.Fatalf("snapshot of %d bytes fits inline; the test needs a larger one", size)
	}
	ml.FlushCursors(ctx)
	rec := cursorRecordOf(t, c, ml.cursorKey("sub"))
	if rec.SnapshotLedger == 0 || rec.Snapshot != "" {
		t.Fatalf("a %d-byte snapshot was stored inline", size)
	}
	if !c.ledgerExists(t, rec.SnapshotLedger) {
		t.Fatalf("cursor ledger %d does not exist", rec.SnapshotLedger)
	}
	if err := ml.Close(ctx); err != nil {
		t.Fatal(err)
	}

	ml2 := open(t, c.factory(cfg), topic)
	got := ml2.Cursors()["sub"]
	got.mu.Lock()
	restored := got.state.Marshal()
	got.mu.Unlock()
	if !bytes.Equal(restored, snap) {
		t.Fatalf("restored snapshot differs (%d bytes, want %d)", len(restored), len(snap))
	}
	if b := got.Backlog(); b != n/2 {
		t.Fatalf("restored backlog %d, want %d", b, n/2)
	}
	if md := got.MarkDelete(); md != cursor.Earliest() {
		t.Fatalf("restored mark-delete %v", md)
	}
	if !got.IsAcked(pos[n-1]) || got.IsAcked(pos[n-2]) {
		t.Fatal("restored acks wrong at the end")
	}
	// Next flush: a new cursor ledger, the old one deleted.
	if err := got.AckIndividual(pos[0]); err != nil {
		t.Fatal(err)
	}
	if md := got.MarkDelete(); md != pos[1] {
		t.Fatalf("mark-delete %v, want %v", md, pos[1])
	}
	ml2.FlushCursors(ctx)
	rec2 := cursorRecordOf(t, c, ml2.cursorKey("sub"))
	if rec2.SnapshotLedger == 0 || rec2.SnapshotLedger == rec.SnapshotLedger {
		t.Fatalf("cursor ledger after the next flush: %d (was %d)", rec2.SnapshotLedger, rec.SnapshotLedger)
	}
	if c.ledgerExists(t, rec.SnapshotLedger) {
		t.Fatalf("old cursor ledger %d still exists after the next flush", rec.SnapshotLedger)
	}
	// Deleting the cursor deletes its ledger too.
	if err := ml2.DeleteCursor(ctx, "sub"); err != nil {
		t.Fatal(err)
	}
	if c.ledgerExists(t, rec2.SnapshotLedger) {
		t.Fatalf("cursor ledger %d survives its cursor", rec2.SnapshotLedger)
	}
}

func cursorRecordOf(t testing.TB, c *cluster, key string) cursorRecord {
	t.Helper()
	v, err := c.store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var rec cursorRecord
	if err := json.Unmarshal(v.Data, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}
