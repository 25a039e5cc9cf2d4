package dispatch

// multi is the core Shared and Key_Shared share: several consumers, each
// entry sent to one of them, and per-position bookkeeping of what is pending
// where, what waits for (re)delivery, and how often each position was
// negatively acknowledged. The two types differ only in who may get an entry.
//
// Every position the dispatcher knows of is in exactly one state:
//
//	pending  sent to a consumer, not yet acknowledged (pending, pendingOrder)
//	replay   to be (re)sent, to be read again by position (replay, replayMeta)
//	neither  not read yet, being read, or acknowledged
//
// An entry moves to replay when no consumer could take it when it was read,
// when its consumer leaves (redelivery count unchanged), or when its consumer
// negatively acknowledges it (redelivery count + 1).
type multi struct {
	cfg Config

	// Invariant: consumers are in join order with unique ids, and byID
	// indexes them.
	consumers []*multiConsumer
	byID      map[uint64]*multiConsumer

	// Invariant: pending[p].consumer.pending holds p, and pendingOrder holds
	// exactly the keys of pending.
	pending      map[Position]pendingEntry
	pendingOrder posSet
	// Invariant: unacked is the sum of the consumers' unacked.
	unacked int64
	// subBlocked: the subscription reached MaxUnackedPerSubscription and has
	// not yet fallen to half of it; nothing is sent or read meanwhile.
	subBlocked bool

	// Invariant: replay holds exactly the keys of replayMeta, and no position
	// is both in replay and in pending.
	replay     posSet
	replayMeta map[Position]entryMeta

	// redeliveries counts negative acks per position; a position leaves it
	// when acknowledged.
	redeliveries map[Position]uint32

	// keyed: hashes is maintained (Key_Shared).
	keyed bool
	// Invariant (keyed): hashes[h] exists iff some pending or replay entry has
	// hash h; see hashState.
	hashes map[uint16]*hashState

	markDelete Position
	rd         reader
	out        []Action
}

type multiConsumer struct {
	info ConsumerInfo
	// permits is in messages; it goes negative when a batch overshoots.
	permits int64
	// Invariant: unacked is the sum of msgs over the consumer's pending entries.
	unacked int64
	// blocked: unacked reached MaxUnackedPerConsumer and has not yet fallen to
	// half of it.
	blocked bool
	// Invariant: pending holds exactly the positions p with
	// multi.pending[p].consumer == this consumer.
	pending map[Position]struct{}
}

// entryMeta is what the dispatcher remembers of an entry it no longer holds.
type entryMeta struct {
	msgs int64
	hash uint16
}

type pendingEntry struct {
	consumer *multiConsumer
	entryMeta
}

// hashState is Key_Shared's per-hash state.
type hashState struct {
	// Invariant: pendingCount is the number of pending entries with this hash,
	// and while it is > 0 they are all on consumer pendingOn: a hash is
	// unacknowledged on one consumer at a time.
	pendingOn    uint64
	pendingCount int
	// Invariant: replay is ascending and holds exactly the replay positions
	// with this hash; while it is not empty no newly read entry of the hash is
	// sent (it joins the replay instead), which keeps per-hash order.
	replay []Position
}

func newMulti(cfg Config, markDelete Position, keyed bool) (multi, error) {
	if err := cfg.Validate(); err != nil {
		return multi{}, err
	}
	m := multi{
		cfg:          cfg,
		byID:         make(map[uint64]*multiConsumer),
		pending:      make(map[Position]pendingEntry),
		replayMeta:   make(map[Position]entryMeta),
		redeliveries: make(map[Position]uint32),
		keyed:        keyed,
		markDelete:   markDelete,
		rd:           newReader(markDelete),
	}
	if keyed {
		m.hashes = make(map[uint16]*hashState)
	}
	return m, nil
}

func (m *multi) find(id uint64) (int, *multiConsumer) {
	c := m.byID[id]
	if c == nil {
		return -1, nil
	}
	for i, c := range m.consumers {
		if c.info.ID == id {
			return i, c
		}
	}
	panic("dispatch: consumer index out of sync")
}

func (m *multi) addConsumer(info ConsumerInfo) (*multiConsumer, error) {
	if m.byID[info.ID] != nil {
		return nil, ErrDuplicateConsumer
	}
	c := &multiConsumer{info: info, pending: make(map[Position]struct{})}
	m.consumers = append(m.consumers, c)
	m.byID[c.info.ID] = c
	return c, nil
}

// removeConsumer unregisters the consumer and puts its pending entries back
// for delivery to the others, redelivery counts unchanged. When the last
// consumer leaves, everything restarts from the mark-delete position.
func (m *multi) removeConsumer(id uint64) *multiConsumer {
	i, c := m.find(id)
	if c == nil {
		return nil
	}
	m.consumers = append(m.consumers[:i:i], m.consumers[i+1:]...)
	delete(m.byID, id)
	for p := range c.pending {
		meta := m.pending[p].entryMeta
		m.unpend(p)
		m.addReplay(p, meta)
	}
	if len(m.consumers) == 0 {
		m.reset()
	}
	return c
}

// reset forgets every pending and replay entry and rewinds to the
// mark-delete position: a re-read finds every unacknowledged entry again.
// Redelivery counts are kept.
func (m *multi) reset() {
	for _, c := range m.consumers {
		c.pending = make(map[Position]struct{})
		c.unacked, c.blocked = 0, false
	}
	clear(m.pending)
	m.pendingOrder.Clear()
	m.unacked, m.subBlocked = 0, false
	m.replay.Clear()
	clear(m.replayMeta)
	if m.keyed {
		clear(m.hashes)
	}
	m.rd.rewind(m.markDelete)
}

// closeAll closes every consumer (after a cursor reset).
func (m *multi) closeAll() {
	for _, c := range m.consumers {
		m.out = append(m.out, CloseConsumer{ConsumerID: c.info.ID})
	}
	m.consumers = nil
	clear(m.byID)
}

// available reports whether c may be sent an entry now.
func (m *multi) available(c *multiConsumer) bool {
	return c.permits > 0 && !c.blocked && !m.subBlocked
}

// permits returns the permits of the consumers that may be sent entries now.
func (m *multi) permits() int64 {
	var n int64
	for _, c := range m.consumers {
		if m.available(c) {
			n += c.permits
		}
	}
	return n
}

func (m *multi) hash(h uint16) *hashState {
	hs := m.hashes[h]
	if hs == nil {
		hs = &hashState{}
		m.hashes[h] = hs
	}
	return hs
}

func (m *multi) dropHashIfIdle(h uint16, hs *hashState) {
	if hs.pendingCount == 0 && len(hs.replay) == 0 {
		delete(m.hashes, h)
	}
}

// send records e as sent to c and returns it with its redelivery count. The
// caller has checked that c may take it.
func (m *multi) send(c *multiConsumer, e Entry) Entry {
	e.RedeliveryCount = m.redeliveries[e.Pos]
	meta := entryMeta{msgs: e.messages(), hash: e.KeyHash}
	m.removeReplay(e.Pos)
	m.pending[e.Pos] = pendingEntry{consumer: c, entryMeta: meta}
	m.pendingOrder.Add(e.Pos)
	c.pending[e.Pos] = struct{}{}
	c.permits -= meta.msgs
	c.unacked += meta.msgs
	m.unacked += meta.msgs
	if lim := int64(m.cfg.MaxUnackedPerConsumer); lim > 0 && c.unacked >= lim {
		c.blocked = true
	}
	if lim := int64(m.cfg.MaxUnackedPerSubscription); lim > 0 && m.unacked >= lim {
		m.subBlocked = true
	}
	if m.keyed {
		hs := m.hash(meta.hash)
		hs.pendingOn = c.info.ID
		hs.pendingCount++
	}
	return e
}

// unpend takes p out of pending (acked, redelivered or released) and lifts
// the unacked-message blocks that no longer hold.
func (m *multi) unpend(p Position) bool {
	pe, ok := m.pending[p]
	if !ok {
		return false
	}
	c := pe.consumer
	delete(m.pending, p)
	m.pendingOrder.Remove(p)
	delete(c.pending, p)
	c.unacked -= pe.msgs
	m.unacked -= pe.msgs
	if c.blocked && c.unacked <= int64(m.cfg.MaxUnackedPerConsumer)/2 {
		c.blocked = false
	}
	if m.subBlocked && m.unacked <= int64(m.cfg.MaxUnackedPerSubscription)/2 {
		m.subBlocked = false
	}
	if m.keyed {
		hs := m.hashes[pe.hash]
		hs.pendingCount--
		m.dropHashIfIdle(pe.hash, hs)
	}
	return true
}

func (m *multi) addReplay(p Position, meta entryMeta) {
	if m.replay.Has(p) {
		return
	}
	m.replay.Add(p)
	m.replayMeta[p] = meta
	if m.keyed {
		hs := m.hash(meta.hash)
		i := len(hs.replay)
		for i > 0 && p.Less(hs.replay[i-1]) {
			i--
		}
		hs.replay = append(hs.replay, Position{})
		copy(hs.replay[i+1:], hs.replay[i:])
		hs.replay[i] = p
	}
}

func (m *multi) removeReplay(p Position) {
	if !m.replay.Remove(p) {
		return
	}
	meta := m.replayMeta[p]
	delete(m.replayMeta, p)
	if m.keyed {
		hs := m.hashes[meta.hash]
		for i, q := range hs.replay {
			if q == p {
				hs.replay = append(hs.replay[:i], hs.replay[i+1:]...)
				break
			}
		}
		m.dropHashIfIdle(meta.hash, hs)
	}
}

// completeRead ends the outstanding read and returns the usable entries. For
// a replay read, requested positions that did not come back (or no longer
// wait for replay) are dropped.
func (m *multi) completeRead(entries []Entry) (usable []Entry, replay, ok bool) {
	usable, requested, ok := m.rd.complete(entries)
	if !ok {
		return nil, false, false
	}
	if requested != nil {
		got := make(map[Position]struct{}, len(usable))
		kept := usable[:0]
		for _, e := range usable {
			got[e.Pos] = struct{}{}
			if m.replay.Has(e.Pos) {
				kept = append(kept, e)
			}
		}
		for _, p := range requested {
			if _, ok := got[p]; !ok {
				m.removeReplay(p) // gone from the log, or acknowledged
				delete(m.redeliveries, p)
			}
		}
		return kept, true, true
	}
	kept := usable[:0]
	for _, e := range usable {
		if m.markDelete.Less(e.Pos) {
			kept = append(kept, e)
		}
	}
	return kept, false, true
}

// Flow adds permits, counted in messages, to the consumer.
func (m *multi) Flow(id uint64, permits uint32) {
	if c := m.byID[id]; c != nil {
		c.permits += int64(permits)
	}
}

// NewEntries reports that entries were appended to the log.
func (m *multi) NewEntries() { m.rd.newEntries() }

// Acked reports positions the cursor now holds as acknowledged (whole
// entries; a partially acknowledged batch is not acked yet). Their pending or
// replay state is released.
func (m *multi) Acked(positions []Position) {
	for _, p := range positions {
		if !m.unpend(p) {
			m.removeReplay(p)
		}
		delete(m.redeliveries, p)
	}
}

// AckedUpTo reports the cursor's new mark-delete position: everything at or
// before it is acknowledged.
func (m *multi) AckedUpTo(markDelete Position) {
	if !m.markDelete.Less(markDelete) {
		return
	}
	m.markDelete = markDelete
	var done []Position
	m.pendingOrder.Ascend(func(p Position) bool {
		if markDelete.Less(p) {
			return false
		}
		done = append(done, p)
		return true
	})
	for _, p := range done {
		m.unpend(p)
	}
	done = done[:0]
	m.replay.Ascend(func(p Position) bool {
		if markDelete.Less(p) {
			return false
		}
		done = append(done, p)
		return true
	})
	for _, p := range done {
		m.removeReplay(p)
	}
	for p := range m.redeliveries {
		if p.Compare(markDelete) <= 0 {
			delete(m.redeliveries, p)
		}
	}
	m.rd.after = maxPos(m.rd.after, markDelete)
}

// redeliver handles a negative ack: each named position pending on the
// consumer goes back for delivery with its redelivery count incremented. No
// positions means all of the consumer's pending entries.
func (m *multi) redeliver(id uint64, positions []Position) {
	c := m.byID[id]
	if c == nil {
		return
	}
	if len(positions) == 0 {
		for p := range c.pending {
			positions = append(positions, p)
		}
	}
	for _, p := range positions {
		pe, ok := m.pending[p]
		if !ok || pe.consumer != c {
			continue
		}
		m.unpend(p)
		m.redeliveries[p]++
		m.addReplay(p, pe.entryMeta)
	}
}

// rewindTo handles a cursor reset (seek): every consumer is closed so the
// clients reconnect, and reading restarts at p with fresh redelivery counts.
func (m *multi) rewindTo(p Position) {
	m.closeAll()
	m.markDelete = p.prev()
	m.reset()
	clear(m.redeliveries)
}

// takeActions returns the queued actions plus the next read, if any.
func (m *multi) takeActions(next func() (Read, bool)) []Action {
	if r, ok := next(); ok {
		m.rd.issue(r)
		m.out = append(m.out, r)
	}
	out := m.out
	m.out = nil
	return out
}
