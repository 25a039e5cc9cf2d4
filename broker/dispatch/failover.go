package dispatch

import (
	"cmp"
	"slices"
)

// Failover dispatches a Failover subscription: of its consumers, one is
// active and gets every entry in log order; the others wait.
//
// The active consumer is chosen among the consumers of the highest priority
// (lowest Priority value). For partition i of a partitioned topic it is
// sorted[i % n], the consumers sorted by name (then by join order, for equal
// names); for a non-partitioned topic it is the first of them to have joined.
//
// Whenever the active consumer changes, every consumer is told its new state
// (ActiveConsumerChange), and a consumer that joins without changing it is
// told its own. The new active consumer then gets every unacknowledged entry
// again, from the mark-delete position. If the previous active consumer is
// still connected, that rewind waits Config.FailoverDelay (StartTimer, then
// TimerFired) so the acks it is still sending land first and fewer entries
// are sent twice; nothing is sent to anyone meanwhile. If it is gone (or the
// delay is 0) the switch is immediate.
type Failover struct {
	single
	partition int

	// Invariant: timerSeq is the Seq of the only StartTimer whose TimerFired
	// is honoured; it is bumped whenever a delay starts or ends.
	timerSeq uint64
	// delayFrom is the consumer that was active when the running delay began;
	// if it leaves, the delay ends early. Meaningful only while paused.
	delayFrom uint64
}

// NewFailover returns the dispatcher of a Failover subscription whose
// cursor's mark-delete position is markDelete, on partition `partition` of a
// partitioned topic, or -1 for a non-partitioned topic.
func NewFailover(cfg Config, markDelete Position, partition int) (*Failover, error) {
	s, err := newSingle(cfg, markDelete)
	if err != nil {
		return nil, err
	}
	return &Failover{single: s, partition: partition}, nil
}

// pick returns the consumer that should be active, or nil if there is none.
func (d *Failover) pick() *singleConsumer {
	if len(d.consumers) == 0 {
		return nil
	}
	top := d.consumers[0].info.Priority
	for _, c := range d.consumers {
		top = min(top, c.info.Priority)
	}
	var group []*singleConsumer
	for _, c := range d.consumers { // join order
		if c.info.Priority == top {
			group = append(group, c)
		}
	}
	if d.partition < 0 {
		return group[0]
	}
	slices.SortStableFunc(group, func(a, b *singleConsumer) int {
		return cmp.Compare(a.info.Name, b.info.Name)
	})
	return group[d.partition%len(group)]
}

// notify tells every consumer whether it is the active one.
func (d *Failover) notify() {
	for _, c := range d.consumers {
		d.out = append(d.out, ActiveConsumerChange{ConsumerID: c.info.ID, IsActive: c == d.active})
	}
}

// switchTo makes next the active consumer; prevConnected says whether the
// previous active consumer is still connected.
func (d *Failover) switchTo(next *singleConsumer, prev *singleConsumer, prevConnected bool) {
	d.active = next
	d.notify()
	switch {
	case d.paused:
		// A delay is already running; it ends on its own timer, or when the
		// consumer it waits for leaves.
	case prev != nil && prevConnected && d.cfg.FailoverDelay > 0:
		d.paused = true
		d.delayFrom = prev.info.ID
		d.timerSeq++
		d.rewind() // drop what was read for prev; rewound again when the delay ends
		d.out = append(d.out, StartTimer{Seq: d.timerSeq, After: d.cfg.FailoverDelay})
	default:
		d.rewind()
	}
}

// endDelay ends a running delay: the new active consumer starts from the
// mark-delete position.
func (d *Failover) endDelay() {
	d.paused = false
	d.timerSeq++
	d.rewind()
	d.dispatch()
}

// AddConsumer registers a consumer. Failover refuses none.
func (d *Failover) AddConsumer(info ConsumerInfo) error {
	c, err := d.add(info)
	if err != nil {
		return err
	}
	prev := d.active
	if next := d.pick(); next != prev {
		d.switchTo(next, prev, prev != nil)
		return nil
	}
	d.out = append(d.out, ActiveConsumerChange{ConsumerID: c.info.ID, IsActive: c == d.active})
	return nil
}

// RemoveConsumer unregisters a consumer. If the active consumer changes, the
// new one gets every unacknowledged entry again.
func (d *Failover) RemoveConsumer(id uint64) {
	gone := d.remove(id)
	if gone == nil {
		return
	}
	if d.paused && d.delayFrom == id {
		// The consumer the delay waited for is gone: no acks will come from it.
		d.paused = false
		d.timerSeq++
		d.rewind()
	}
	prev := d.active
	next := d.pick()
	if next == nil {
		d.active, d.paused = nil, false
		d.rewind()
		return
	}
	if next != prev {
		d.switchTo(next, prev, prev != gone)
	}
}

// TimerFired ends the failover delay started by StartTimer{Seq: seq}; a stale
// seq is ignored.
func (d *Failover) TimerFired(seq uint64) {
	if d.paused && seq == d.timerSeq {
		d.endDelay()
	}
}

// Redeliver handles REDELIVER_UNACKNOWLEDGED_MESSAGES from the active
// consumer: whatever positions it names, it gets every unacknowledged entry
// again, in order, with redelivery count 0. Other consumers are ignored, as is
// a request during a failover delay (the rewind is coming anyway).
func (d *Failover) Redeliver(id uint64, _ []Position) { d.redeliver(id) }

// RewindTo handles a cursor reset (SEEK or reset-cursor): the next entry sent
// is the first one at or after p. Every consumer is closed (CloseConsumer), as
// a seeking client requires; a running delay is abandoned.
func (d *Failover) RewindTo(p Position) {
	if d.paused {
		d.timerSeq++
	}
	d.rewindTo(p)
}

// ActiveConsumer returns the active consumer's id, if there is one.
func (d *Failover) ActiveConsumer() (uint64, bool) {
	if d.active == nil {
		return 0, false
	}
	return d.active.info.ID, true
}
