package dispatch

// Shared dispatches a Shared subscription: entries are spread round robin over
// the consumers that have permits, up to Config.MaxRoundRobinBatchSize entries
// per turn, and each entry goes to exactly one consumer.
//
// A consumer's turn ends when it has had MaxRoundRobinBatchSize entries or has
// run out of permits (its last entry may overshoot them: a batch is never
// split). Consumers of a higher priority (lower Priority value) are served
// before lower ones; among equals the turn passes in join order.
//
// A consumer holding MaxUnackedPerConsumer unacknowledged messages gets
// nothing more until it is down to half; the whole subscription stops at
// MaxUnackedPerSubscription and resumes at half.
//
// When a consumer leaves, its unacknowledged entries are sent to the others
// with unchanged redelivery counts; entries named by Redeliver (negative acks)
// are sent again with their count incremented, so successive negative acks of
// one message yield 1, 2, 3, …. Entries waiting for redelivery are read and
// sent before new ones, in position order.
type Shared struct {
	multi
	// rr is the join-order index where the next round-robin search starts.
	rr int
}

// NewShared returns the dispatcher of a Shared subscription whose cursor's
// mark-delete position is markDelete.
func NewShared(cfg Config, markDelete Position) (*Shared, error) {
	m, err := newMulti(cfg, markDelete, false)
	if err != nil {
		return nil, err
	}
	return &Shared{multi: m}, nil
}

// AddConsumer registers a consumer. Shared refuses none.
func (d *Shared) AddConsumer(info ConsumerInfo) error {
	_, err := d.addConsumer(info)
	return err
}

// RemoveConsumer unregisters a consumer; its unacknowledged entries go to the
// other consumers with unchanged redelivery counts.
func (d *Shared) RemoveConsumer(id uint64) {
	i, c := d.find(id)
	if c == nil {
		return
	}
	if i < d.rr {
		d.rr--
	}
	d.removeConsumer(id)
}

// Redeliver handles REDELIVER_UNACKNOWLEDGED_MESSAGES: the named positions
// that are pending on the consumer (all of them if none are named) are sent
// again, to any consumer, with their redelivery count incremented.
func (d *Shared) Redeliver(id uint64, positions []Position) { d.redeliver(id, positions) }

// RewindTo handles a cursor reset (SEEK or reset-cursor): the next entry sent
// is the first one at or after p. Every consumer is closed (CloseConsumer), as
// a seeking client requires, and redelivery counts start afresh.
func (d *Shared) RewindTo(p Position) {
	d.rewindTo(p)
	d.rr = 0
}

// TimerFired is a no-op: Shared starts no timers. It is here so that every
// dispatcher has the same methods.
func (d *Shared) TimerFired(uint64) {}

// ReadCompleted delivers the result of the outstanding Read.
func (d *Shared) ReadCompleted(entries []Entry) {
	usable, _, ok := d.completeRead(entries)
	if !ok {
		return
	}
	i := 0
	for i < len(usable) {
		c := d.nextConsumer()
		if c == nil {
			break
		}
		var sent []Entry
		for i < len(usable) && len(sent) < d.cfg.MaxRoundRobinBatchSize && d.available(c) {
			sent = append(sent, d.send(c, usable[i]))
			i++
		}
		d.out = append(d.out, Send{ConsumerID: c.info.ID, Entries: sent})
	}
	for _, e := range usable[i:] {
		d.addReplay(e.Pos, entryMeta{msgs: e.messages(), hash: e.KeyHash})
	}
}

// nextConsumer returns the consumer whose turn it is: the first available one
// of the highest priority at or after rr (cyclically), or nil.
func (d *Shared) nextConsumer() *multiConsumer {
	n := len(d.consumers)
	var best *multiConsumer
	bestAt := 0
	for k := range n {
		at := (d.rr + k) % n
		c := d.consumers[at]
		if !d.available(c) {
			continue
		}
		if best == nil || c.info.Priority < best.info.Priority {
			best, bestAt = c, at
		}
	}
	if best != nil {
		d.rr = (bestAt + 1) % n
	}
	return best
}

func (d *Shared) nextRead() (Read, bool) {
	if d.rd.outstanding {
		return Read{}, false
	}
	permits := d.permits()
	if permits <= 0 {
		return Read{}, false
	}
	if d.replay.Len() > 0 {
		// Replays first, in position order, as many as the permits cover (the
		// last one may overshoot, as in a tail read).
		var ps []Position
		d.replay.Ascend(func(p Position) bool {
			ps = append(ps, p)
			permits -= d.replayMeta[p].msgs
			return permits > 0 && len(ps) < d.cfg.MaxReadBatchSize
		})
		return Read{Replay: ps, MaxEntries: len(ps)}, true
	}
	if d.rd.caughtUp {
		return Read{}, false
	}
	return d.rd.tail(permits, d.cfg.MaxReadBatchSize), true
}

// HasReady reports whether Ready would return any action.
func (d *Shared) HasReady() bool {
	if len(d.out) > 0 {
		return true
	}
	_, ok := d.nextRead()
	return ok
}

// Ready returns the actions to carry out, in order, and forgets them.
func (d *Shared) Ready() []Action { return d.takeActions(d.nextRead) }
