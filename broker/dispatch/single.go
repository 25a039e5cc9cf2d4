package dispatch

// single is the core Exclusive and Failover share: one active consumer gets
// every entry in log order, and whenever who is active changes, or the active
// consumer asks for a redelivery, the read position rewinds to the mark-delete
// position so every unacknowledged entry goes out again, in order, with a
// redelivery count of 0 (Pulsar keeps no redelivery tracker for these types).
//
// Entries read but not yet sent (the active consumer ran out of permits
// mid-read) wait in buffer; no further read is issued until it is empty, so
// the buffer never holds more than one read's worth.
type single struct {
	cfg Config

	// Invariant: consumers are in join order with unique ids.
	consumers []*singleConsumer
	// Invariant: active is nil or a member of consumers, and nil only when
	// consumers is empty.
	active *singleConsumer
	// paused: a failover delay is running; nothing is read or sent until it
	// ends, when the dispatcher rewinds.
	paused bool

	// markDelete is the cursor's mark-delete position as last reported.
	markDelete Position
	// Invariant: buffer is ascending, each entry after markDelete and at or
	// before rd.after; it is empty whenever a read is outstanding.
	buffer []Entry
	rd     reader
	out    []Action
}

type singleConsumer struct {
	info ConsumerInfo
	// permits is in messages; it goes negative when a batch overshoots.
	permits int64
}

func newSingle(cfg Config, markDelete Position) (single, error) {
	if err := cfg.Validate(); err != nil {
		return single{}, err
	}
	return single{cfg: cfg, markDelete: markDelete, rd: newReader(markDelete)}, nil
}

func (s *single) find(id uint64) (int, *singleConsumer) {
	for i, c := range s.consumers {
		if c.info.ID == id {
			return i, c
		}
	}
	return -1, nil
}

func (s *single) add(info ConsumerInfo) (*singleConsumer, error) {
	if _, c := s.find(info.ID); c != nil {
		return nil, ErrDuplicateConsumer
	}
	c := &singleConsumer{info: info}
	s.consumers = append(s.consumers, c)
	return c, nil
}

// remove unregisters the consumer and returns it, or nil if unknown.
func (s *single) remove(id uint64) *singleConsumer {
	i, c := s.find(id)
	if c == nil {
		return nil
	}
	s.consumers = append(s.consumers[:i:i], s.consumers[i+1:]...)
	return c
}

// rewind drops what was read but not sent and makes the next read start
// right after the mark-delete position.
func (s *single) rewind() {
	s.buffer = nil
	s.rd.rewind(s.markDelete)
}

// dispatch sends buffered entries to the active consumer while it has
// permits; the last entry sent may overshoot them.
func (s *single) dispatch() {
	c := s.active
	if c == nil || s.paused || len(s.buffer) == 0 || c.permits <= 0 {
		return
	}
	n := 0
	for n < len(s.buffer) && c.permits > 0 {
		c.permits -= s.buffer[n].messages()
		n++
	}
	sent := make([]Entry, n)
	copy(sent, s.buffer[:n])
	s.buffer = s.buffer[n:]
	if len(s.buffer) == 0 {
		s.buffer = nil
	}
	s.out = append(s.out, Send{ConsumerID: c.info.ID, Entries: sent})
}

func (s *single) nextRead() (Read, bool) {
	c := s.active
	if c == nil || s.paused || s.rd.outstanding || s.rd.caughtUp || len(s.buffer) > 0 || c.permits <= 0 {
		return Read{}, false
	}
	return s.rd.tail(c.permits, s.cfg.MaxReadBatchSize), true
}

// closeAll closes every consumer (after a cursor reset).
func (s *single) closeAll() {
	for _, c := range s.consumers {
		s.out = append(s.out, CloseConsumer{ConsumerID: c.info.ID})
	}
	s.consumers, s.active, s.paused = nil, nil, false
}

// Flow adds permits, counted in messages, to the consumer.
func (s *single) Flow(id uint64, permits uint32) {
	if _, c := s.find(id); c != nil {
		c.permits += int64(permits)
		if c == s.active {
			s.dispatch()
		}
	}
}

// ReadCompleted delivers the result of the outstanding Read.
func (s *single) ReadCompleted(entries []Entry) {
	usable, _, ok := s.rd.complete(entries)
	if !ok {
		return
	}
	for _, e := range usable {
		if s.markDelete.Less(e.Pos) {
			s.buffer = append(s.buffer, e)
		}
	}
	s.dispatch()
}

// NewEntries reports that entries were appended to the log.
func (s *single) NewEntries() { s.rd.newEntries() }

// Acked reports positions the cursor now holds as acknowledged (whole
// entries; a partially acknowledged batch is not acked yet).
func (s *single) Acked(positions []Position) {
	if len(s.buffer) == 0 || len(positions) == 0 {
		return
	}
	acked := make(map[Position]struct{}, len(positions))
	for _, p := range positions {
		acked[p] = struct{}{}
	}
	kept := s.buffer[:0]
	for _, e := range s.buffer {
		if _, ok := acked[e.Pos]; !ok {
			kept = append(kept, e)
		}
	}
	s.buffer = kept
}

// AckedUpTo reports the cursor's new mark-delete position.
func (s *single) AckedUpTo(markDelete Position) {
	if !s.markDelete.Less(markDelete) {
		return
	}
	s.markDelete = markDelete
	i := 0
	for i < len(s.buffer) && s.buffer[i].Pos.Compare(markDelete) <= 0 {
		i++
	}
	s.buffer = s.buffer[i:]
	s.rd.after = maxPos(s.rd.after, markDelete)
}

// redeliver handles REDELIVER_UNACKNOWLEDGED_MESSAGES: only the active
// consumer may ask, and it gets everything unacknowledged again, in order.
func (s *single) redeliver(id uint64) {
	if s.active == nil || s.active.info.ID != id || s.paused {
		return
	}
	s.rewind()
}

// rewindTo handles a cursor reset (seek): every consumer is closed so the
// clients reconnect, and reading restarts at p.
func (s *single) rewindTo(p Position) {
	s.closeAll()
	s.markDelete = p.prev()
	s.rewind()
}

// HasReady reports whether Ready would return any action.
func (s *single) HasReady() bool {
	if len(s.out) > 0 {
		return true
	}
	_, ok := s.nextRead()
	return ok
}

// Ready returns the actions to carry out, in order, and forgets them.
func (s *single) Ready() []Action {
	if r, ok := s.nextRead(); ok {
		s.rd.issue(r)
		s.out = append(s.out, r)
	}
	out := s.out
	s.out = nil
	return out
}
