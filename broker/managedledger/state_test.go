package managedledger

import (
	"errors"
	"fmt"
	"testing"

	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/internal/testenv"
)

// TestNewEntries: the channel is open until the next add completes, then closed, and
// LastConfirmed has moved by then; a failed add does not wake anyone.
func TestNewEntries(t *testing.T) {
	c := newCluster(t, 1)
	ctx := testCtx(t)
	ml := open(t, c.factory(Config{}), "persistent://t/ns/wake")
	for i := range 3 {
		ch := ml.NewEntries()
		select {
		case <-ch:
			t.Fatal("NewEntries closed before any add")
		default:
		}
		woke := make(chan Position, 1)
		go func() {
			select {
			case <-ch:
				woke <- ml.LastConfirmed()
			case <-ctx.Done():
				woke <- Position{Ledger: -2}
			}
		}()
		p, err := addSync(t, ml, fmt.Appendf(nil, "w%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if got := <-woke; got.Less(p) {
			t.Fatalf("woken with LastConfirmed %v before the add at %v", got, p)
		}
	}
	ch := ml.NewEntries()
	if err := ml.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := addSync(t, ml, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("add after Close: %v", err)
	}
	select {
	case <-ch:
		t.Fatal("a refused add woke a waiter")
	default:
	}
}

// TestTerminate: adds made before Terminate complete, adds after it fail with
// ErrTerminated — after the callbacks of the earlier ones — and a new owner keeps
// refusing them.
func TestTerminate(t *testing.T) {
	rng := testenv.Rand(t)
	c := newCluster(t, 1)
	ctx := testCtx(t)
	const topic = "persistent://t/ns/terminate"
	ml := open(t, c.factory(Config{MaxEntriesPerLedger: 7}), topic)
	if _, _, err := ml.OpenCursor(ctx, "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, ml)
	for _, d := range payloads(rng, "term", 60, 20) {
		a.add(d, nil) // all in flight (and rolling over) when Terminate comes
	}
	last, err := ml.Terminate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		a.add([]byte("refused"), nil)
	}
	a.wait() // callbacks checked in call order: the refusals come after the 60 adds
	a.mu.Lock()
	for s := range 63 {
		r := a.results[s]
		if s < 60 && r.err != nil {
			t.Errorf("add #%d made before Terminate: %v", s, r.err)
		}
		if s >= 60 && !errors.Is(r.err, ErrTerminated) {
			t.Errorf("add #%d made after Terminate: %v, want ErrTerminated", s, r.err)
		}
	}
	a.mu.Unlock()
	_, pos := a.acked(false)
	if last != pos[len(pos)-1] || ml.LastConfirmed() != last {
		t.Fatalf("Terminate returned %v, last add at %v", last, pos[len(pos)-1])
	}
	if !ml.Info().Terminated {
		t.Fatal("Info does not say terminated")
	}
	if err := ml.Close(ctx); err != nil {
		t.Fatal(err)
	}

	ml2 := open(t, c.factory(Config{}), topic)
	if !ml2.Info().Terminated {
		t.Fatal("terminated flag lost on reopen")
	}
	if _, err := addSync(t, ml2, []byte("x")); !errors.Is(err, ErrTerminated) {
		t.Fatalf("add to a reopened terminated topic: %v", err)
	}
	if got := readAll(t, ml2, cursor.Earliest(), 100); len(got) != 60 {
		t.Fatalf("read %d entries of a terminated topic, want 60", len(got))
	}
}

// TestWriteFailure: when the bookies go away adds fail (with an error, not a hang and
// not ErrFenced); once they are back, the next add rolls over to a new ledger and
// succeeds, and every acknowledged entry is still readable.
func TestWriteFailure(t *testing.T) {
	rng := testenv.Rand(t)
	c := newCluster(t, 1)
	ctx := testCtx(t)
	ml := open(t, c.factory(Config{CacheBytes: 1}), "persistent://t/ns/fail")
	if _, _, err := ml.OpenCursor(ctx, "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, ml)
	a.run(payloads(rng, "before", 30, 50), 2, 4)
	data, pos := a.acked(true)
	broken := pos[0].Ledger

	c.stopBookies()
	for i := range 3 {
		_, err := addSync(t, ml, fmt.Appendf(nil, "down-%d", i))
		if err == nil || errors.Is(err, ErrFenced) {
			t.Fatalf("add #%d with no bookie: %v, want a write error", i, err)
		}
		t.Logf("add with no bookie: %v", err)
	}

	c.startBookie("b1")
	// The bookie is back on a new port. The ledger client's add path may still fail on
	// its stale channel to the old address (that is the ledger client's business, see
	// the report): every such failure must be an ordinary write error, and each add
	// rolls over to a fresh ledger until one succeeds.
	var p Position
	for attempt := 1; ; attempt++ {
		var err error
		p, err = addSync(t, ml, []byte("back"))
		if err == nil {
			t.Logf("add succeeded at attempt %d once the bookie was back", attempt)
			break
		}
		if errors.Is(err, ErrFenced) || attempt == 200 {
			t.Fatalf("add #%d once the bookie is back: %v", attempt, err)
		}
	}
	if p.Ledger <= broken {
		t.Fatalf("add after the failure went to ledger %d, not a new one (broken: %d)", p.Ledger, broken)
	}
	waitTasks(ml)
	in := ml.Info()
	if in.Ledgers[0].ID != broken || !in.Ledgers[0].Closed || in.Ledgers[0].Entries != int64(len(pos)) {
		t.Fatalf("failed ledger in Info: %+v, want closed with %d entries", in.Ledgers[0], len(pos))
	}
	checkEntries(t, readAll(t, ml, cursor.Earliest(), 7), append(data, []byte("back")), append(pos, p))
}
