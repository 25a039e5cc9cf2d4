package replication

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
)

// TestRandomized drives the state machine against a simulated source topic, cursor and
// remote cluster with random failures (failed connects, lost connections, failed sends,
// the remote's backlog quota, failed reads, rate limits) and checks its invariants after
// every step; then the failures stop and it must catch up on its own. The remote
// deduplicates by producer name and sequence id and persists, per connection, a prefix
// of what was sent on it (a failure ends the connection). Replay a failure with the
// seed it prints (STRATA_TEST_SEED).
func TestRandomized(t *testing.T) {
	rng := testenv.Rand(t)
	pauses := 0
	for run := range 40 {
		w := newWorld(t, rng, run)
		w.chaos(400)
		w.calm(20000)
		w.checkRemote()
		pauses += w.pauses
	}
	if pauses == 0 {
		t.Fatal("no run hit the remote's backlog quota: the pause path went untested")
	}
}

type srcEntry struct {
	e    Entry
	skip bool // not for the remote
}

type world struct {
	t   *testing.T
	rng *rand.Rand
	r   *Replicator
	cfg Config
	run int

	now time.Time
	src []srcEntry
	seq map[string]int64

	markDelete int // index of the last acknowledged entry, -1: none
	readPos    int // index of the next entry the cursor reads
	read       *Read

	conn, pendingConn uint64
	inflight          []Send // sent on conn, not yet receipted
	lastSent          int    // index of the last entry sent on conn, -1: none since rewind
	receipted         map[Position]bool

	dedup     map[string]int64
	persisted []Position

	timer time.Time
	// paused: the remote's quota stopped the replicator and it has not reconnected
	// since; pauses counts how often that happened.
	paused     bool
	pauses     int
	limited    bool
	failuresOn bool
}

func newWorld(t *testing.T, rng *rand.Rand, run int) *world {
	cfg := Config{
		Local: "a", Remote: "b",
		QueueSize:      1 + rng.IntN(8),
		MaxReadBatch:   1 + rng.IntN(5),
		BackoffInitial: 100 * time.Millisecond, BackoffMax: 2 * time.Second,
		ReadBackoffInitial: time.Second, ReadBackoffMax: 4 * time.Second,
		MarkDelete: Position{Ledger: -1, Entry: -1},
	}
	w := &world{t: t, rng: rng, cfg: cfg, run: run, r: New(cfg), now: time.Unix(1000, 0),
		seq: map[string]int64{}, markDelete: -1, receipted: map[Position]bool{},
		dedup: map[string]int64{}, lastSent: -1, failuresOn: true}
	w.apply(w.r.Start(w.now))
	return w
}

func (w *world) fatalf(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("run %d at %s: %s", w.run, w.now.Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (w *world) index(p Position) int {
	i, ok := slices.BinarySearchFunc(w.src, p, func(s srcEntry, p Position) int { return s.e.Pos.Compare(p) })
	if !ok {
		w.fatalf("position %s is not an entry", p)
	}
	return i
}

func (w *world) appendEntries(n int) {
	for range n {
		pos := Position{Ledger: 1, Entry: 0}
		if k := len(w.src); k > 0 {
			pos = w.src[k-1].e.Pos
			pos.Entry++
			if w.rng.IntN(20) == 0 {
				pos = Position{Ledger: pos.Ledger + 1 + int64(w.rng.IntN(3)), Entry: 0}
			}
		}
		p := fmt.Sprintf("p%d", w.rng.IntN(3))
		e := Entry{Pos: pos, ProducerName: p, SequenceID: w.seq[p], Messages: 1 + w.rng.IntN(3), Size: 1 + w.rng.IntN(100)}
		w.seq[p]++
		skip := false
		switch w.rng.IntN(20) {
		case 0, 1:
			e.ReplicatedFrom, skip = "c", true
		case 2:
			e.ReplicateTo, skip = []string{LocalOnly}, true
		case 3:
			e.ReplicateTo, skip = []string{"c"}, true
		case 4:
			e.ReplicateTo = []string{"c", "b"}
		}
		if skip {
			// A skipped entry's producer is another cluster's or a local-only one: the
			// remote never sees its sequence ids.
			e.ProducerName = "x-" + p
		}
		w.src = append(w.src, srcEntry{e: e, skip: skip})
	}
}

func (w *world) chance(n int) bool { return w.failuresOn && w.rng.IntN(n) == 0 }

// step makes one random thing happen.
func (w *world) step() {
	switch w.rng.IntN(8) {
	case 0:
		if w.failuresOn { // the calm phase publishes nothing more, so it can end
			w.appendEntries(1 + w.rng.IntN(3))
		}
	case 1: // the outstanding read completes or fails
		if w.read == nil {
			return
		}
		if w.chance(10) {
			id := w.read.ID
			w.read = nil
			w.apply(w.r.ReadFailed(w.now, id, "injected"))
			return
		}
		if w.readPos >= len(w.src) {
			return // a read-or-wait: nothing to return yet
		}
		n := min(1+w.rng.IntN(w.read.Max), len(w.src)-w.readPos)
		var es []Entry
		for _, s := range w.src[w.readPos : w.readPos+n] {
			es = append(es, s.e)
		}
		w.readPos += n
		id := w.read.ID
		w.read = nil
		w.apply(w.r.ReadDone(w.now, id, es))
	case 2: // the producer asked for is created or not
		if w.pendingConn == 0 {
			return
		}
		c := w.pendingConn
		w.pendingConn = 0
		if w.chance(3) {
			w.apply(w.r.ConnectFailed(w.now, c, "injected"))
			return
		}
		w.conn, w.lastSent, w.inflight = c, -1, nil
		w.paused = false // a paused replicator reconnects on its own: it resumed
		w.apply(w.r.Connected(w.now, c))
	case 3, 4: // the remote persists the head send and receipts it, or fails
		if w.conn == 0 || len(w.inflight) == 0 {
			return
		}
		s := w.inflight[0]
		switch {
		case w.chance(15):
			w.dropConn(false)
			w.apply(w.r.SendFailed(w.now, s.Conn, s.Entry.Pos, "injected"))
		case w.chance(30):
			w.dropConn(false)
			w.paused = true
			w.pauses++
			w.apply(w.r.QuotaExceeded(w.now, s.Conn))
			if st := w.r.Status(); st.State != Paused || st.RetryAt.IsZero() {
				w.fatalf("quota exceeded: status %+v, want paused with a retry time", st)
			}
		default:
			w.inflight = w.inflight[1:]
			w.persist(s)
			w.receipted[s.Entry.Pos] = true
			w.apply(w.r.Receipt(w.now, s.Conn, s.Entry.Pos))
		}
	case 5: // the connection drops; the remote may have persisted a prefix of the sends
		if w.conn == 0 || !w.chance(10) {
			return
		}
		c := w.conn
		w.dropConn(true)
		w.apply(w.r.Disconnected(w.now, c, "injected"))
	case 6: // rate-limit period
		if w.failuresOn && w.rng.IntN(3) == 0 {
			w.limited = true
			w.apply(w.r.Permits(w.now, int64(w.rng.IntN(4)), int64(w.rng.IntN(300))))
		} else if w.limited {
			w.limited = false
			w.apply(w.r.Permits(w.now, -1, -1))
		}
	case 7: // time passes
		w.now = w.now.Add(time.Duration(w.rng.IntN(500)) * time.Millisecond)
		if !w.timer.IsZero() && !w.now.Before(w.timer) {
			w.apply(w.r.Tick(w.now))
		}
	}
}

// dropConn ends the current connection; with persistSome the remote persisted a random
// prefix of what was in flight (their receipts are lost).
func (w *world) dropConn(persistSome bool) {
	if persistSome {
		for _, s := range w.inflight[:w.rng.IntN(len(w.inflight)+1)] {
			w.persist(s)
		}
	}
	w.conn, w.inflight = 0, nil
}

// persist is the remote's deduplicating write.
func (w *world) persist(s Send) {
	if s.Entry.SequenceID <= w.dedup[s.Entry.ProducerName]-1 && w.dedup[s.Entry.ProducerName] > 0 {
		return
	}
	w.dedup[s.Entry.ProducerName] = s.Entry.SequenceID + 1
	w.persisted = append(w.persisted, s.Entry.Pos)
}

// apply carries out a Ready and checks it.
func (w *world) apply(rd Ready) {
	w.t.Helper()
	if rd.Disconnect {
		w.conn, w.inflight = 0, nil
	}
	if rd.Ack != nil {
		i := w.index(*rd.Ack)
		if i < w.markDelete {
			w.fatalf("mark-delete moved back from %d to %s", w.markDelete, rd.Ack)
		}
		for _, s := range w.src[w.markDelete+1 : i+1] {
			if !s.skip && !w.receipted[s.e.Pos] {
				w.fatalf("acked up to %s past %s, never receipted", rd.Ack, s.e.Pos)
			}
		}
		w.markDelete = i
	}
	if rd.Rewind {
		w.read = nil
		w.readPos = w.markDelete + 1
		w.lastSent = -1
	}
	if rd.Connect != 0 {
		if w.conn != 0 {
			w.fatalf("connect %d while producer %d is open", rd.Connect, w.conn)
		}
		w.pendingConn = rd.Connect
	}
	for _, s := range rd.Sends {
		if s.Conn != w.conn || w.conn == 0 {
			w.fatalf("send %s on producer %d, current %d", s.Entry.Pos, s.Conn, w.conn)
		}
		i := w.index(s.Entry.Pos)
		if w.src[i].skip {
			w.fatalf("sent %s, which is not for the remote", s.Entry.Pos)
		}
		if w.receipted[s.Entry.Pos] || i <= w.markDelete {
			w.fatalf("re-sent %s after its receipt (mark-delete %d)", s.Entry.Pos, w.markDelete)
		}
		from := max(w.lastSent, w.markDelete)
		for _, g := range w.src[from+1 : i] {
			if !g.skip {
				w.fatalf("sent %s but not %s before it (out of order, or a gap)", s.Entry.Pos, g.e.Pos)
			}
		}
		if s.ReplicatedFrom != "a" || s.Entry.ProducerName != w.src[i].e.ProducerName || s.Entry.SequenceID != w.src[i].e.SequenceID {
			w.fatalf("send %s with replicated_from=%q producer=%s seq=%d", s.Entry.Pos, s.ReplicatedFrom, s.Entry.ProducerName, s.Entry.SequenceID)
		}
		w.lastSent = i
		w.inflight = append(w.inflight, s)
	}
	if rd.Read != nil {
		if w.read != nil {
			w.fatalf("read %d while read %d is outstanding", rd.Read.ID, w.read.ID)
		}
		if rd.Read.Max < 1 || rd.Read.Max > w.cfg.QueueSize {
			w.fatalf("read of %d entries, queue %d", rd.Read.Max, w.cfg.QueueSize)
		}
		r := *rd.Read
		w.read = &r
	}
	if n := w.r.InFlight(); n > w.cfg.QueueSize {
		w.fatalf("%d in flight, queue %d", n, w.cfg.QueueSize)
	}
	w.timer = rd.Timer
	if !rd.Timer.IsZero() {
		if wait := rd.Timer.Sub(w.now); wait > max(w.cfg.BackoffMax, w.cfg.ReadBackoffMax) || wait < 0 {
			w.fatalf("timer in %s: backoff not capped", wait)
		}
	}
}

func (w *world) chaos(steps int) {
	for range steps {
		w.step()
	}
}

// calm stops the failures and rate limits: the replicator must catch up on its own.
func (w *world) calm(maxSteps int) {
	w.failuresOn = false
	w.apply(w.r.Permits(w.now, -1, -1))
	w.limited = false
	for range maxSteps {
		if w.markDelete == len(w.src)-1 && len(w.src) > 0 {
			if st := w.r.Status(); st.State != Replicating || st.Reason != "" {
				w.fatalf("caught up but status %+v", st)
			}
			if w.paused {
				w.fatalf("caught up without reconnecting after the remote's quota paused it")
			}
			return
		}
		w.step()
	}
	w.fatalf("did not catch up: mark-delete %d of %d entries, status %+v (paused, not resumed: %v)", w.markDelete, len(w.src), w.r.Status(), w.paused)
}

// checkRemote: every entry for the remote arrived exactly once, in order.
func (w *world) checkRemote() {
	var want []Position
	for _, s := range w.src {
		if !s.skip {
			want = append(want, s.e.Pos)
		}
	}
	if !slices.Equal(w.persisted, want) {
		w.fatalf("remote has %v, want %v", w.persisted, want)
	}
}
