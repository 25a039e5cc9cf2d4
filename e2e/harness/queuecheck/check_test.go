package queuecheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
)

// A scripted history: sends with their outcomes, then deliveries in order. Payloads
// are built with Payload from a fixed seed, so a delivery of "a#1" carries exactly
// the bytes attempted under a#1 unless the script says otherwise.
type history struct {
	sends      []scriptSend
	deliveries []string // "a#1": the payload of a#1; "!a#1": a#1's header with other padding; anything else: raw bytes
}

type scriptSend struct {
	id      string // "a#1"
	outcome string // "ack", "fail" or "" (pending)
}

func parseID(t *testing.T, s string) ID {
	t.Helper()
	p, seq, ok := strings.Cut(s, "#")
	var n uint64
	if _, err := fmt.Sscan(seq, &n); !ok || err != nil {
		t.Fatalf("bad id %q in script", s)
	}
	return ID{Producer: p, Seq: n}
}

// payloadOf is the payload the script's producer sends under id.
func payloadOf(id ID) []byte {
	return Payload(id, 64, rand.New(rand.NewPCG(1, id.Seq)))
}

func (h history) run(t *testing.T, o Options) Report {
	t.Helper()
	s, r := NewSends(), NewReceipts()
	for _, e := range h.sends {
		id := parseID(t, e.id)
		s.Attempt(id, payloadOf(id))
		switch e.outcome {
		case "ack":
			s.Ack(id)
		case "fail":
			s.Fail(id, errors.New("send timeout"))
		}
	}
	for i, d := range h.deliveries {
		msgID := fmt.Sprintf("0:%d", i)
		switch {
		case strings.HasPrefix(d, "!"):
			id := parseID(t, d[1:])
			r.Record(Payload(id, 64, rand.New(rand.NewPCG(2, id.Seq))), msgID)
		case strings.Contains(d, "#"):
			r.Record(payloadOf(parseID(t, d)), msgID)
		default:
			r.Record([]byte(d), msgID)
		}
	}
	return Check(s, r, o)
}

func acks(ids ...string) []scriptSend {
	out := make([]scriptSend, len(ids))
	for i, id := range ids {
		out[i] = scriptSend{id: id, outcome: "ack"}
	}
	return out
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		h       history
		ordered bool
		// want: the counts and violations, compared field by field below.
		acked, failed, pending, consumed, unique, dups, unackedDelivered int
		lost, phantoms, corrupt, reorders                                []string
	}{{
		name:  "clean",
		h:     history{sends: acks("a#0", "a#1", "a#2"), deliveries: []string{"a#0", "a#1", "a#2"}},
		acked: 3, consumed: 3, unique: 3, ordered: true,
	}, {
		name:  "lost",
		h:     history{sends: acks("a#0", "a#1", "a#2", "b#0"), deliveries: []string{"a#0", "a#2"}},
		acked: 4, consumed: 2, unique: 2, ordered: true,
		lost: []string{"a#1", "b#0"},
	}, {
		name: "failed and pending sends may be delivered or not",
		h: history{sends: []scriptSend{{"a#0", "ack"}, {"a#1", "fail"}, {"a#2", "fail"}, {"a#3", ""}, {"a#4", ""}, {"a#5", "ack"}},
			deliveries: []string{"a#0", "a#1", "a#3", "a#5"}},
		acked: 2, failed: 2, pending: 2, consumed: 4, unique: 4, unackedDelivered: 2, ordered: true,
	}, {
		name:  "duplicates are counted, not errors",
		h:     history{sends: acks("a#0", "a#1"), deliveries: []string{"a#0", "a#0", "a#1", "a#1", "a#1"}},
		acked: 2, consumed: 5, unique: 2, dups: 3, ordered: true,
	}, {
		name:  "a redelivery of an earlier message after a later one is not a reorder",
		h:     history{sends: acks("a#0", "a#1", "a#2"), deliveries: []string{"a#0", "a#1", "a#2", "a#1", "a#2"}},
		acked: 3, consumed: 5, unique: 3, dups: 2, ordered: true,
	}, {
		name:  "phantoms: an id never attempted, and bytes of no producer",
		h:     history{sends: acks("a#0"), deliveries: []string{"a#0", "a#7", "c#0", "hello"}},
		acked: 1, consumed: 4, unique: 1, ordered: true,
		phantoms: []string{"a#7", "c#0", `"hello"...`},
	}, {
		name:  "corrupt: an attempted id with other bytes; the id is lost without an intact copy",
		h:     history{sends: acks("a#0", "a#1"), deliveries: []string{"!a#0", "a#1", "!a#1"}},
		acked: 2, consumed: 3, unique: 1, ordered: true,
		corrupt: []string{"a#0", "a#1"}, lost: []string{"a#0"},
	}, {
		name:  "reorder of first deliveries",
		h:     history{sends: acks("a#0", "a#1", "a#2", "a#3"), deliveries: []string{"a#0", "a#2", "a#1", "a#3"}},
		acked: 4, consumed: 4, unique: 4, ordered: true,
		reorders: []string{"a#1 after #2 (delivery 2)"},
	}, {
		name:  "reorder is not checked for unordered subscriptions",
		h:     history{sends: acks("a#0", "a#1", "a#2", "a#3"), deliveries: []string{"a#0", "a#2", "a#1", "a#3"}},
		acked: 4, consumed: 4, unique: 4, ordered: false,
	}, {
		name: "order is per producer",
		h: history{sends: acks("a#0", "b#0", "a#1", "b#1", "b#2"),
			deliveries: []string{"b#0", "a#0", "b#1", "b#2", "a#1"}},
		acked: 5, consumed: 5, unique: 5, ordered: true,
	}, {
		name:  "a gap in acked sequences is a loss, and what follows is in order",
		h:     history{sends: acks("a#0", "a#1", "a#2"), deliveries: []string{"a#0", "a#2"}},
		acked: 3, consumed: 2, unique: 2, ordered: true,
		lost: []string{"a#1"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := tc.h.run(t, Options{Ordered: tc.ordered})
			gotCounts := []int{rep.Sent, rep.Acked, rep.Failed, rep.Pending, rep.Consumed, rep.Unique, rep.Duplicates, rep.UnackedDelivered}
			wantCounts := []int{len(tc.h.sends), tc.acked, tc.failed, tc.pending, tc.consumed, tc.unique, tc.dups, tc.unackedDelivered}
			if !slices.Equal(gotCounts, wantCounts) {
				t.Errorf("sent, acked, failed, pending, consumed, unique, duplicates, unacked delivered = %v, want %v", gotCounts, wantCounts)
			}
			eq := func(what string, got []string, want []string) {
				if !slices.Equal(got, want) {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			eq("lost", strs(rep.Lost), tc.lost)
			eq("phantoms", deliveryStrs(rep.Phantoms), tc.phantoms)
			eq("corrupt", deliveryStrs(rep.Corrupt), tc.corrupt)
			eq("reorders", strs(rep.Reorders), tc.reorders)
			wantOK := len(tc.lost)+len(tc.phantoms)+len(tc.corrupt)+len(tc.reorders) == 0
			if rep.OK() != wantOK || (rep.Err() == nil) != wantOK {
				t.Errorf("OK() = %v, Err() = %v; want ok %v", rep.OK(), rep.Err(), wantOK)
			}
			if t.Failed() {
				t.Logf("report: %s", rep)
			}
		})
	}
}

func strs[T fmt.Stringer](xs []T) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}

// deliveryStrs names deliveries by id, or by their quoted head if they did not parse.
func deliveryStrs(ds []Delivery) []string {
	var out []string
	for _, d := range ds {
		if d.Valid {
			out = append(out, d.ID.String())
		} else {
			out = append(out, fmt.Sprintf("%q...", d.Head))
		}
	}
	return out
}

func TestReportStringListsFirstLost(t *testing.T) {
	var h history
	for i := range 25 {
		h.sends = append(h.sends, scriptSend{id: fmt.Sprintf("p#%d", i), outcome: "ack"})
	}
	h.sends = append(h.sends, scriptSend{id: "p#25", outcome: "fail"})
	h.deliveries = []string{"p#0"}
	s := h.run(t, Options{Ordered: true}).String()
	for _, want := range []string{
		"sent 26 (acked 25, failed 1, pending 0)",
		"consumed 1 (unique 1, duplicates 0",
		"lost 24, phantoms 0",
		"lost: p#1 p#2 p#3 p#4 p#5 p#6 p#7 p#8 p#9 p#10 ... (14 more)",
		`1x "send timeout"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct {
		id   ID
		size int
	}{{ID{"p1", 0}, 100}, {ID{"producer-x", 1 << 40}, 1024}, {ID{"p", 12345}, 3}} {
		p := Payload(tc.id, tc.size, rng)
		if want := max(tc.size, len(fmt.Sprintf("qc1 %s %d ", tc.id.Producer, tc.id.Seq))); len(p) != want {
			t.Errorf("Payload(%s, %d) has %d bytes, want %d", tc.id, tc.size, len(p), want)
		}
		got, ok := ParsePayload(p)
		if !ok || got != tc.id {
			t.Errorf("ParsePayload(Payload(%s)) = %v, %v", tc.id, got, ok)
		}
	}
	for _, bad := range []string{"", "qc1 ", "qc1 p", "qc1 p 12", "qc1 p x ", "qc1  1 ", "qc2 p 1 ", "hello"} {
		if id, ok := ParsePayload([]byte(bad)); ok {
			t.Errorf("ParsePayload(%q) = %v, want not ok", bad, id)
		}
	}
}

func TestSendsRejectReuse(t *testing.T) {
	s := NewSends()
	id := ID{"a", 1}
	s.Attempt(id, []byte("x"))
	s.Ack(id)
	for name, f := range map[string]func(){
		"second attempt":          func() { s.Attempt(id, []byte("x")) },
		"second outcome":          func() { s.Fail(id, errors.New("late")) },
		"outcome without attempt": func() { s.Ack(ID{"a", 2}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

// TestWaits: WaitAcked and WaitConsumed return when another goroutine's records
// complete the condition, and report what is missing when their context ends.
func TestWaits(t *testing.T) {
	s, r := NewSends(), NewReceipts()
	ids := []ID{{"a", 0}, {"a", 1}, {"b", 0}}
	for _, id := range ids {
		s.Attempt(id, payloadOf(id))
	}
	ctx := testenv.Context(t, 30*time.Second)
	go func() {
		for _, id := range ids {
			s.Ack(id)
		}
	}()
	if err := s.WaitAcked(ctx, 3); err != nil {
		t.Fatal(err)
	}

	go func() {
		for _, id := range []ID{{"a", 0}, {"b", 0}, {"a", 0}, {"a", 1}} {
			r.Record(payloadOf(id), "m")
		}
	}()
	if err := WaitConsumed(ctx, s, r); err != nil {
		t.Fatal(err)
	}

	// Nothing more will come: the waits end with their context and say why.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := s.WaitAcked(short, 4); err == nil || !strings.Contains(err.Error(), "3 of 4") {
		t.Errorf("WaitAcked past the last ack: %v", err)
	}
	extra := ID{"c", 0}
	s.Attempt(extra, payloadOf(extra))
	s.Ack(extra)
	if err := WaitConsumed(short, s, r); err == nil || !strings.Contains(err.Error(), "1 acknowledged messages not delivered (first: [c#0])") {
		t.Errorf("WaitConsumed with c#0 never delivered: %v", err)
	}
}
