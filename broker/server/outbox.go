package server

import "sync"

// outbox is one consumer's ordered queue of frames on their way to the connection's
// writer. The subscription goroutine queues deliveries, Failover state changes, the
// answers it gives (seek, acks) and the broker's CLOSE_CONSUMER here without waiting;
// the outbox's own goroutine hands them to the writer, waiting on the connection.
//
// Why: a subscription goroutine serves every consumer of its subscription. If it
// waited for one connection whose client stopped reading (a paused process, a dead
// network path without a reset), every other consumer of a Shared subscription would
// starve until that connection's write deadline. Pulsar's dispatchers skip a consumer
// whose channel is not writable; here the stuck consumer's share queues up instead,
// bounded as in Pulsar by the permits it granted and the unacked limits, and the
// others go on. All of one consumer's frames go through its outbox, so they keep
// their order (a seek's SUCCESS after the messages sent before it, CLOSE_CONSUMER
// last).
type outbox struct {
	c    *conn
	wake chan struct{} // capacity 1: "there is work"
	once sync.Once

	mu sync.Mutex
	// Invariant: frames are sent in the order they were queued; after finished, no
	// frame is queued and the goroutine exits once the queue is empty.
	queue    []outFrame
	finished bool
}

func newOutbox(c *conn) *outbox { return &outbox{c: c, wake: make(chan struct{}, 1)} }

// push queues frames; it never waits on the connection. Frames pushed after finish
// are dropped.
func (o *outbox) push(fs ...outFrame) {
	o.mu.Lock()
	if o.finished {
		o.mu.Unlock()
		return
	}
	o.queue = append(o.queue, fs...)
	o.mu.Unlock()
	o.once.Do(func() { go o.run() })
	o.signal()
}

// finish lets the goroutine exit once it has sent what is queued.
func (o *outbox) finish() {
	o.mu.Lock()
	o.finished = true
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) run() {
	for {
		select {
		case <-o.wake:
		case <-o.c.done:
			return
		}
		for {
			o.mu.Lock()
			batch := o.queue
			o.queue = nil
			finished := o.finished
			o.mu.Unlock()
			if len(batch) == 0 {
				if finished {
					return
				}
				break
			}
			for _, f := range batch {
				if !o.c.sendFrame(f) {
					return // the connection is gone
				}
			}
		}
	}
}
