package managedledger

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// TestTakeover: a second broker opens the topic while the first is still writing. The
// first broker's next add fails with ErrFenced; every entry it had acknowledged is
// readable through the second, in order, and nothing it never sent appears (its
// unacknowledged tail may or may not survive recovery). The second then appends to a
// ledger of its own.
func TestTakeover(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		bookies int
	}{
		{name: "one-ledger", cfg: Config{}, bookies: 1},
		{name: "E3Qw2Qa2", cfg: Config{EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2}, bookies: 3},
		// Rolling over every few entries: the takeover can meet a rollover in progress.
		{name: "rolling", cfg: Config{MaxEntriesPerLedger: 5}, bookies: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.bookies)
			const topic = "persistent://t/ns/takeover"
			ctx := testCtx(t)
			first := open(t, c.factory(tc.cfg), topic)
			if _, _, err := first.OpenCursor(ctx, "hold", Earliest); err != nil {
				t.Fatal(err)
			}

			// The first owner writes continuously, 8 adds in flight, until an add fails;
			// the appender checks that callbacks keep call order, fenced or not.
			app := newAppender(t, first)
			var mu sync.Mutex
			var sent, acked [][]byte
			var firstErr error
			enough := make(chan struct{}) // 50 acknowledged
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				sem := make(chan struct{}, 8)
				for i := 0; ; i++ {
					sem <- struct{}{}
					mu.Lock()
					failed := firstErr != nil
					mu.Unlock()
					if failed {
						break
					}
					d := []byte(fmt.Sprintf("first-%06d", i))
					mu.Lock()
					sent = append(sent, d)
					mu.Unlock()
					app.add(d, func(r result) {
						defer func() { <-sem }()
						mu.Lock()
						defer mu.Unlock()
						if r.err != nil {
							if firstErr == nil {
								firstErr = r.err
							}
							return
						}
						acked = append(acked, d)
						if len(acked) == 50 {
							close(enough)
						}
					})
				}
				app.wait()
			}()
			select {
			case <-enough:
			case <-stopped:
				t.Fatalf("the first owner failed before the takeover: %v", firstErr)
			}

			// The second owner opens it. A rollover of the first can win the race for
			// the record; then the second gives up with ErrFenced and tries again.
			var second *ManagedLedger
			for second == nil {
				ml, err := c.factory(tc.cfg).Open(ctx, topic)
				if errors.Is(err, ErrFenced) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				second = ml
				t.Cleanup(func() { ml.Close(ctx) })
			}

			// An add the first makes now is refused as fenced.
			if _, err := addSync(t, first, []byte("after takeover")); !errors.Is(err, ErrFenced) {
				t.Fatalf("first owner's add after the takeover: %v, want ErrFenced", err)
			}
			<-stopped
			if !errors.Is(firstErr, ErrFenced) {
				t.Fatalf("first owner's writes ended with %v, want ErrFenced", firstErr)
			}
			if err := first.Close(ctx); err == nil {
				t.Log("closing the fenced owner reported no error")
			}

			got := readAll(t, second, cursor.Earliest(), 100)
			// readable ⊆ sent, in send order; acknowledged ⊆ readable.
			j := 0
			for _, e := range got {
				for j < len(sent) && !bytes.Equal(sent[j], e.Data) {
					j++
				}
				if j == len(sent) {
					t.Fatalf("read %v %q, which the first owner never sent (or out of order)", e.Pos, e.Data)
				}
				j++
			}
			readable := map[string]bool{}
			for _, e := range got {
				readable[string(e.Data)] = true
			}
			for _, d := range acked {
				if !readable[string(d)] {
					t.Fatalf("acknowledged entry %q is not readable after the takeover (%d acked, %d readable)", d, len(acked), len(got))
				}
			}
			t.Logf("sent %d, acknowledged %d, readable after takeover %d", len(sent), len(acked), len(got))

			// The second owner writes to a ledger created after the takeover.
			p, err := addSync(t, second, []byte("second"))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range got {
				if !e.Pos.Less(p) || e.Pos.Ledger == p.Ledger {
					t.Fatalf("second owner wrote at %v, in or before the first owner's %v", p, e.Pos)
				}
			}
			// And the cursor the first owner created came along.
			if _, ok := second.Cursors()["hold"]; !ok {
				t.Fatal("cursor lost in the takeover")
			}
		})
	}
}

// TestTakeoverCursors: the old owner, not yet aware of the takeover, flushes a cursor
// after the new owner loaded it. That flush must fail (and fence the old owner) rather
// than succeed and make the new owner's next flush look like a foreign write — which
// would fence the new owner instead.
func TestTakeoverCursors(t *testing.T) {
	c := newCluster(t, 1)
	ctx := testCtx(t)
	const topic = "persistent://t/ns/takeover-cursors"
	cfg := Config{CursorFlushInterval: 1 << 40}
	first := open(t, c.factory(cfg), topic)
	sub, _, err := first.OpenCursor(ctx, "sub", Earliest)
	if err != nil {
		t.Fatal(err)
	}
	var pos []Position
	for i := range 10 {
		p, err := addSync(t, first, fmt.Appendf(nil, "m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p)
	}
	if err := sub.AckCumulative(pos[2]); err != nil {
		t.Fatal(err)
	}
	first.FlushCursors(ctx)

	second := open(t, c.factory(cfg), topic)
	sub2 := second.Cursors()["sub"]
	if md := sub2.MarkDelete(); md != pos[2] {
		t.Fatalf("new owner's mark-delete %v, want %v", md, pos[2])
	}
	// The old owner, unaware, creates a cursor; the new owner then opens the same
	// subscription: it adopts the record rather than taking it for a foreign owner's.
	late, _, err := first.OpenCursor(ctx, "late", Earliest)
	if err != nil {
		t.Fatal(err)
	}
	late2, created, err := second.OpenCursor(ctx, "late", Latest)
	if err != nil || created || late2 == nil {
		t.Fatalf("new owner opening a cursor the old one created: created %v, %v", created, err)
	}
	if md := late2.MarkDelete(); md != cursor.Earliest() {
		t.Fatalf("adopted cursor's mark-delete %v, want the old owner's Earliest", md)
	}
	if err := late.AckCumulative(pos[5]); err != nil {
		t.Fatal(err)
	}
	// The old owner acks and flushes: its writes must not land.
	if err := sub.AckCumulative(pos[7]); err != nil {
		t.Fatal(err)
	}
	first.FlushCursors(ctx)
	if _, err := addSync(t, first, []byte("old")); !errors.Is(err, ErrFenced) {
		t.Fatalf("old owner after its cursor flush lost: %v, want ErrFenced", err)
	}
	if rec := cursorRecordOf(t, c, second.cursorKey("sub")); rec.MarkDelete != pos[2].String() {
		t.Fatalf("the old owner overwrote the cursor: mark-delete %s", rec.MarkDelete)
	}
	if rec := cursorRecordOf(t, c, second.cursorKey("late")); rec.MarkDelete != cursor.Earliest().String() {
		t.Fatalf("the old owner overwrote the adopted cursor: mark-delete %s", rec.MarkDelete)
	}
	// The new owner goes on undisturbed.
	if err := sub2.AckCumulative(pos[4]); err != nil {
		t.Fatal(err)
	}
	second.FlushCursors(ctx)
	if _, err := addSync(t, second, []byte("new")); err != nil {
		t.Fatalf("new owner after flushing its cursor: %v", err)
	}
	if rec := cursorRecordOf(t, c, second.cursorKey("sub")); rec.MarkDelete != pos[4].String() {
		t.Fatalf("new owner's flush: mark-delete %s, want %v", rec.MarkDelete, pos[4])
	}
}
