package cursor

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// lastPosition bounds Unacked when a test wants every unacknowledged entry.
var lastPosition = Position{Ledger: math.MaxInt64, Entry: math.MaxInt64}

// render prints the whole observable state: the form the scripted traces and the golden
// fixtures compare.
func render(s *State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mark-delete: %v\n", s.MarkDelete())
	var ranges []string
	for r := range s.AckedRanges() {
		ranges = append(ranges, r.String())
	}
	fmt.Fprintf(&b, "acked: %s (%d entries, %d ranges)\n", orNone(ranges), s.AckedCount(), s.RangeCount())
	for _, p := range s.batchPositions() {
		bt := s.batches[p]
		var idx []string
		for i := range bt.size {
			if bt.acked[i/64]&(1<<(i%64)) != 0 {
				idx = append(idx, strconv.Itoa(i))
			}
		}
		fmt.Fprintf(&b, "batch %v: size=%d acked=%s ack_set=%s\n",
			p, bt.size, strings.Join(idx, ","), wireString(s.BatchAckSet(p)))
	}
	fmt.Fprintf(&b, "unacked: %s\n", orNone(runs(s.Unacked(Earliest(), lastPosition))))
	fmt.Fprintf(&b, "backlog: %d\n", s.Backlog())
	return b.String()
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, " ")
}

// runs compresses a position sequence into ranges of consecutive entries of a ledger.
func runs(seq func(func(Position) bool)) []string {
	var out []string
	var cur Range
	open := false
	for p := range seq {
		if open && p.Ledger == cur.Last.Ledger && p.Entry == cur.Last.Entry+1 {
			cur.Last = p
			continue
		}
		if open {
			out = append(out, cur.String())
		}
		cur, open = Range{First: p, Last: p}, true
	}
	if open {
		out = append(out, cur.String())
	}
	return out
}

func wireString(ws []int64) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%#x", uint64(w))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestTraces(t *testing.T) {
	datadriven.Walk(t, "testdata/traces", func(t *testing.T, path string) {
		var s *State
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if s == nil && d.Cmd != "layout" {
				d.Fatalf(t, "the first command must be layout")
			}
			switch d.Cmd {
			case "layout":
				l := parseLayout(t, d)
				if s == nil {
					var err error
					if s, err = New(l); err != nil {
						return "error: " + err.Error()
					}
					return render(s)
				}
				return result(s, s.SetLayout(l))
			case "extend":
				var errs []string
				for _, g := range parseLayout(t, d) {
					if err := s.Extend(g.ID, g.Entries); err != nil {
						errs = append(errs, "error: "+err.Error())
					}
				}
				return strings.Join(append(errs, render(s)), "\n")
			case "ack":
				var errs []string
				for _, p := range positionArgs(t, d) {
					if err := s.AckIndividual(p); err != nil {
						errs = append(errs, "error: "+err.Error())
					}
				}
				return strings.Join(append(errs, render(s)), "\n")
			case "ack-cumulative":
				return result(s, s.AckCumulative(onePosition(t, d)))
			case "ack-batch":
				var size int
				d.ScanArgs(t, "size", &size)
				var idx []int
				for _, v := range listArg(d, "acked") {
					i, err := strconv.Atoi(v)
					if err != nil {
						d.Fatalf(t, "bad index %q", v)
					}
					idx = append(idx, i)
				}
				return result(s, s.AckBatchIndexes(onePosition(t, d), size, idx))
			case "ack-batch-wire", "ack-cumulative-batch":
				var size int
				d.ScanArgs(t, "size", &size)
				var words []int64
				for _, v := range listArg(d, "ack_set") {
					w, err := strconv.ParseUint(v, 0, 64)
					if err != nil {
						d.Fatalf(t, "bad word %q", v)
					}
					words = append(words, int64(w))
				}
				if d.Cmd == "ack-batch-wire" {
					return result(s, s.AckBatchWire(onePosition(t, d), size, words))
				}
				return result(s, s.AckCumulativeBatch(onePosition(t, d), size, words))
			case "reset":
				p := Earliest()
				if d.CmdArgs[0].Key != "earliest" {
					p = onePosition(t, d)
				}
				return result(s, s.Reset(p))
			case "show":
				return render(s)
			case "is-acked":
				var out []string
				for _, p := range positionArgs(t, d) {
					out = append(out, fmt.Sprintf("%v: %v", p, s.IsAcked(p)))
				}
				return strings.Join(out, "\n")
			case "unacked":
				from, to := Earliest(), lastPosition
				if v := listArg(d, "from"); v != nil {
					from = mustPosition(t, d, v[0])
				}
				if v := listArg(d, "to"); v != nil {
					to = mustPosition(t, d, v[0])
				}
				limit := -1
				d.MaybeScanArgs(t, "limit", &limit)
				var got []string
				for p := range s.Unacked(from, to) {
					if limit == 0 {
						break
					}
					limit--
					got = append(got, p.String())
				}
				return orNone(got)
			case "snapshot":
				size := s.EncodedSize()
				data := s.Marshal()
				if len(data) != size {
					d.Fatalf(t, "EncodedSize %d, Marshal wrote %d bytes", size, len(data))
				}
				before := render(s)
				back, err := Unmarshal(data, s.Layout())
				if err != nil {
					d.Fatalf(t, "Unmarshal: %v", err)
				}
				if after := render(back); after != before {
					d.Fatalf(t, "round trip changed the state:\n%s\nbecame\n%s", before, after)
				}
				s = back
				return fmt.Sprintf("%d bytes, round trip ok", size)
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
				return ""
			}
		})
	})
}

func result(s *State, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return render(s)
}

// parseLayout reads the bare arguments "id:entries ..." of a layout or extend command.
func parseLayout(t *testing.T, d *datadriven.TestData) Layout {
	l := Layout{}
	for _, a := range d.CmdArgs {
		p := mustPosition(t, d, a.Key)
		l = append(l, Ledger{ID: p.Ledger, Entries: p.Entry})
	}
	return l
}

// positionArgs returns the bare "ledger:entry" arguments.
func positionArgs(t *testing.T, d *datadriven.TestData) []Position {
	var ps []Position
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			ps = append(ps, mustPosition(t, d, a.Key))
		}
	}
	return ps
}

func onePosition(t *testing.T, d *datadriven.TestData) Position {
	ps := positionArgs(t, d)
	if len(ps) != 1 {
		d.Fatalf(t, "want one position, got %v", ps)
	}
	return ps[0]
}

func mustPosition(t *testing.T, d *datadriven.TestData, s string) Position {
	p, err := ParsePosition(s)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return p
}

// listArg returns the comma-separated values of key=a,b or key=(a, b); nil if absent.
func listArg(d *datadriven.TestData, key string) []string {
	a, ok := d.Arg(key)
	if !ok {
		return nil
	}
	var out []string
	for _, v := range a.Vals {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}
