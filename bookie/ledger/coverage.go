package ledger

// This file holds the pure quorum arithmetic of BookKeeper's round-robin distribution
// schedule: which ensemble positions store an entry, when a set of replies covers every
// write set, and in which order to ask the replicas of an entry.

// writeSetCovered reports whether every write set of an ensemble of size E with write
// quorum Qw has fewer than Qa "unknown" members, where unknown(p) says that ensemble
// position p has not answered, or answered with something other than an explicit
// negative. This is RRQuorumCoverageSet's rule: once it holds, no write set can still
// gather Qa acks from bookies that did not see the fence, so the old writer can never
// acknowledge another entry.
func writeSetCovered(E, Qw, Qa int, unknown func(pos int) bool) bool {
	for start := 0; start < E; start++ {
		n := 0
		for i := 0; i < Qw; i++ {
			if unknown((start + i) % E) {
				n++
			}
		}
		if n >= Qa {
			return false
		}
	}
	return true
}

// missingThreshold is how many explicit negatives from an entry's write set prove that
// the entry was never acknowledged: if Qa bookies had it, at most Qw−Qa could say no.
func missingThreshold(Qw, Qa int) int { return Qw - Qa + 1 }

// readOrder returns the bookies to ask for entry e, in order: the write set's first
// member, then the others in write-set order. Bookies for which deprioritize returns
// true (known to be failing) are moved to the end, keeping their relative order.
func readOrder(m *Metadata, e int64, deprioritize func(bookie string) bool) []string {
	ws := m.WriteSetBookies(e)
	if deprioritize == nil {
		return ws
	}
	out := make([]string, 0, len(ws))
	var late []string
	for _, b := range ws {
		if deprioritize(b) {
			late = append(late, b)
		} else {
			out = append(out, b)
		}
	}
	return append(out, late...)
}

// slotOf returns the index of ensemble position pos within entry e's write set, or -1
// when pos does not store e.
func slotOf(e int64, pos, E, Qw int) int {
	first := int(e % int64(E))
	slot := (pos - first + E) % E
	if slot < Qw {
		return slot
	}
	return -1
}
