package dispatch

import "fmt"

// Exclusive dispatches an Exclusive subscription: one consumer, which gets
// every entry in log order. A second consumer is refused with ErrConsumerBusy.
// When the consumer leaves, the read position rewinds to the mark-delete
// position, so the next consumer gets every unacknowledged entry again.
type Exclusive struct {
	single
}

// NewExclusive returns the dispatcher of an Exclusive subscription whose
// cursor's mark-delete position is markDelete.
func NewExclusive(cfg Config, markDelete Position) (*Exclusive, error) {
	s, err := newSingle(cfg, markDelete)
	if err != nil {
		return nil, err
	}
	return &Exclusive{single: s}, nil
}

// AddConsumer registers the subscription's consumer.
func (d *Exclusive) AddConsumer(info ConsumerInfo) error {
	if len(d.consumers) > 0 {
		return fmt.Errorf("%w: exclusive subscription already has consumer %d (%q)",
			ErrConsumerBusy, d.consumers[0].info.ID, d.consumers[0].info.Name)
	}
	c, err := d.add(info)
	if err != nil {
		return err
	}
	d.active = c
	d.rewind()
	return nil
}

// RemoveConsumer unregisters the consumer; its unacknowledged entries go to
// the next consumer, from the mark-delete position.
func (d *Exclusive) RemoveConsumer(id uint64) {
	if d.remove(id) == nil {
		return
	}
	d.active = nil
	d.rewind()
}

// Redeliver handles REDELIVER_UNACKNOWLEDGED_MESSAGES. Whatever positions it
// names, the consumer gets every unacknowledged entry again, in order, with
// redelivery count 0.
func (d *Exclusive) Redeliver(id uint64, _ []Position) { d.redeliver(id) }

// RewindTo handles a cursor reset (SEEK or reset-cursor): the next entry sent
// is the first one at or after p. The consumer is closed (CloseConsumer), as a
// seeking client requires.
func (d *Exclusive) RewindTo(p Position) { d.rewindTo(p) }

// TimerFired is a no-op: Exclusive starts no timers. It is here so that every
// dispatcher has the same methods.
func (d *Exclusive) TimerFired(uint64) {}
