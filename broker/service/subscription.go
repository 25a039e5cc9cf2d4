package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/broker/dispatch"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
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
