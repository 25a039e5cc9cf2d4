package autorecovery

import (
	"slices"

	"github.com/strata-io/strata/bookie/ledger"
)

// fragmentSpan describes fragment i of m: its entries first..last (last < first when it
// holds none) and whether they can still change. A fragment is immutable when another
// fragment follows it (the writer moved on at the first unacknowledged entry, so every
// entry before is acknowledged) or the ledger is CLOSED; only the last fragment of a
// ledger that is OPEN or IN_RECOVERY is not.
func fragmentSpan(m *ledger.Metadata, i int) (first, last int64, immutable bool) {
	first = m.Fragments[i].FirstEntry
	closed := m.State == ledger.StateClosed
	if i+1 < len(m.Fragments) {
		last = m.Fragments[i+1].FirstEntry - 1
		if closed {
			last = min(last, m.LastEntry)
		}
		return first, last, true
	}
	if closed {
		return first, m.LastEntry, true
	}
	return first, -1, false
}

// entriesAt returns the entries of first..last stored at ensemble position pos: those
// whose write set — ledger.WriteSet, the striping the writer uses — holds pos.
func entriesAt(first, last int64, pos, ensembleSize, writeQuorum int) []int64 {
	var out []int64
	for e := first; e <= last; e++ {
		if slices.Contains(ledger.WriteSet(e, ensembleSize, writeQuorum), pos) {
			out = append(out, e)
		}
	}
	return out
}
