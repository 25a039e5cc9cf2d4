package dispatch

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// dispatcher is the driver-facing shape every dispatcher has; the broker
// declares its own copy where it consumes it.
type dispatcher interface {
	AddConsumer(ConsumerInfo) error
	RemoveConsumer(id uint64)
	Flow(id uint64, permits uint32)
	ReadCompleted([]Entry)
	NewEntries()
	Acked([]Position)
	AckedUpTo(Position)
	Redeliver(id uint64, positions []Position)
	RewindTo(Position)
	TimerFired(seq uint64)
	HasReady() bool
	Ready() []Action
}

var (
	_ dispatcher = (*Exclusive)(nil)
	_ dispatcher = (*Failover)(nil)
	_ dispatcher = (*Shared)(nil)
	_ dispatcher = (*KeyShared)(nil)
)

// harness plays the driver: it keeps a simulated log and a simulated cursor
// (acked positions, mark-delete), answers Reads from them and feeds acks to
// the dispatcher as the real driver would.
type harness struct {
	kind  string
	d     dispatcher
	log   []Entry // ascending
	acked map[Position]bool
	md    Position
	read  *Read // outstanding
}

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			out, err := h.run(t, td)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

func (h *harness) run(t *testing.T, td *datadriven.TestData) (string, error) {
	var b strings.Builder
	switch td.Cmd {
	case "new":
		if err := h.newDispatcher(t, td); err != nil {
			return "", err
		}
	case "append":
		ps, err := positionArgs(td)
		if err != nil {
			return "", err
		}
		n := intArg(t, td, "n", 1)
		hash := intArg(t, td, "hash", 0)
		for _, p := range ps {
			if len(h.log) > 0 && !h.log[len(h.log)-1].Pos.Less(p) {
				return "", fmt.Errorf("append %s: not after %s", p, h.log[len(h.log)-1].Pos)
			}
			h.log = append(h.log, Entry{Pos: p, NumMessages: int32(n), KeyHash: uint16(hash), HasKey: td.HasArg("hash")})
		}
		h.d.NewEntries()
	case "add-consumer":
		info := ConsumerInfo{
			ID:       uint64(intArg(t, td, "id", 0)),
			Name:     strArg(t, td, "name", ""),
			Priority: int32(intArg(t, td, "prio", 0)),
		}
		if td.HasArg("mode") || td.HasArg("ranges") {
			meta := &KeySharedMeta{}
			if strArg(t, td, "mode", "auto") == "sticky" {
				meta.Mode = Sticky
			}
			if arg, ok := td.Arg("ranges"); ok {
				for _, v := range arg.Vals {
					lo, hi, _ := strings.Cut(v, "-")
					a, err1 := strconv.Atoi(lo)
					z, err2 := strconv.Atoi(hi)
					if err1 != nil || err2 != nil {
						return "", fmt.Errorf("bad range %q", v)
					}
					meta.Ranges = append(meta.Ranges, Range{Start: int32(a), End: int32(z)})
				}
			}
			info.KeyShared = meta
		}
		if err := h.d.AddConsumer(info); err != nil {
			return "", err
		}
		if td.HasArg("permits") {
			h.d.Flow(info.ID, uint32(intArg(t, td, "permits", 0)))
		}
	case "remove-consumer":
		h.d.RemoveConsumer(uint64(intArg(t, td, "id", 0)))
	case "flow":
		h.d.Flow(uint64(intArg(t, td, "id", 0)), uint32(intArg(t, td, "n", 0)))
	case "new-entries":
		h.d.NewEntries()
	case "read-completed":
		if h.read == nil {
			return "", fmt.Errorf("no read outstanding")
		}
		var es []Entry
		if len(td.CmdArgs) > 0 {
			ps, err := positionArgs(td)
			if err != nil {
				return "", err
			}
			for _, p := range ps {
				es = append(es, h.entry(p))
			}
		} else {
			es = h.answer(*h.read)
		}
		h.read = nil
		fmt.Fprintf(&b, "read-completed %s\n", fmtPositions(es))
		h.d.ReadCompleted(es)
	case "run":
		// Complete reads until none is outstanding, printing everything.
		for i := 0; ; i++ {
			if i > 0 || h.read == nil {
				h.print(&b, h.d.Ready())
			}
			if h.read == nil {
				return b.String(), nil
			}
			if i > 100 {
				return "", fmt.Errorf("run: no quiescence after 100 reads")
			}
			es := h.answer(*h.read)
			h.read = nil
			fmt.Fprintf(&b, "read-completed %s\n", fmtPositions(es))
			h.d.ReadCompleted(es)
		}
	case "ack":
		ps, err := positionArgs(td)
		if err != nil {
			return "", err
		}
		for _, p := range ps {
			h.acked[p] = true
		}
		h.d.Acked(ps)
		h.advanceMarkDelete(&b)
	case "ack-cumulative":
		ps, err := positionArgs(td)
		if err != nil || len(ps) != 1 {
			return "", fmt.Errorf("ack-cumulative takes one position")
		}
		for _, e := range h.log {
			if e.Pos.Compare(ps[0]) <= 0 {
				h.acked[e.Pos] = true
			}
		}
		h.advanceMarkDelete(&b)
	case "nack":
		var ps []Position
		if len(td.CmdArgs) > 1 {
			var err error
			if ps, err = positionArgs(td); err != nil {
				return "", err
			}
		}
		h.d.Redeliver(uint64(intArg(t, td, "id", 0)), ps)
	case "seek":
		ps, err := positionArgs(td)
		if err != nil || len(ps) != 1 {
			return "", fmt.Errorf("seek takes one position")
		}
		h.md = ps[0].prev()
		for p := range h.acked {
			if h.md.Less(p) {
				delete(h.acked, p)
			}
		}
		h.d.RewindTo(ps[0])
	case "timer-fired":
		h.d.TimerFired(uint64(intArg(t, td, "seq", 0)))
	case "state":
		b.WriteString(h.state())
		return b.String(), nil
	default:
		return "", fmt.Errorf("unknown command %q", td.Cmd)
	}
	h.print(&b, h.d.Ready())
	return b.String(), nil
}

func (h *harness) newDispatcher(t *testing.T, td *datadriven.TestData) error {
	cfg := DefaultConfig()
	cfg.MaxReadBatchSize = intArg(t, td, "read-batch", cfg.MaxReadBatchSize)
	cfg.MaxRoundRobinBatchSize = intArg(t, td, "rr-batch", cfg.MaxRoundRobinBatchSize)
	cfg.MaxUnackedPerConsumer = intArg(t, td, "max-unacked-consumer", cfg.MaxUnackedPerConsumer)
	cfg.MaxUnackedPerSubscription = intArg(t, td, "max-unacked-sub", cfg.MaxUnackedPerSubscription)
	cfg.LookAheadPerConsumer = intArg(t, td, "lookahead-consumer", cfg.LookAheadPerConsumer)
	cfg.LookAheadPerSubscription = intArg(t, td, "lookahead-sub", cfg.LookAheadPerSubscription)
	if td.HasArg("delay") {
		d, err := time.ParseDuration(strArg(t, td, "delay", ""))
		if err != nil {
			return err
		}
		cfg.FailoverDelay = d
	}
	md := Position{Ledger: -1, Entry: -1}
	if td.HasArg("md") {
		p, err := parsePosition(strArg(t, td, "md", ""))
		if err != nil {
			return err
		}
		md = p
	}
	*h = harness{kind: strArg(t, td, "type", ""), acked: make(map[Position]bool), md: md}
	var err error
	switch h.kind {
	case "exclusive":
		h.d, err = NewExclusive(cfg, md)
	case "failover":
		h.d, err = NewFailover(cfg, md, intArg(t, td, "partition", -1))
	case "shared":
		h.d, err = NewShared(cfg, md)
	case "key_shared":
		h.d, err = NewKeyShared(cfg, md)
	default:
		return fmt.Errorf("unknown type %q", h.kind)
	}
	return err
}

// entry returns the log's entry at p, or a plain one-message entry.
func (h *harness) entry(p Position) Entry {
	for _, e := range h.log {
		if e.Pos == p {
			return e
		}
	}
	return Entry{Pos: p, NumMessages: 1}
}

// answer reads from the simulated log as the driver would.
func (h *harness) answer(r Read) []Entry {
	var es []Entry
	if len(r.Replay) > 0 {
		for _, p := range r.Replay {
			for _, e := range h.log {
				if e.Pos == p && !h.acked[p] && h.md.Less(p) {
					es = append(es, e)
				}
			}
		}
		return es
	}
	for _, e := range h.log {
		if len(es) == r.MaxEntries {
			break
		}
		if r.After.Less(e.Pos) && h.md.Less(e.Pos) && !h.acked[e.Pos] {
			es = append(es, e)
		}
	}
	return es
}

// advanceMarkDelete moves the simulated cursor's mark-delete over the acked
// prefix of the log and reports it to the dispatcher.
func (h *harness) advanceMarkDelete(b *strings.Builder) {
	md := h.md
	for _, e := range h.log {
		if !md.Less(e.Pos) {
			continue
		}
		if !h.acked[e.Pos] {
			break
		}
		md = e.Pos
	}
	if md != h.md {
		h.md = md
		fmt.Fprintf(b, "mark-delete %s\n", md)
		h.d.AckedUpTo(md)
	}
}

func (h *harness) print(b *strings.Builder, actions []Action) {
	for _, a := range actions {
		switch a := a.(type) {
		case Read:
			r := a
			h.read = &r
			b.WriteString(a.String())
		case Send:
			fmt.Fprintf(b, "send c%d:", a.ConsumerID)
			for _, e := range a.Entries {
				b.WriteByte(' ')
				b.WriteString(e.String())
				if h.kind == "key_shared" {
					fmt.Fprintf(b, "#%d", e.KeyHash)
				}
			}
		default:
			b.WriteString(a.String())
		}
		b.WriteByte('\n')
	}
}

func (h *harness) state() string {
	var b strings.Builder
	switch d := h.d.(type) {
	case *Exclusive:
		b.WriteString(d.single.state())
	case *Failover:
		b.WriteString(d.single.state())
	case *Shared:
		b.WriteString(d.multi.state())
	case *KeyShared:
		fmt.Fprintf(&b, "mode=%s ranges=%s\n", d.mode, &d.table)
		b.WriteString(d.multi.state())
	}
	return b.String()
}

func (s *single) state() string {
	var b strings.Builder
	active := "none"
	if s.active != nil {
		active = fmt.Sprintf("c%d", s.active.info.ID)
	}
	fmt.Fprintf(&b, "active=%s paused=%t mark-delete=%s read-after=%s buffer=%s\n",
		active, s.paused, s.markDelete, s.rd.after, fmtPositions(s.buffer))
	for _, c := range s.consumers {
		fmt.Fprintf(&b, "c%d %q prio=%d permits=%d\n", c.info.ID, c.info.Name, c.info.Priority, c.permits)
	}
	return b.String()
}

func (m *multi) state() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mark-delete=%s read-after=%s unacked=%d blocked=%t\n", m.markDelete, m.rd.after, m.unacked, m.subBlocked)
	for _, c := range m.consumers {
		ps := slices.SortedFunc(maps.Keys(c.pending), Position.Compare)
		fmt.Fprintf(&b, "c%d permits=%d unacked=%d blocked=%t pending=%v\n", c.info.ID, c.permits, c.unacked, c.blocked, ps)
	}
	var replay []Position
	m.replay.Ascend(func(p Position) bool { replay = append(replay, p); return true })
	fmt.Fprintf(&b, "replay=%v\n", replay)
	if len(m.redeliveries) > 0 {
		ps := slices.SortedFunc(maps.Keys(m.redeliveries), Position.Compare)
		b.WriteString("redeliveries:")
		for _, p := range ps {
			fmt.Fprintf(&b, " %s=%d", p, m.redeliveries[p])
		}
		b.WriteByte('\n')
	}
	if m.keyed {
		for _, h := range slices.Sorted(maps.Keys(m.hashes)) {
			hs := m.hashes[h]
			fmt.Fprintf(&b, "hash %d:", h)
			if hs.pendingCount > 0 {
				fmt.Fprintf(&b, " pending=%d on c%d", hs.pendingCount, hs.pendingOn)
			}
			if len(hs.replay) > 0 {
				fmt.Fprintf(&b, " replay=%v", hs.replay)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func fmtPositions(es []Entry) string {
	ps := make([]string, len(es))
	for i, e := range es {
		ps[i] = e.Pos.String()
	}
	return "[" + strings.Join(ps, " ") + "]"
}

// positionArgs collects the bare "L:E" and "L:A..B" arguments.
func positionArgs(td *datadriven.TestData) ([]Position, error) {
	var ps []Position
	for _, a := range td.CmdArgs {
		if len(a.Vals) > 0 || !strings.Contains(a.Key, ":") {
			continue
		}
		l, e, _ := strings.Cut(a.Key, ":")
		lo, hi, isRange := strings.Cut(e, "..")
		if !isRange {
			hi = lo
		}
		ledger, err1 := strconv.ParseInt(l, 10, 64)
		first, err2 := strconv.ParseInt(lo, 10, 64)
		last, err3 := strconv.ParseInt(hi, 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("bad position %q", a.Key)
		}
		for x := first; x <= last; x++ {
			ps = append(ps, Position{ledger, x})
		}
	}
	return ps, nil
}

func parsePosition(s string) (Position, error) {
	l, e, ok := strings.Cut(s, ":")
	ledger, err1 := strconv.ParseInt(l, 10, 64)
	entry, err2 := strconv.ParseInt(e, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return Position{}, fmt.Errorf("bad position %q", s)
	}
	return Position{ledger, entry}, nil
}

func intArg(t *testing.T, td *datadriven.TestData, key string, def int) int {
	if !td.HasArg(key) {
		return def
	}
	var v int
	td.ScanArgs(t, key, &v)
	return v
}

func strArg(t *testing.T, td *datadriven.TestData, key, def string) string {
	if !td.HasArg(key) {
		return def
	}
	var v string
	td.ScanArgs(t, key, &v)
	return v
}
