package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spaolacci/murmur3"

	"github.com/strata-io/strata/broker/dispatch"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/broker/wire"
)

// SubType is a subscription type, numbered as on the wire.
type SubType int

const (
	SubExclusive SubType = 0
	SubShared    SubType = 1
	SubFailover  SubType = 2
	SubKeyShared SubType = 3
)

func (t SubType) String() string {
	switch t {
	case SubExclusive:
		return "Exclusive"
	case SubShared:
		return "Shared"
	case SubFailover:
		return "Failover"
	case SubKeyShared:
		return "Key_Shared"
	}
	return fmt.Sprintf("SubType(%d)", int(t))
}

// dispatcher is what a subscription needs of broker/dispatch's four types.
type dispatcher interface {
	AddConsumer(dispatch.ConsumerInfo) error
	RemoveConsumer(id uint64)
	Flow(id uint64, permits uint32)
	ReadCompleted([]dispatch.Entry)
	NewEntries()
	Acked([]dispatch.Position)
	AckedUpTo(dispatch.Position)
	Redeliver(id uint64, positions []dispatch.Position)
	RewindTo(dispatch.Position)
	TimerFired(seq uint64)
	Ready() []dispatch.Action
}

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

// Subscription is a cursor plus a dispatcher, driven by one goroutine. Every input is a
// function run on that goroutine, followed by carrying out the dispatcher's actions.
type Subscription struct {
	topic   *Topic
	name    string
	key     string // the topic's map key (readers get a unique one)
	durable bool
	cursor  *managedledger.Cursor
	subType SubType

	in   chan func()
	stop chan struct{}
	// ctx bounds the reads; close cancels it. wg counts the subscription's goroutines:
	// the loop, the new-entries watcher and the read in progress.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nextID atomic.Uint64

	// Owned by the goroutine:
	d          dispatcher
	consumers  map[uint64]*Consumer
	timerSeq   map[uint64]*time.Timer
	closedOnce sync.Once
	// count of consumers, readable from other goroutines.
	nConsumers atomic.Int32
	// MsgsOut and BytesOut count what was dispatched to the subscription's consumers.
	MsgsOut, BytesOut atomic.Int64
	rateOut           rateWindow // rates.go
}

func newSubscription(t *Topic, name string, c *managedledger.Cursor, durable bool, typ SubType) (*Subscription, error) {
	s := &Subscription{topic: t, name: name, cursor: c, durable: durable, subType: typ,
		in: make(chan func(), 256), stop: make(chan struct{}), consumers: map[uint64]*Consumer{},
		timerSeq: map[uint64]*time.Timer{}}
	d, err := s.newDispatcher(typ)
	if err != nil {
		return nil, err
	}
	s.d = d
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.loop()
	go s.watchNewEntries()
	return s, nil
}

func toDispatch(p cursor.Position) dispatch.Position {
	return dispatch.Position{Ledger: p.Ledger, Entry: p.Entry}
}
func fromDispatch(p dispatch.Position) cursor.Position {
	return cursor.Position{Ledger: p.Ledger, Entry: p.Entry}
}

func (s *Subscription) newDispatcher(typ SubType) (dispatcher, error) {
	cfg := dispatch.DefaultConfig()
	md := toDispatch(s.cursor.MarkDelete())
	switch typ {
	case SubExclusive:
		return dispatch.NewExclusive(cfg, md)
	case SubShared:
		return dispatch.NewShared(cfg, md)
	case SubFailover:
		return dispatch.NewFailover(cfg, md, s.topic.name.PartitionIndex())
	case SubKeyShared:
		return dispatch.NewKeyShared(cfg, md)
	}
	return nil, fmt.Errorf("%w: subscription type %d", ErrBadSubscription, typ)
}

// Name is the subscription's name.
func (s *Subscription) Name() string { return s.name }

// Type is the subscription's current type.
func (s *Subscription) Type() SubType { return s.subType }

// Cursor exposes the subscription's cursor (stats, admin).
func (s *Subscription) Cursor() *managedledger.Cursor { return s.cursor }

// Durable reports whether the subscription survives its consumers.
func (s *Subscription) Durable() bool { return s.durable }

// ConsumerCount is the number of attached consumers.
func (s *Subscription) ConsumerCount() int { return int(s.nConsumers.Load()) }

// do runs f on the subscription goroutine and waits for it.
func (s *Subscription) do(f func()) bool {
	done := make(chan struct{})
	if !s.post(func() { f(); close(done) }) {
		return false
	}
	select {
	case <-done:
		return true
	case <-s.stop:
		return false
	}
}

// post queues f for the subscription goroutine without waiting.
func (s *Subscription) post(f func()) bool {
	select {
	case s.in <- f:
		return true
	case <-s.stop:
		return false
	}
}

func (s *Subscription) loop() {
	defer s.wg.Done()
	for {
		select {
		case f := <-s.in:
			f()
			s.act()
		case <-s.stop:
			for _, t := range s.timerSeq {
				t.Stop()
			}
			return
		}
	}
}

func (s *Subscription) watchNewEntries() {
	defer s.wg.Done()
	ml := s.topic.ml
	for {
		ch := ml.NewEntries()
		select {
		case <-ch:
			if !s.post(func() { s.d.NewEntries() }) {
				return
			}
		case <-s.stop:
			return
		}
	}
}

// act carries out the dispatcher's actions. Runs on the subscription goroutine.
func (s *Subscription) act() {
	for _, a := range s.d.Ready() {
		switch a := a.(type) {
		case dispatch.Read:
			s.startRead(a)
		case dispatch.Send:
			c := s.consumers[a.ConsumerID]
			if c == nil {
				continue
			}
			msgs := make([]Message, len(a.Entries))
			var n, size int64
			for i, e := range a.Entries {
				msgs[i] = Message{Pos: fromDispatch(e.Pos), Entry: e.Payload, RedeliveryCount: e.RedeliveryCount, AckSet: e.AckSet}
				n += int64(max(e.NumMessages, 1))
				size += int64(len(e.Payload))
			}
			c.MsgsOut.Add(n)
			c.BytesOut.Add(size)
			s.MsgsOut.Add(n)
			s.BytesOut.Add(size)
			s.topic.MsgsOut.Add(n)
			s.topic.BytesOut.Add(size)
			c.sink.Deliver(msgs)
		case dispatch.ActiveConsumerChange:
			if c := s.consumers[a.ConsumerID]; c != nil {
				if !c.started {
					active := a.IsActive
					c.heldActive = &active
					continue
				}
				c.sink.ActiveChange(a.IsActive)
			}
		case dispatch.StartTimer:
			seq := a.Seq
			s.timerSeq[seq] = time.AfterFunc(a.After, func() {
				s.post(func() { delete(s.timerSeq, seq); s.d.TimerFired(seq) })
			})
		case dispatch.CloseConsumer:
			if c := s.consumers[a.ConsumerID]; c != nil {
				delete(s.consumers, a.ConsumerID)
				s.nConsumers.Add(-1)
				if !c.started {
					c.heldActive, c.heldClose = nil, true
					continue
				}
				c.sink.Close()
			}
		}
	}
}

// startRead performs a Read off the goroutine and reports back with ReadCompleted.
// Runs on the subscription goroutine, which is counted in wg, so the Add cannot race
// close's Wait.
func (s *Subscription) startRead(r dispatch.Read) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var ents []dispatch.Entry
		backoff := 50 * time.Millisecond
		for {
			var err error
			ents, err = s.read(r)
			if err == nil {
				break
			}
			if s.ctx.Err() != nil {
				return // closed
			}
			s.topic.svc.log.Warn("subscription read failed; retrying", "topic", s.topic.name.String(), "sub", s.name, "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		s.post(func() { s.d.ReadCompleted(ents) })
	}()
}

func (s *Subscription) read(r dispatch.Read) ([]dispatch.Entry, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	ml := s.topic.ml
	var out []dispatch.Entry
	if len(r.Replay) > 0 {
		for _, p := range r.Replay {
			pos := fromDispatch(p)
			if s.cursor.IsAcked(pos) {
				continue
			}
			ents, err := ml.ReadEntries(ctx, pos, 1)
			if err != nil {
				return nil, err
			}
			if len(ents) == 1 && ents[0].Pos == pos {
				out = append(out, s.toEntry(ents[0]))
			}
		}
		return out, nil
	}
	from := ml.Next(fromDispatch(r.After))
	for len(out) < r.MaxEntries {
		ents, err := ml.ReadEntries(ctx, from, r.MaxEntries-len(out))
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			if !s.cursor.IsAcked(e.Pos) {
				out = append(out, s.toEntry(e))
			}
		}
		from = ml.Next(ents[len(ents)-1].Pos)
	}
	return out, nil
}

// toEntry reads what the dispatcher needs out of the stored entry's metadata.
func (s *Subscription) toEntry(e managedledger.Entry) dispatch.Entry {
	de := entryMeta(e)
	if set := s.cursor.BatchAckSet(e.Pos); set != nil {
		de.AckSet = set
	}
	return de
}

// entryMeta parses an entry's message count and sticky-key hash.
func entryMeta(e managedledger.Entry) dispatch.Entry {
	de := dispatch.Entry{Pos: toDispatch(e.Pos), NumMessages: 1, Payload: e.Data}
	if p, err := wire.ParsePayload(e.Data); err == nil && p.Metadata != nil {
		md := p.Metadata
		if md.NumMessagesInBatch != nil {
			de.NumMessages = md.GetNumMessagesInBatch()
		}
		key := "NONE_KEY"
		switch {
		case len(md.GetOrderingKey()) > 0:
			key, de.HasKey = string(md.GetOrderingKey()), true
		case md.PartitionKey != nil:
			key, de.HasKey = md.GetPartitionKey(), true
		}
		de.KeyHash = StickyKeyHash([]byte(key))
	}
	return de
}

// StickyKeyHash is Key_Shared's hash: Murmur3_32(key) & 0x7fffffff mod 65536.
//
// It goes through murmur3's streaming digest, as pulsar-client-go's own
// Murmur3_32Hash does: the one-shot murmur3.Sum32 (v1.1.0) walks the key with a
// pointer computed past its end, which the race detector's checkptr turns into a
// fatal error ("pointer arithmetic result points to invalid allocation") — a
// -race build of the broker died on the first keyed message a Key_Shared
// subscription read.
func StickyKeyHash(key []byte) uint16 {
	h := murmur3.New32()
	h.Write(key) // a hash.Hash never fails
	return uint16((h.Sum32() & math.MaxInt32) % 65536)
}

// addConsumer attaches a consumer (on the goroutine).
func (s *Subscription) addConsumer(spec ConsumerSpec) (*Consumer, error) {
	var c *Consumer
	var err error
	ok := s.do(func() {
		id := s.nextID.Add(1)
		err = s.d.AddConsumer(dispatch.ConsumerInfo{ID: id, Name: spec.Name, Priority: spec.Priority, KeyShared: spec.KeyShared})
		if err != nil {
			switch {
			case errors.Is(err, dispatch.ErrConsumerBusy):
				err = fmt.Errorf("%w: %v", ErrConsumerBusy, err)
			case errors.Is(err, dispatch.ErrConsumerAssign):
				err = fmt.Errorf("%w: %v", ErrConsumerAssign, err)
			}
			return
		}
		c = &Consumer{sub: s, id: id, name: spec.Name, sink: spec.Sink}
		s.consumers[id] = c
		s.nConsumers.Add(1)
	})
	if !ok {
		return nil, ErrTopicClosed
	}
	return c, err
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

// Seek resets the cursor so that `to` is the next entry delivered. onDone runs on the
// subscription goroutine with the outcome, before the consumers are disconnected (the
// client expects the SEEK's SUCCESS first, then CLOSE_CONSUMER; it reconnects).
func (s *Subscription) Seek(to managedledger.Position, onDone func(error)) {
	if !s.post(func() {
		if err := s.cursor.Reset(to); err != nil {
			onDone(err)
			return
		}
		onDone(nil)
		s.d.RewindTo(toDispatch(to))
	}) {
		onDone(ErrTopicClosed)
	}
}

// close stops the goroutine and tells every consumer.
func (s *Subscription) close() {
	s.closedOnce.Do(func() {
		var sinks []ConsumerSink
		s.do(func() {
			for _, c := range s.consumers {
				sinks = append(sinks, c.sink)
			}
			s.consumers = map[uint64]*Consumer{}
			s.nConsumers.Store(0)
		})
		close(s.stop)
		s.cancel()
		s.wg.Wait()
		for _, k := range sinks {
			k.Close()
		}
	})
}

// ErrConsumerAssign: a Key_Shared consumer's ranges cannot be assigned.
var ErrConsumerAssign = errors.New("service: consumer hash ranges cannot be assigned")
