package ledger

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The state machines are tested by scripted traces (testdata/write_*.txt,
// testdata/recovery_*.txt): each command feeds one input and prints what the state
// machine then asks the driver to do. Run with -rewrite to regenerate the expected
// output, then review the diff line by line.

func TestWriteTraces(t *testing.T) {
	datadriven.Walk(t, "testdata/write", func(t *testing.T, path string) {
		h := &writeHarness{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

func TestRecoveryTraces(t *testing.T) {
	datadriven.Walk(t, "testdata/recovery", func(t *testing.T, path string) {
		h := &recoveryHarness{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

// ---- shared helpers ----

func argStr(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return strings.Join(a.Vals, ",")
		}
	}
	return def
}

func argInt(t *testing.T, d *datadriven.TestData, key string, def int64) int64 {
	s := argStr(d, key, "")
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: bad %s=%q", d.Pos, key, s)
	}
	return n
}

func argInts(t *testing.T, d *datadriven.TestData, key string) []int64 {
	var out []int64
	for _, f := range strings.Split(argStr(d, key, ""), ",") {
		if f == "" {
			continue
		}
		if lo, hi, ok := strings.Cut(f, "-"); ok {
			a, err1 := strconv.ParseInt(lo, 10, 64)
			b, err2 := strconv.ParseInt(hi, 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: bad range %q", d.Pos, f)
			}
			for i := a; i <= b; i++ {
				out = append(out, i)
			}
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("%s: bad %s=%q", d.Pos, key, f)
		}
		out = append(out, n)
	}
	return out
}

// parseMeta builds metadata from E=, Qw=, Qa=, ensemble=b1,b2,b3 or
// fragments=0:b1,b2,b3;5:b1,b4,b3 and state=.
func parseMeta(t *testing.T, d *datadriven.TestData) *Metadata {
	m := &Metadata{
		FormatVersion: MetadataFormatVersion,
		ID:            1,
		EnsembleSize:  int(argInt(t, d, "E", 3)),
		WriteQuorum:   int(argInt(t, d, "Qw", 2)),
		AckQuorum:     int(argInt(t, d, "Qa", 2)),
		State:         State(argStr(d, "state", string(StateOpen))),
		LastEntry:     -1,
	}
	if fr := argStr(d, "fragments", ""); fr != "" {
		for _, f := range strings.Split(fr, ";") {
			first, ens, _ := strings.Cut(f, ":")
			n, _ := strconv.ParseInt(first, 10, 64)
			m.Fragments = append(m.Fragments, Fragment{FirstEntry: n, Ensemble: strings.Split(ens, ",")})
		}
	} else {
		m.Fragments = []Fragment{{FirstEntry: 0, Ensemble: strings.Split(argStr(d, "ensemble", "b1,b2,b3"), ",")}}
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("%s: %v", d.Pos, err)
	}
	return m
}

// parseReplace reads replace=1:b4,2:b5.
func parseReplace(t *testing.T, d *datadriven.TestData) map[int]string {
	out := map[int]string{}
	for _, f := range strings.Split(argStr(d, "replace", ""), ",") {
		if f == "" {
			continue
		}
		p, b, ok := strings.Cut(f, ":")
		n, err := strconv.Atoi(p)
		if !ok || err != nil {
			t.Fatalf("%s: bad replace %q", d.Pos, f)
		}
		out[n] = b
	}
	return out
}

// parseErr turns reason=NO_SUCH_ENTRY / unavailable / timeout into the error a driver
// would see.
func parseErr(d *datadriven.TestData) error {
	switch r := argStr(d, "reason", "unavailable"); r {
	case "unavailable":
		return status.Error(codes.Unavailable, "connection refused")
	case "timeout":
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	default:
		return bookiev1.Error(r, "from trace")
	}
}

func fmtSends(b *strings.Builder, sends []Send) {
	for _, s := range sends {
		fmt.Fprintf(b, "send %s e=%d lac=%d", s.Bookie, s.Entry, s.LAC)
		if s.Recovery {
			b.WriteString(" recovery")
		}
		b.WriteString("\n")
	}
}

func fmtChange(b *strings.Builder, c *EnsembleChange) {
	if c == nil {
		return
	}
	var rs []string
	for _, r := range c.Replace {
		rs = append(rs, fmt.Sprintf("%d:%s", r.Position, r.Bookie))
	}
	fmt.Fprintf(b, "ensemble-change first=%d replace=%s ensemble=%s\n", c.FirstEntry, strings.Join(rs, ","), strings.Join(c.Ensemble, ","))
}

func fmtClose(b *strings.Builder, c *CloseLedger) {
	if c != nil {
		fmt.Fprintf(b, "close last=%d length=%d\n", c.LastEntry, c.Length)
	}
}

func fmtMeta(b *strings.Builder, m *Metadata) {
	fmt.Fprintf(b, "metadata state=%s", m.State)
	for _, f := range m.Fragments {
		fmt.Fprintf(b, " [%d:%s]", f.FirstEntry, strings.Join(f.Ensemble, ","))
	}
	b.WriteString("\n")
}

func output(b *strings.Builder) string {
	if b.Len() == 0 {
		return "(nothing)"
	}
	return b.String()
}

// ---- write state machine ----

type writeHarness struct {
	sm         *WriteSM
	lastChange *EnsembleChange
}

func (h *writeHarness) run(t *testing.T, d *datadriven.TestData) string {
	var b strings.Builder
	if d.Cmd != "new" && h.sm == nil {
		t.Fatalf("%s: no state machine; start with new", d.Pos)
	}
	switch d.Cmd {
	case "new":
		m := parseMeta(t, d)
		sm, err := NewWriteSM(m, WriteSMConfig{TimeoutTicks: argInt(t, d, "timeout", 0)})
		if err != nil {
			return "error: " + err.Error()
		}
		h.sm, h.lastChange = sm, nil
		fmtMeta(&b, m)
		return b.String()
	case "append":
		n := argInt(t, d, "n", 1)
		data := argStr(d, "data", "x")
		for i := int64(0); i < n; i++ {
			e, err := h.sm.Append([]byte(data), 0)
			if err != nil {
				fmt.Fprintf(&b, "append: error: %v\n", err)
			} else {
				fmt.Fprintf(&b, "append -> e=%d\n", e)
			}
		}
	case "ack":
		for _, bk := range strings.Split(argStr(d, "bookie", ""), ",") {
			for _, e := range argInts(t, d, "e") {
				h.sm.Ack(bk, e)
			}
		}
	case "fail":
		for _, bk := range strings.Split(argStr(d, "bookie", ""), ",") {
			h.sm.BookieFailed(bk)
		}
	case "fenced":
		h.sm.Fenced()
	case "abort":
		h.sm.Abort(ErrClientClosed)
	case "rejected":
		h.sm.Rejected(parseErr(d))
	case "ensemble-changed":
		if h.lastChange == nil {
			t.Fatalf("%s: no ensemble change was asked for", d.Pos)
		}
		m, err := h.sm.Metadata().WithEnsembleChange(h.lastChange.FirstEntry, parseReplace(t, d))
		if err != nil {
			return "error: " + err.Error()
		}
		h.sm.EnsembleChanged(m)
		fmtMeta(&b, h.sm.Metadata())
	case "cas-lost":
		m := h.sm.Metadata().Clone()
		if st := argStr(d, "state", ""); st != "" {
			m.State = State(st)
		}
		if r := parseReplace(t, d); len(r) > 0 {
			var err error
			if m, err = m.WithEnsembleChange(h.sm.LAC()+1, r); err != nil {
				return "error: " + err.Error()
			}
		}
		h.sm.EnsembleChangeConflict(m)
	case "no-bookies":
		h.sm.EnsembleChangeFailed(fmt.Errorf("replacing: %w", ErrNotEnoughBookies))
	case "tick":
		for i := argInt(t, d, "n", 1); i > 0; i-- {
			h.sm.Tick()
		}
	case "close":
		h.sm.Close()
	case "explicit-lac":
		if lac, bookies, ok := h.sm.ExplicitLACDue(); ok {
			fmt.Fprintf(&b, "lac-only lac=%d to %s\n", lac, strings.Join(bookies, ","))
			h.sm.ExplicitLACSent(lac)
		} else {
			b.WriteString("explicit LAC not due\n")
		}
	case "state":
		h.printState(&b)
		return b.String()
	default:
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	}
	rd := h.sm.Ready()
	fmtSends(&b, rd.Sends)
	for _, c := range rd.Completed {
		if c.Err == nil {
			fmt.Fprintf(&b, "acknowledged e=%d\n", c.Entry)
		} else {
			fmt.Fprintf(&b, "failed e=%d: %v\n", c.Entry, c.Err)
		}
	}
	if rd.Change != nil {
		h.lastChange = rd.Change
	}
	fmtChange(&b, rd.Change)
	fmtClose(&b, rd.Close)
	return output(&b)
}

func (h *writeHarness) printState(b *strings.Builder) {
	s := h.sm
	fmt.Fprintf(b, "lac=%d next=%d length=%d changing=%t", s.lac, s.next, s.ackedBytes, s.changing)
	if s.err != nil {
		fmt.Fprintf(b, " err=%q", s.err)
	}
	b.WriteString("\n")
	if len(s.failing) > 0 {
		var ps []string
		for p, bk := range s.failing {
			ps = append(ps, fmt.Sprintf("%d:%s", p, bk))
		}
		slices.Sort(ps)
		fmt.Fprintf(b, "failing %s\n", strings.Join(ps, ","))
	}
	for _, p := range s.pending {
		var acked []string
		for slot, ok := range p.acked {
			if ok {
				acked = append(acked, s.ens[(p.entry+int64(slot))%int64(s.e)])
			}
		}
		fmt.Fprintf(b, "pending e=%d acked=[%s]\n", p.entry, strings.Join(acked, ","))
	}
	fmtMeta(b, s.meta)
}

// ---- recovery state machine ----

type recoveryHarness struct {
	sm         *RecoverySM
	lastChange *EnsembleChange
}

func (h *recoveryHarness) run(t *testing.T, d *datadriven.TestData) string {
	var b strings.Builder
	if d.Cmd != "recover" && h.sm == nil {
		t.Fatalf("%s: no state machine; start with recover", d.Pos)
	}
	switch d.Cmd {
	case "recover":
		d.CmdArgs = append(d.CmdArgs, datadriven.CmdArg{Key: "state", Vals: []string{string(StateInRecovery)}})
		m := parseMeta(t, d)
		sm, err := NewRecoverySM(m, RecoveryConfig{
			ReadWindow:   int(argInt(t, d, "window", 1)),
			TimeoutTicks: argInt(t, d, "timeout", 0),
		})
		if err != nil {
			return "error: " + err.Error()
		}
		h.sm, h.lastChange = sm, nil
		fmtMeta(&b, m)
	case "fence-ok":
		h.sm.FenceReply(argStr(d, "bookie", ""), argInt(t, d, "lac", -1))
	case "fence-err":
		for _, bk := range strings.Split(argStr(d, "bookie", ""), ",") {
			h.sm.FenceFailed(bk, parseErr(d))
		}
	case "read-ok":
		for _, e := range argInts(t, d, "e") {
			data := argStr(d, "data", fmt.Sprintf("p%d", e))
			h.sm.ReadReply(argStr(d, "bookie", ""), e, []byte(data), 0)
		}
	case "read-err":
		for _, e := range argInts(t, d, "e") {
			h.sm.ReadFailed(argStr(d, "bookie", ""), e, parseErr(d))
		}
	case "add-ack":
		for _, bk := range strings.Split(argStr(d, "bookie", ""), ",") {
			for _, e := range argInts(t, d, "e") {
				h.sm.AddAck(bk, e)
			}
		}
	case "add-fail":
		h.sm.AddFailed(argStr(d, "bookie", ""))
	case "ensemble-changed":
		if h.lastChange == nil {
			t.Fatalf("%s: no ensemble change was asked for", d.Pos)
		}
		m, err := h.sm.Metadata().WithEnsembleChange(h.lastChange.FirstEntry, parseReplace(t, d))
		if err != nil {
			return "error: " + err.Error()
		}
		h.sm.EnsembleChanged(m)
		fmtMeta(&b, h.sm.Metadata())
	case "cas-lost":
		m := h.sm.Metadata().Clone()
		m.State = State(argStr(d, "state", string(m.State)))
		h.sm.EnsembleChangeConflict(m)
	case "no-bookies":
		h.sm.EnsembleChangeFailed(fmt.Errorf("replacing: %w", ErrNotEnoughBookies))
	case "tick":
		for i := argInt(t, d, "n", 1); i > 0; i-- {
			h.sm.Tick()
		}
	default:
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	}
	rd := h.sm.Ready()
	if len(rd.Fence) > 0 {
		fmt.Fprintf(&b, "fence %s\n", strings.Join(rd.Fence, ","))
	}
	for _, r := range rd.Reads {
		fmt.Fprintf(&b, "read %s e=%d\n", r.Bookie, r.Entry)
	}
	fmtSends(&b, rd.Sends)
	if rd.Change != nil {
		h.lastChange = rd.Change
	}
	fmtChange(&b, rd.Change)
	fmtClose(&b, rd.Close)
	if rd.Err != nil {
		fmt.Fprintf(&b, "recovery failed: %v\n", rd.Err)
	}
	return output(&b)
}
