package queuecheck

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Options says which rules apply to a subscription's deliveries.
type Options struct {
	// Ordered: the subscription is exclusive or failover on a non-partitioned topic,
	// so each producer's messages must be first delivered in increasing sequence
	// order. (Redeliveries of earlier messages may come later: they are duplicates.)
	Ordered bool
}

// Report is the outcome of Check.
type Report struct {
	// Producer side: attempts, and how they ended (Pending: no outcome yet).
	Sent, Acked, Failed, Pending int
	// Consumer side: deliveries, distinct ids among the valid ones, and deliveries of
	// an id already delivered.
	Consumed, Unique, Duplicates int
	// UnackedDelivered counts distinct delivered ids whose send failed or has no
	// outcome: allowed (a failed send may have been stored), reported for insight.
	UnackedDelivered int

	// Violations.
	Lost     []ID       // acknowledged, never delivered intact; sorted
	Phantoms []Delivery // delivered, but no producer attempted that id
	Corrupt  []Delivery // delivered under an attempted id with other bytes
	Reorders []Reorder  // with Options.Ordered: first deliveries out of send order

	// SendErrors counts the failed sends by error message.
	SendErrors map[string]int
}

// Reorder is a message first delivered after a later message of its producer.
type Reorder struct {
	ID    ID
	After uint64 // the highest sequence of the producer first delivered before it
	Index int    // position of the delivery in the subscription's deliveries
}

func (r Reorder) String() string {
	return fmt.Sprintf("%s after #%d (delivery %d)", r.ID, r.After, r.Index)
}

// reportFirst is how many items of each violation list String shows.
const reportFirst = 10

// Check compares the deliveries of one subscription with the sends. It may be called
// while producers and consumers still run, but a Lost id then may only be late.
func Check(s *Sends, r *Receipts, o Options) Report {
	s.mu.Lock()
	attempts := make(map[ID]attempt, len(s.attempts))
	for id, a := range s.attempts {
		attempts[id] = *a
	}
	rep := Report{Sent: len(s.attempts), Acked: s.nAcked, Failed: s.nFailed,
		Pending: len(s.attempts) - s.nAcked - s.nFailed, SendErrors: maps.Clone(s.errs)}
	s.mu.Unlock()
	deliveries, _ := r.since(0)
	check(&rep, attempts, deliveries, o)
	return rep
}

// check fills in the consumer side and the violations of rep from a snapshot.
func check(rep *Report, attempts map[ID]attempt, deliveries []Delivery, o Options) {
	rep.Consumed = len(deliveries)
	delivered := map[ID]bool{}     // ids delivered intact
	highest := map[string]uint64{} // per producer: highest sequence first-delivered
	anyFirst := map[string]bool{}  // per producer: whether highest is set
	for i, d := range deliveries {
		a, ok := attempts[d.ID]
		switch {
		case !d.Valid || !ok:
			rep.Phantoms = append(rep.Phantoms, d)
			continue
		case d.Sum != a.sum:
			rep.Corrupt = append(rep.Corrupt, d)
			continue
		case delivered[d.ID]:
			rep.Duplicates++
			continue
		}
		delivered[d.ID] = true
		if a.state != acked {
			rep.UnackedDelivered++
		}
		p := d.ID.Producer
		if anyFirst[p] && d.ID.Seq < highest[p] {
			if o.Ordered {
				rep.Reorders = append(rep.Reorders, Reorder{ID: d.ID, After: highest[p], Index: i})
			}
			continue
		}
		highest[p], anyFirst[p] = d.ID.Seq, true
	}
	rep.Unique = len(delivered)
	for id, a := range attempts {
		if a.state == acked && !delivered[id] {
			rep.Lost = append(rep.Lost, id)
		}
	}
	sortIDs(rep.Lost)
}

func sortIDs(ids []ID) {
	slices.SortFunc(ids, func(a, b ID) int {
		return cmp.Or(strings.Compare(a.Producer, b.Producer), cmp.Compare(a.Seq, b.Seq))
	})
}

// OK reports whether no rule was broken.
func (r Report) OK() bool {
	return len(r.Lost) == 0 && len(r.Phantoms) == 0 && len(r.Corrupt) == 0 && len(r.Reorders) == 0
}

// Err is nil when no rule was broken, and otherwise says which were (with String's
// summary).
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	return errors.New("queuecheck: " + r.String())
}

// String is a one-paragraph summary: the counts, then the first few ids of each
// violation.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent %d (acked %d, failed %d, pending %d); consumed %d (unique %d, duplicates %d, unacked delivered %d); lost %d, phantoms %d, corrupt %d, reordered %d",
		r.Sent, r.Acked, r.Failed, r.Pending, r.Consumed, r.Unique, r.Duplicates, r.UnackedDelivered,
		len(r.Lost), len(r.Phantoms), len(r.Corrupt), len(r.Reorders))
	list(&b, "lost", r.Lost)
	list(&b, "phantoms", r.Phantoms)
	list(&b, "corrupt", r.Corrupt)
	list(&b, "reordered", r.Reorders)
	if len(r.SendErrors) > 0 {
		msgs := slices.Sorted(maps.Keys(r.SendErrors))
		b.WriteString("\n  send errors:")
		for _, m := range msgs {
			fmt.Fprintf(&b, " %dx %q", r.SendErrors[m], m)
		}
	}
	return b.String()
}

func list[T fmt.Stringer](b *strings.Builder, name string, xs []T) {
	if len(xs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n  %s:", name)
	for _, x := range xs[:min(len(xs), reportFirst)] {
		fmt.Fprintf(b, " %s", x)
	}
	if len(xs) > reportFirst {
		fmt.Fprintf(b, " ... (%d more)", len(xs)-reportFirst)
	}
}
