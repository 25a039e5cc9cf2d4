package dispatch

import "slices"

// reader is the read half every dispatcher shares: where the next read of the
// log starts, whether a Read is outstanding, and whether its result is still
// wanted. It decides nothing about who gets what.
type reader struct {
	// Invariant: the next tail read asks for entries strictly after `after`;
	// every entry at or before it has been read since the last rewind, or is
	// at or below the mark-delete position.
	after Position

	// Invariant: at most one Read is outstanding; ReadCompleted clears it.
	outstanding bool
	// replay: the outstanding Read is a replay read of `requested`.
	replay    bool
	requested []Position
	// stale: the outstanding Read was overtaken by a rewind; its result is
	// dropped when it comes.
	stale bool

	// caughtUp: the last tail read came back empty, so no tail read is issued
	// until the driver reports new entries.
	caughtUp bool
	// appended: NewEntries arrived while a read was outstanding, so an empty
	// result does not mean caught up.
	appended bool

	// avgMessages is the mean messages per entry of the last tail read, used to
	// turn message permits into an entry count. Invariant: ≥ 1.
	avgMessages int64
}

func newReader(after Position) reader { return reader{after: after, avgMessages: 1} }

// tail builds a tail read for the given message permits.
func (r *reader) tail(permits int64, maxEntries int) Read {
	n := (permits + r.avgMessages - 1) / r.avgMessages
	n = min(max(n, 1), int64(maxEntries))
	return Read{After: r.after, MaxEntries: int(n)}
}

// issue records a as outstanding.
func (r *reader) issue(a Read) {
	r.outstanding, r.stale, r.appended = true, false, false
	r.replay = len(a.Replay) > 0
	r.requested = a.Replay
}

// rewind makes the next tail read start after `to` and drops the result of
// any outstanding read.
func (r *reader) rewind(to Position) {
	r.after = to
	r.caughtUp = false
	if r.outstanding {
		r.stale = true
	}
}

// newEntries records that the log has grown.
func (r *reader) newEntries() {
	r.caughtUp = false
	if r.outstanding {
		r.appended = true
	}
}

// complete ends the outstanding read. It returns the usable entries and, for
// a replay read, the positions that were asked for (nil for a tail read). The
// usable entries of a replay read are the requested ones, sorted; those of a
// tail read are the ones past the read position, ascending, and the read
// position advances past them. ok is false if no read was outstanding or its
// result is stale.
func (r *reader) complete(entries []Entry) (usable []Entry, requested []Position, ok bool) {
	if !r.outstanding {
		return nil, nil, false
	}
	r.outstanding = false
	replay, requested := r.replay, r.requested
	r.replay, r.requested = false, nil
	if r.stale {
		r.stale = false
		return nil, nil, false
	}
	if replay {
		want := make(map[Position]struct{}, len(requested))
		for _, p := range requested {
			want[p] = struct{}{}
		}
		usable = entries[:0:0]
		for _, e := range entries {
			if _, ok := want[e.Pos]; ok {
				delete(want, e.Pos)
				usable = append(usable, e)
			}
		}
		slices.SortFunc(usable, func(a, b Entry) int { return a.Pos.Compare(b.Pos) })
		return usable, requested, true
	}
	usable = entries[:0:0]
	var msgs int64
	for _, e := range entries {
		if r.after.Less(e.Pos) {
			r.after = e.Pos
			usable = append(usable, e)
			msgs += e.messages()
		}
	}
	if len(entries) == 0 {
		// Only an empty answer means the end of the log: entries that were
		// all at or before a read position moved meanwhile (by AckedUpTo)
		// say nothing about what lies beyond it.
		r.caughtUp = !r.appended
	}
	if len(usable) > 0 {
		r.avgMessages = max(msgs/int64(len(usable)), 1)
	}
	return usable, nil, true
}
