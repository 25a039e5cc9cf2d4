package service

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/strata-io/strata/broker/dispatch"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// A Consumer is the protocol layer's handle on one consumer of a subscription: it
// reaches the client through its ConsumerSink, and its flow, acks, redeliveries and
// removal are run on the subscription's goroutine (subscription.go), which owns the
// per-consumer state.

// Message is one entry to deliver to a consumer.
type Message struct {
	Pos             managedledger.Position
	Entry           []byte // stored metadata+payload, as the producer sent it
	RedeliveryCount uint32
	AckSet          []int64
}

// ConsumerSink is how a subscription reaches a consumer's connection. Calls come from
// the subscription's goroutine and may block on the connection's back-pressure.
type ConsumerSink interface {
	Deliver(msgs []Message)
	ActiveChange(active bool)
	// Close tells the client the broker closed its consumer (it reconnects).
	Close()
}

// ConsumerSpec describes a consumer joining a subscription.
type ConsumerSpec struct {
	Name      string
	Priority  int32
	KeyShared *dispatch.KeySharedMeta
	Sink      ConsumerSink
}

// Consumer is a consumer attached to a subscription.
type Consumer struct {
	sub  *Subscription
	id   uint64 // unique within the subscription
	name string
	sink ConsumerSink
	// MsgsOut and BytesOut count delivered messages and their bytes.
	MsgsOut, BytesOut atomic.Int64
	rateOut           rateWindow // rates.go

	// Owned by the subscription goroutine. pulsar-client-go registers its handler for
	// a consumer only after it has read SUBSCRIBE's SUCCESS, on another goroutine than
	// the one reading the connection, and drops frames for a consumer it does not know
	// ("Consumer not found while active consumer change"). Its first FLOW is the first
	// sign that the handler exists, so until then what the dispatcher wants the consumer
	// told is held back: its last active state (Failover), and a close.
	// Invariant: heldActive and heldClose are unset once started is true.
	started    bool
	heldActive *bool
	heldClose  bool
}

// Start lets the dispatcher act on a new consumer; call it after the client was told
// SUBSCRIBE succeeded (frames for the consumer must not precede SUCCESS). Notices for the
// consumer wait for its first FLOW (see Consumer.started).
func (c *Consumer) Start() { c.sub.post(func() {}) }

// release sends what was held back for the consumer until the client could take it.
// Runs on the subscription goroutine.
func (c *Consumer) release() {
	if c.started {
		return
	}
	c.started = true
	if c.heldClose {
		c.heldClose = false
		c.sink.Close()
		return
	}
	if c.heldActive != nil {
		c.sink.ActiveChange(*c.heldActive)
		c.heldActive = nil
	}
}

// ID is the consumer's id within its subscription.
func (c *Consumer) ID() uint64 { return c.id }

// Name is the consumer's name.
func (c *Consumer) Name() string { return c.name }

// Subscription returns the consumer's subscription.
func (c *Consumer) Subscription() *Subscription { return c.sub }

// Flow grants permits (in messages).
func (c *Consumer) Flow(n uint32) {
	c.sub.post(func() {
		c.release()
		c.sub.d.Flow(c.id, n)
	})
}

// Redeliver asks for the consumer's unacknowledged positions to be delivered again (all
// of them when ps is empty).
func (c *Consumer) Redeliver(ps []managedledger.Position) {
	dps := make([]dispatch.Position, len(ps))
	for i, p := range ps {
		dps[i] = toDispatch(p)
	}
	c.sub.post(func() { c.sub.d.Redeliver(c.id, dps) })
}

// Ack is one acknowledged message id from the client.
type Ack struct {
	Pos       managedledger.Position
	BatchSize int     // > 0 with AckSet for a batch-index ack
	AckSet    []int64 // set bits: messages still unacknowledged
}

// AckIndividual applies individual acknowledgements on the subscription goroutine and
// then calls done (which may be nil) there.
func (c *Consumer) AckIndividual(acks []Ack, done func(error)) {
	s := c.sub
	if !s.post(func() {
		var err error
		var full []dispatch.Position
		before := s.cursor.MarkDelete()
		for _, a := range acks {
			var e error
			if len(a.AckSet) > 0 && a.BatchSize > 0 {
				e = s.cursor.AckBatch(a.Pos, a.BatchSize, a.AckSet)
			} else {
				e = s.cursor.AckIndividual(a.Pos)
			}
			if e != nil {
				// Acks of unknown or already deleted ids are ignored, as Pulsar does.
				if !errors.Is(e, cursor.ErrOutsideLayout) && err == nil {
					err = e
				}
				continue
			}
			if s.cursor.IsAcked(a.Pos) {
				full = append(full, toDispatch(a.Pos))
			}
		}
		if len(full) > 0 {
			s.d.Acked(full)
		}
		if md := s.cursor.MarkDelete(); md != before {
			s.d.AckedUpTo(toDispatch(md))
		}
		if done != nil {
			done(err)
		}
	}) && done != nil {
		done(ErrTopicClosed)
	}
}

// AckCumulative acknowledges everything up to a (Exclusive and Failover only), then
// calls done (which may be nil) on the subscription goroutine.
func (c *Consumer) AckCumulative(a Ack, done func(error)) {
	s := c.sub
	if s.subType == SubShared || s.subType == SubKeyShared {
		if done != nil {
			done(fmt.Errorf("%w: cumulative ack on a %s subscription", ErrBadSubscription, s.subType))
		}
		return
	}
	if !s.post(func() {
		var err error
		before := s.cursor.MarkDelete()
		if len(a.AckSet) > 0 && a.BatchSize > 0 {
			err = s.cursor.AckCumulativeBatch(a.Pos, a.BatchSize, a.AckSet)
		} else {
			err = s.cursor.AckCumulative(a.Pos)
		}
		if errors.Is(err, cursor.ErrOutsideLayout) {
			err = nil
		}
		if md := s.cursor.MarkDelete(); md != before {
			s.d.AckedUpTo(toDispatch(md))
		}
		if done != nil {
			done(err)
		}
	}) && done != nil {
		done(ErrTopicClosed)
	}
}

// Remove detaches the consumer (it closed, or its connection dropped); its
// unacknowledged messages go to the others. A non-durable subscription ends with its
// last consumer.
func (c *Consumer) Remove() {
	s := c.sub
	last := false
	s.do(func() {
		if _, ok := s.consumers[c.id]; !ok {
			return
		}
		delete(s.consumers, c.id)
		s.nConsumers.Add(-1)
		s.d.RemoveConsumer(c.id)
		last = len(s.consumers) == 0
	})
	if last && !s.durable {
		s.topic.removeSubscription(s)
		s.close()
	}
}

// ErrConsumerAssign: a Key_Shared consumer's ranges cannot be assigned.
var ErrConsumerAssign = errors.New("service: consumer hash ranges cannot be assigned")
