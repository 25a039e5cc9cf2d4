package replication

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// The replicator's state machine is tested by scripted traces (testdata/sm/*.txt), in the
// style of the ledger's and the managed ledger's state machines (bookie/ledger/sm_test.go,
// broker/managedledger/addsm_test.go): each command feeds one input and prints what the
// state machine then asks its driver to do. Time is a duration from the start; every
// command takes t=D to move the clock first. Run with -rewrite to regenerate the expected
// output, then review the diff line by line.
//
// Commands:
//
//	new [local=a] [remote=b] [queue=N] [batch=MIN-MAX] [backoff=D-D] [read-backoff=D-D]
//	    [mark-delete=L:E]
//	start
//	connected [conn=N]                  the producer asked for was created
//	connect-failed [conn=N] [reason=…]
//	disconnected [conn=N] [reason=…]
//	read-done [id=N]                    one input line per entry read:
//	                                    L:E [p=NAME] [seq=N] [from=C] [to=C,C] [msgs=N] [size=N]
//	read-failed [id=N] [reason=…]
//	receipt pos=L:E[,L:E…] [conn=N]     receipts, in order
//	send-failed pos=L:E [conn=N] [reason=…]
//	quota-exceeded [conn=N]
//	permits [msgs=N] [bytes=N]          -1 (default): unlimited
//	tick
//	close
//	state
//
// conn and id default to the latest producer and read asked for.
func TestTraces(t *testing.T) {
	datadriven.Walk(t, "testdata/sm", func(t *testing.T, path string) {
		h := &harness{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

type harness struct {
	r      *Replicator
	start  time.Time
	now    time.Time
	conn   uint64
	readID uint64
}

func arg(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return strings.Join(a.Vals, ",")
		}
	}
	return def
}

func argInt(t *testing.T, d *datadriven.TestData, key string, def int64) int64 {
	s := arg(d, key, "")
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: bad %s=%q", d.Pos, key, s)
	}
	return n
}

func argDurs(t *testing.T, d *datadriven.TestData, key string) (time.Duration, time.Duration) {
	s := arg(d, key, "")
	if s == "" {
		return 0, 0
	}
	lo, hi, _ := strings.Cut(s, "-")
	a, err1 := time.ParseDuration(lo)
	b, err2 := time.ParseDuration(hi)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: bad %s=%q", d.Pos, key, s)
	}
	return a, b
}

func parsePos(t *testing.T, pos, s string) Position {
	l, e, ok := strings.Cut(s, ":")
	a, err1 := strconv.ParseInt(l, 10, 64)
	b, err2 := strconv.ParseInt(e, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("%s: bad position %q", pos, s)
	}
	return Position{Ledger: a, Entry: b}
}

// parseEntry reads "L:E [p=NAME] [seq=N] [from=C] [to=C,C] [msgs=N] [size=N]".
func parseEntry(t *testing.T, pos, line string) Entry {
	f := strings.Fields(line)
	e := Entry{Pos: parsePos(t, pos, f[0]), ProducerName: "p", Messages: 1, Size: 10}
	e.SequenceID = e.Pos.Entry
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "p":
			e.ProducerName = v
		case "seq":
			e.SequenceID = n
		case "from":
			e.ReplicatedFrom = v
		case "to":
			e.ReplicateTo = strings.Split(v, ",")
		case "msgs":
			e.Messages = int(n)
		case "size":
			e.Size = int(n)
		default:
			t.Fatalf("%s: bad entry field %q", pos, kv)
		}
	}
	return e
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	if d.Cmd != "new" && h.r == nil {
		t.Fatalf("%s: no replicator; start with new", d.Pos)
	}
	if s := arg(d, "t", ""); s != "" {
		dur, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s: bad t=%q", d.Pos, s)
		}
		if now := h.start.Add(dur); now.Before(h.now) {
			t.Fatalf("%s: time goes backwards", d.Pos)
		} else {
			h.now = now
		}
	}
	conn := uint64(argInt(t, d, "conn", int64(h.conn)))
	reason := arg(d, "reason", "boom")
	var rds []Ready
	switch d.Cmd {
	case "new":
		cfg := Config{Local: arg(d, "local", "a"), Remote: arg(d, "remote", "b")}
		cfg.QueueSize = int(argInt(t, d, "queue", 0))
		if s := arg(d, "batch", ""); s != "" {
			lo, hi, _ := strings.Cut(s, "-")
			cfg.MinReadBatch, _ = strconv.Atoi(lo)
			cfg.MaxReadBatch, _ = strconv.Atoi(hi)
		}
		cfg.BackoffInitial, cfg.BackoffMax = argDurs(t, d, "backoff")
		cfg.ReadBackoffInitial, cfg.ReadBackoffMax = argDurs(t, d, "read-backoff")
		cfg.MarkDelete = Position{Ledger: -1, Entry: -1}
		if s := arg(d, "mark-delete", ""); s != "" {
			cfg.MarkDelete = parsePos(t, d.Pos, s)
		}
		*h = harness{r: New(cfg), start: time.Unix(1000, 0)}
		h.now = h.start
		return fmt.Sprintf("cursor=%s producer=%s\n%s", CursorName(cfg.Remote), ProducerName(cfg.Local, cfg.Remote), h.state())
	case "start":
		rds = append(rds, h.r.Start(h.now))
	case "connected":
		rds = append(rds, h.r.Connected(h.now, conn))
	case "connect-failed":
		rds = append(rds, h.r.ConnectFailed(h.now, conn, reason))
	case "disconnected":
		rds = append(rds, h.r.Disconnected(h.now, conn, reason))
	case "read-done":
		var es []Entry
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				es = append(es, parseEntry(t, d.Pos, line))
			}
		}
		rds = append(rds, h.r.ReadDone(h.now, uint64(argInt(t, d, "id", int64(h.readID))), es))
	case "read-failed":
		rds = append(rds, h.r.ReadFailed(h.now, uint64(argInt(t, d, "id", int64(h.readID))), reason))
	case "receipt":
		for _, s := range strings.Split(arg(d, "pos", ""), ",") {
			rds = append(rds, h.r.Receipt(h.now, conn, parsePos(t, d.Pos, s)))
		}
	case "send-failed":
		rds = append(rds, h.r.SendFailed(h.now, conn, parsePos(t, d.Pos, arg(d, "pos", "")), reason))
	case "quota-exceeded":
		rds = append(rds, h.r.QuotaExceeded(h.now, conn))
	case "permits":
		rds = append(rds, h.r.Permits(h.now, argInt(t, d, "msgs", -1), argInt(t, d, "bytes", -1)))
	case "tick":
		rds = append(rds, h.r.Tick(h.now))
	case "close":
		rds = append(rds, h.r.Close(h.now))
	case "state":
		return h.state()
	default:
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	}
	var b strings.Builder
	for _, rd := range rds {
		h.format(&b, rd)
	}
	if b.Len() == 0 {
		return "(nothing)"
	}
	return b.String()
}

func (h *harness) rel(at time.Time) string { return at.Sub(h.start).String() }

func (h *harness) format(b *strings.Builder, rd Ready) {
	if rd.Disconnect {
		b.WriteString("disconnect\n")
	}
	if rd.Ack != nil {
		fmt.Fprintf(b, "ack up to %s\n", rd.Ack)
	}
	if rd.Rewind {
		b.WriteString("rewind to mark-delete\n")
	}
	if rd.Connect != 0 {
		h.conn = rd.Connect
		fmt.Fprintf(b, "connect conn=%d\n", rd.Connect)
	}
	for _, s := range rd.Sends {
		fmt.Fprintf(b, "send %s conn=%d producer=%s seq=%d replicated_from=%s\n",
			s.Entry.Pos, s.Conn, s.Entry.ProducerName, s.Entry.SequenceID, s.ReplicatedFrom)
	}
	if rd.Read != nil {
		h.readID = rd.Read.ID
		fmt.Fprintf(b, "read id=%d max=%d\n", rd.Read.ID, rd.Read.Max)
	}
	if !rd.Timer.IsZero() {
		fmt.Fprintf(b, "timer at %s\n", h.rel(rd.Timer))
	}
	if rd.Status != nil {
		fmt.Fprintf(b, "status %s\n", h.fmtStatus(*rd.Status))
	}
}

func (h *harness) fmtStatus(s Status) string {
	out := s.State.String()
	if s.Reason != "" {
		out += ": " + s.Reason
	}
	if !s.RetryAt.IsZero() {
		out += " (retry at " + h.rel(s.RetryAt) + ")"
	}
	return out
}

func (h *harness) state() string {
	return fmt.Sprintf("status %s\nacked=%s in-flight=%d\n", h.fmtStatus(h.r.Status()), h.r.Acked(), h.r.InFlight())
}
