package managedledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/internal/testenv"
)

// The add state machine is tested by scripted traces (testdata/add/*.txt), like the
// ledger's write and recovery state machines (bookie/ledger/sm_test.go): each command
// feeds one input and prints what the state machine then asks its driver to do. Adds
// are numbered #0, #1, … in the order they are made; time is in seconds from the start.
// Run with -rewrite to regenerate the expected output, then review the diff line by
// line.
//
// Commands:
//
//	new [entries=N] [size=N] [age=S] [ledger=L] [terminated]
//	add [n=N] [size=N]                 N adds of size bytes (default 1 and 10)
//	time t=S                           the clock moves to S seconds
//	written op=I[-J] [entry=E] [err=fenced|io]
//	                                   the writer's outcome of #I..#J, at entries E,
//	                                   E+1, … of the ledger each was submitted to
//	rolled-over ledger=L               the rollover asked for installed ledger L
//	rollover-failed [fenced]           the rollover asked for failed
//	settle ledger=L last=E [requeue]   the fenced ledger L was recovered at entry E
//	settle ledger=L fail=owner|recovery [requeue]
//	                                   the record shows a new owner, or the recovery
//	                                   failed (L=-1: every ledger)
//	set-fenced | close | terminate | state
func TestAddTraces(t *testing.T) {
	datadriven.Walk(t, "testdata/add", func(t *testing.T, path string) {
		h := &addHarness{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

var errTraceIO = errors.New("bookie unavailable")

type addHarness struct {
	sm    *addSM
	start time.Time
	now   time.Time
	ops   []*addOp
	seq   map[*addOp]int
	// sentTo is the ledger each add was last submitted to.
	sentTo map[int]int64
}

func (h *addHarness) run(t *testing.T, d *datadriven.TestData) string {
	var b strings.Builder
	if d.Cmd != "new" && h.sm == nil {
		t.Fatalf("%s: no state machine; start with new", d.Pos)
	}
	switch d.Cmd {
	case "new":
		h.start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		h.now = h.start
		h.ops, h.seq, h.sentTo = nil, map[*addOp]int{}, map[int]int64{}
		cfg := addConfig{
			MaxEntries: traceInt(t, d, "entries", 1000),
			MaxSize:    traceInt(t, d, "size", 1<<20),
			MaxAge:     time.Duration(traceInt(t, d, "age", 3600)) * time.Second,
		}
		h.sm = newAddSM(cfg, traceInt(t, d, "ledger", 1), h.now, d.HasArg("terminated"))
		h.printState(&b)
		return b.String()
	case "add":
		size := traceInt(t, d, "size", 10)
		for range traceInt(t, d, "n", 1) {
			op := &addOp{data: make([]byte, size)}
			h.seq[op] = len(h.ops)
			h.ops = append(h.ops, op)
			h.sm.Add(op, h.now)
		}
	case "time":
		h.now = h.start.Add(time.Duration(traceInt(t, d, "t", 0)) * time.Second)
		return fmt.Sprintf("t=%s\n", h.now.Sub(h.start))
	case "written":
		lo, hi := h.opRange(t, d)
		entry := traceInt(t, d, "entry", -1)
		var err error
		switch e := traceStr(d, "err", ""); e {
		case "":
		case "fenced":
			err = ledger.ErrFenced
		case "io":
			err = errTraceIO
		default:
			t.Fatalf("%s: unknown err=%s", d.Pos, e)
		}
		for i := lo; i <= hi; i++ {
			lid, ok := h.sentTo[i]
			if !ok {
				t.Fatalf("%s: #%d was never submitted", d.Pos, i)
			}
			pos := Position{Ledger: lid, Entry: entry}
			if entry >= 0 {
				entry++
			}
			h.sm.Written(h.ops[i], pos, err)
		}
	case "rolled-over":
		h.sm.RolledOver(traceInt(t, d, "ledger", 0), h.now)
	case "rollover-failed":
		if d.HasArg("fenced") {
			h.sm.RolloverFailed(fmt.Errorf("%w: record changed by another owner", ErrFenced), true)
		} else {
			h.sm.RolloverFailed(errTraceIO, false)
		}
	case "settle":
		var fail error
		switch f := traceStr(d, "fail", ""); f {
		case "":
		case "owner":
			fail = fmt.Errorf("%w: record changed by another owner", ErrFenced)
		case "recovery":
			fail = fmt.Errorf("%w: recovery failed", ErrLedgerFenced)
		default:
			t.Fatalf("%s: unknown fail=%s", d.Pos, f)
		}
		h.sm.SettleFenced(traceInt(t, d, "ledger", 0), traceInt(t, d, "last", -1), fail, d.HasArg("requeue"))
	case "roll-idle":
		idle := time.Duration(traceInt(t, d, "idle", 60)) * time.Second
		fmt.Fprintf(&b, "roll-idle: %t\n", h.sm.RollIdle(h.now, idle))
	case "set-fenced":
		h.sm.SetFenced()
	case "close":
		fmt.Fprintf(&b, "closed (was fenced: %t)\n", h.sm.Close())
	case "terminate":
		op := &addOp{}
		if err := h.sm.Terminate(op); err != nil {
			fmt.Fprintf(&b, "terminate: %v\n", err)
		} else {
			h.seq[op] = len(h.ops)
			h.ops = append(h.ops, op)
			fmt.Fprintf(&b, "terminate: barrier #%d\n", h.seq[op])
		}
	case "state":
		h.printState(&b)
		return b.String()
	default:
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	}
	h.printReady(&b)
	if b.Len() == 0 {
		return "(nothing)"
	}
	return b.String()
}

func (h *addHarness) printReady(b *strings.Builder) {
	rd := h.sm.Ready()
	for _, s := range rd.Submit {
		i := h.seq[s.Op]
		h.sentTo[i] = s.Ledger
		fmt.Fprintf(b, "submit #%d to L%d\n", i, s.Ledger)
	}
	if r := rd.Roll; r != nil {
		if r.Fenced {
			fmt.Fprintf(b, "roll over from fenced L%d\n", r.Old)
		} else {
			fmt.Fprintf(b, "roll over from L%d\n", r.Old)
		}
	}
	for _, op := range rd.Deliver {
		switch {
		case op.barrier:
			fmt.Fprintf(b, "deliver #%d barrier\n", h.seq[op])
		case op.err != nil:
			fmt.Fprintf(b, "deliver #%d error: %v\n", h.seq[op], op.err)
		default:
			fmt.Fprintf(b, "deliver #%d at %v\n", h.seq[op], op.pos)
		}
	}
}

func (h *addHarness) printState(b *strings.Builder) {
	s := h.sm
	fmt.Fprintf(b, "state=%s ledger=L%d entries=%d size=%d", s.state, s.ledger, s.entries, s.size)
	if s.broken {
		b.WriteString(" broken")
	}
	if s.terminated {
		b.WriteString(" terminated")
	}
	if s.Drained() {
		b.WriteString(" drained")
	}
	b.WriteString("\n")
	var pend, queued []string
	for _, op := range s.pending {
		e := fmt.Sprintf("#%d", h.seq[op])
		switch {
		case op.err == errAwaitingRecovery:
			e += fmt.Sprintf("(awaiting recovery, %v)", op.pos)
		case op.done:
			e += "(done)"
		}
		pend = append(pend, e)
	}
	for _, op := range s.queued {
		queued = append(queued, fmt.Sprintf("#%d", h.seq[op]))
	}
	if len(pend) > 0 {
		fmt.Fprintf(b, "pending %s\n", strings.Join(pend, " "))
	}
	if len(queued) > 0 {
		fmt.Fprintf(b, "queued %s\n", strings.Join(queued, " "))
	}
	if !slices.Equal(s.queued, s.pending[len(s.pending)-len(s.queued):]) {
		b.WriteString("BROKEN INVARIANT: queued is not the tail of pending\n")
	}
}

func (h *addHarness) opRange(t *testing.T, d *datadriven.TestData) (lo, hi int) {
	s := traceStr(d, "op", "")
	a, z, ok := strings.Cut(s, "-")
	if !ok {
		z = a
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(z)
	if err1 != nil || err2 != nil || lo > hi || hi >= len(h.ops) {
		t.Fatalf("%s: bad op=%q", d.Pos, s)
	}
	return lo, hi
}

func traceStr(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return strings.Join(a.Vals, ",")
		}
	}
	return def
}

func traceInt(t *testing.T, d *datadriven.TestData, key string, def int64) int64 {
	s := traceStr(d, key, "")
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: bad %s=%q", d.Pos, key, s)
	}
	return n
}

// TestAddSMRandom drives the add state machine the way add.go does — writers that
// acknowledge in entry order, fail, or get fenced by a recoverer; rollovers that succeed
// or fail; fenced ledgers settled once every add to them called back — with random
// interleavings, and checks what the traces show case by case: every add is delivered
// exactly once, in the order the adds were made; successful adds have strictly
// increasing positions; at most one rollover is asked for at a time (idle rollovers
// included).
func TestAddSMRandom(t *testing.T) {
	rng := testenv.Rand(t)
	for range 200 {
		runAddSMRandom(t, rng, 300)
		if t.Failed() {
			return
		}
	}
}

type simLedger struct {
	id       int64
	inflight []*addOp // submitted, not called back yet, in order
	next     int64    // the next entry id
	fenced   bool     // fenced by a recoverer: every add in flight fails with ErrFenced
	last     int64    // when fenced, the recovered ledger's last entry
	broken   bool     // the writer failed: every add in flight fails
	closing  bool     // rolled over away from; settled once nothing is in flight
}

func runAddSMRandom(t *testing.T, rng *rand.Rand, steps int) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := addConfig{MaxEntries: int64(1 + rng.IntN(8)), MaxSize: int64(20 + rng.IntN(100)), MaxAge: time.Minute}
	ledgers := map[int64]*simLedger{1: {id: 1}}
	nextLedger := int64(2)
	sm := newAddSM(cfg, 1, now, false)
	var (
		ops       []*addOp
		seq       = map[*addOp]int{}
		delivered = 0
		lastPos   = Position{Ledger: -1, Entry: -1}
		roll      *addRoll
		closed    bool
	)
	apply := func() {
		rd := sm.Ready()
		for _, s := range rd.Submit {
			l := ledgers[s.Ledger]
			if l == nil {
				t.Fatalf("submit to unknown ledger %d", s.Ledger)
			}
			l.inflight = append(l.inflight, s.Op)
		}
		if rd.Roll != nil {
			if roll != nil {
				t.Fatalf("rollover from %d asked for while one from %d is under way", rd.Roll.Old, roll.Old)
			}
			roll = rd.Roll
		}
		for _, op := range rd.Deliver {
			if got := seq[op]; got != delivered {
				t.Fatalf("delivered #%d, want #%d", got, delivered)
			}
			delivered++
			if op.err == nil && !op.barrier {
				if !lastPos.Less(op.pos) {
					t.Fatalf("#%d succeeded at %v, not after %v", seq[op], op.pos, lastPos)
				}
				lastPos = op.pos
			}
		}
	}
	// callBack completes the oldest add in flight on l, as its writer would.
	callBack := func(l *simLedger) {
		op := l.inflight[0]
		l.inflight = l.inflight[1:]
		switch {
		case l.fenced:
			sm.Written(op, Position{Ledger: l.id, Entry: l.next}, ledger.ErrFenced)
			l.next++
		case l.broken:
			sm.Written(op, Position{Ledger: l.id, Entry: -1}, errTraceIO)
		default:
			sm.Written(op, Position{Ledger: l.id, Entry: l.next}, nil)
			l.next++
		}
	}
	// answerRoll answers the rollover asked for, if it can be answered now.
	answerRoll := func(fail bool) {
		old, fenced := ledgers[roll.Old], roll.Fenced
		if fenced {
			if len(old.inflight) > 0 {
				return // the driver waits for every add to the fenced writer first
			}
			sm.SettleFenced(old.id, old.last, nil, true)
		}
		roll = nil
		if fail {
			sm.RolloverFailed(errTraceIO, false)
			return
		}
		id := nextLedger
		nextLedger++
		ledgers[id] = &simLedger{id: id}
		// A fenced old ledger was settled above; any other is closed in the background,
		// which settles its adds if it turns out fenced.
		old.closing = !fenced
		sm.RolledOver(id, now)
	}
	settleClosed := func() {
		for _, l := range ledgers {
			if l.closing && len(l.inflight) == 0 {
				l.closing = false
				if l.fenced {
					sm.SettleFenced(l.id, l.last, nil, false)
				}
			}
		}
	}
	pick := func() *simLedger {
		var busy []*simLedger
		for id := int64(1); id < nextLedger; id++ {
			if l := ledgers[id]; len(l.inflight) > 0 {
				busy = append(busy, l)
			}
		}
		if len(busy) == 0 {
			return nil
		}
		return busy[rng.IntN(len(busy))]
	}
	for range steps {
		switch r := rng.IntN(100); {
		case r < 40:
			op := &addOp{data: make([]byte, 1+rng.IntN(20))}
			seq[op] = len(ops)
			ops = append(ops, op)
			sm.Add(op, now)
		case r < 75:
			if l := pick(); l != nil {
				callBack(l)
			}
		case r < 80:
			now = now.Add(time.Duration(rng.IntN(40)) * time.Second)
			if rng.IntN(2) == 0 {
				sm.RollIdle(now, 30*time.Second) // offload's idle rollover tick
			}
		case r < 83:
			if l := ledgers[sm.ledger]; !l.fenced && !l.broken {
				l.broken = true
			}
		case r < 86:
			if l := ledgers[sm.ledger]; !l.fenced && !l.broken {
				// A recoverer fences it; it may find some adds in flight durable.
				l.fenced, l.last = true, l.next-1+int64(rng.IntN(len(l.inflight)+1))
			}
		case r < 97:
			if roll != nil {
				answerRoll(rng.IntN(8) == 0)
			}
		case r < 98:
			if !closed {
				closed = true
				sm.Close()
			}
		default:
			b := &addOp{}
			seq[b] = len(ops)
			if sm.Terminate(b) == nil {
				ops = append(ops, b)
			}
		}
		settleClosed()
		apply()
	}
	// Close, then let every writer, rollover and recovery finish.
	sm.Close()
	apply()
	for range 10000 {
		if l := pick(); l != nil {
			callBack(l)
		} else if roll != nil {
			answerRoll(false)
		}
		settleClosed()
		apply()
		if delivered == len(ops) {
			break
		}
	}
	if delivered != len(ops) || !sm.Drained() {
		var b strings.Builder
		h := &addHarness{sm: sm, seq: seq}
		h.printState(&b)
		for id := int64(1); id < nextLedger; id++ {
			fmt.Fprintf(&b, "L%d: %+v\n", id, *ledgers[id])
		}
		t.Fatalf("%d of %d adds delivered (roll %+v):\n%s", delivered, len(ops), roll, b.String())
	}
}
