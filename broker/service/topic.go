package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/ownership"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/topic"
)

// Topic is one open persistent topic.
type Topic struct {
	svc  *Service
	name topic.Name
	ml   *managedledger.ManagedLedger
	// claim is this broker's ownership of the topic's bundle (nil without ownership).
	claim *ownership.Claim

	// Counters for stats and metrics. Out counts what was dispatched to consumers of
	// every subscription, including ones since removed.
	MsgsIn, BytesIn   atomic.Int64
	MsgsOut, BytesOut atomic.Int64
	rateIn, rateOut   rateWindow // rates.go

	mu sync.Mutex
	// Invariant: producers holds every live producer by name.
	producers map[string]*Producer
	// waiting are WaitForExclusive producers queued for the topic, in arrival order.
	waiting []*Producer
	subs    map[string]*Subscription
	closed  bool
	// dedup is set at open when deduplication is enabled for the namespace.
	dedup *dedup

	// polMu guards pol, the namespace policies the topic enforces, and tpol, the
	// topic's overrides (policy.go).
	polMu sync.Mutex
	pol   *resources.Versioned[resources.Policies]
	tpol  resources.Versioned[resources.TopicPolicies]

	// nonDurableSeq numbers readers' subscriptions, to give each a unique key in subs.
	nonDurableSeq atomic.Uint64
	// bg are the topic's background goroutines (deduplication snapshots), stopped by
	// Close.
	bg *goroutines

	// pubMu guards the queue that keeps publish callbacks in Publish order (duplicates
	// are answered without a write, but still in their turn).
	pubMu       sync.Mutex
	pubQ        []*pubSlot
	pubDraining bool
}

func newTopic(svc *Service, name topic.Name, ml *managedledger.ManagedLedger) *Topic {
	return &Topic{svc: svc, name: name, ml: ml, producers: map[string]*Producer{}, subs: map[string]*Subscription{},
		bg: newGoroutines(context.Background())}
}

// Name is the topic's name.
func (t *Topic) Name() topic.Name { return t.name }

// ManagedLedger exposes the topic's log (stats, admin).
func (t *Topic) ManagedLedger() *managedledger.ManagedLedger { return t.ml }

// AccessMode is a producer's access mode (Pulsar's ProducerAccessMode).
type AccessMode int

const (
	AccessShared AccessMode = iota
	AccessExclusive
	AccessWaitForExclusive
	AccessExclusiveWithFencing
)

// ProducerSpec describes a producer being added.
type ProducerSpec struct {
	Name       string // "" → generated
	AccessMode AccessMode
	// OnClose is called (once, from any goroutine) when the broker closes the producer:
	// the topic was unloaded, fenced or deleted. The protocol layer tells the client.
	OnClose func()
}

// Producer is a registered producer of a topic.
type Producer struct {
	topic   *Topic
	name    string
	mode    AccessMode
	onClose func()
	// ready is closed when a WaitForExclusive producer gets the topic.
	ready     chan struct{}
	closeOnce sync.Once
	// MsgsIn and BytesIn count what the producer published (persisted).
	MsgsIn, BytesIn atomic.Int64
	rateIn          rateWindow
}

// Name is the producer's (possibly generated) name.
func (p *Producer) Name() string { return p.name }

// Ready is closed once the producer may send (immediately except for a waiting
// WaitForExclusive producer).
func (p *Producer) Ready() <-chan struct{} { return p.ready }

// AddProducer registers a producer, enforcing access modes and unique names.
func (t *Topic) AddProducer(ctx context.Context, spec ProducerSpec) (*Producer, error) {
	pol, err := t.effectivePolicies(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.admitProducer(ctx, pol); err != nil {
		return nil, err // a backlog quota is exceeded
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrTopicClosed
	}
	if t.ml.Info().Terminated {
		return nil, ErrTopicTerminated
	}
	name := spec.Name
	if name == "" {
		name = t.svc.nextProducerName()
	}
	if _, dup := t.producers[name]; dup {
		return nil, ErrProducerBusy
	}
	if pol.MaxProducersPerTopic > 0 && len(t.producers) >= pol.MaxProducersPerTopic {
		return nil, ErrTooManyProducers
	}
	p := &Producer{topic: t, name: name, mode: spec.AccessMode, onClose: spec.OnClose, ready: make(chan struct{})}
	exclusiveHeld := false
	for _, q := range t.producers {
		if q.mode != AccessShared {
			exclusiveHeld = true
		}
	}
	switch spec.AccessMode {
	case AccessShared:
		if exclusiveHeld {
			return nil, ErrProducerBusy
		}
	case AccessExclusive, AccessExclusiveWithFencing:
		if len(t.producers) > 0 {
			return nil, ErrProducerFenced
		}
	case AccessWaitForExclusive:
		if len(t.producers) > 0 {
			t.waiting = append(t.waiting, p)
			return p, nil // not ready yet
		}
	}
	t.producers[name] = p
	close(p.ready)
	return p, nil
}

// RemoveProducer unregisters p (the client closed it or disconnected) and lets the next
// WaitForExclusive producer in.
func (t *Topic) RemoveProducer(p *Producer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.producers[p.name] == p {
		delete(t.producers, p.name)
	}
	for i, w := range t.waiting {
		if w == p {
			t.waiting = append(t.waiting[:i], t.waiting[i+1:]...)
			break
		}
	}
	if len(t.producers) == 0 && len(t.waiting) > 0 {
		next := t.waiting[0]
		t.waiting = t.waiting[1:]
		t.producers[next.name] = next
		close(next.ready)
	}
}

// EnsureSubscription creates the durable subscription name at the earliest position
// unless it exists: a producer's initial_subscription_name (the client's DLQ producer
// sets it), so that what it publishes is retained for a consumer that subscribes later.
func (t *Topic) EnsureSubscription(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty subscription name", ErrBadSubscription)
	}
	_, _, err := t.ml.OpenCursor(ctx, name, managedledger.Earliest)
	return err
}

// Producers returns the live producers.
func (t *Topic) Producers() []*Producer {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Producer, 0, len(t.producers))
	for _, p := range t.producers {
		out = append(out, p)
	}
	return out
}

// PublishMessage is one SEND: the producer's stored bytes plus what deduplication needs.
type PublishMessage struct {
	Producer string
	// From, if set, is the producer whose counters the message adds to.
	From *Producer
	// SequenceID is the (first) message's sequence id; HighestSequenceID the batch's
	// last (0 or equal for a single message).
	SequenceID, HighestSequenceID int64
	Entry                         []byte // metadata + payload, exactly as sent
	NumMessages                   int
}

// Publish appends one entry and calls cb with its position once durable. Callbacks run
// in Publish order. With deduplication on, a message whose sequence id the producer
// already published is not written again: cb gets Duplicate as the position.
func (t *Topic) Publish(m PublishMessage, cb func(managedledger.Position, error)) {
	d := t.dedup
	highest := max(m.SequenceID, m.HighestSequenceID)
	slot := &pubSlot{cb: cb}
	t.pubMu.Lock()
	t.pubQ = append(t.pubQ, slot)
	t.pubMu.Unlock()
	if d != nil && !d.admit(m.Producer, m.SequenceID, highest) {
		// Answered in its turn, after the publishes before it: receipts keep send order.
		t.publishDone(slot, Duplicate(), nil)
		return
	}
	obs := t.svc.cfg.ObservePublish
	var start time.Time
	if obs != nil {
		start = time.Now()
	}
	t.ml.AsyncAdd(m.Entry, func(pos managedledger.Position, err error) {
		if obs != nil {
			obs(t, time.Since(start), err)
		}
		if err == nil {
			t.MsgsIn.Add(int64(m.NumMessages))
			t.BytesIn.Add(int64(len(m.Entry)))
			if m.From != nil {
				m.From.MsgsIn.Add(int64(m.NumMessages))
				m.From.BytesIn.Add(int64(len(m.Entry)))
			}
			if d != nil {
				d.persistedUpTo(m.Producer, highest, pos)
			}
		} else {
			if d != nil {
				d.failed(m.Producer)
			}
			if errors.Is(err, managedledger.ErrFenced) {
				// Another broker owns the topic now: let every client reconnect.
				t.closeAsync()
			}
		}
		if errors.Is(err, managedledger.ErrTerminated) {
			err = ErrTopicTerminated
		}
		t.publishDone(slot, pos, err)
	})
}

// pubSlot is one Publish awaiting its turn to call back.
type pubSlot struct {
	cb   func(managedledger.Position, error)
	done bool
	pos  managedledger.Position
	err  error
}

// publishDone records an outcome and runs every callback at the head of the queue that
// is complete, in order. One caller at a time drains; the others leave their slot to it.
func (t *Topic) publishDone(s *pubSlot, pos managedledger.Position, err error) {
	t.pubMu.Lock()
	s.done, s.pos, s.err = true, pos, err
	if t.pubDraining {
		t.pubMu.Unlock()
		return
	}
	t.pubDraining = true
	for {
		var ready []*pubSlot
		for len(t.pubQ) > 0 && t.pubQ[0].done {
			ready = append(ready, t.pubQ[0])
			t.pubQ[0] = nil
			t.pubQ = t.pubQ[1:]
		}
		if len(ready) == 0 {
			t.pubDraining = false
			t.pubMu.Unlock()
			return
		}
		t.pubMu.Unlock()
		for _, r := range ready {
			if r.err == nil && t.claim != nil && !t.claim.Valid() {
				// Past the lease's local deadline another broker may own the topic by now:
				// acknowledge nothing more. The entry is durable, but the client resends it
				// to the next owner (deduplication, when on, drops the copy).
				r.err = fmt.Errorf("%w: %s", ErrOwnershipLost, t.name)
				t.closeAsync()
			}
			r.cb(r.pos, r.err)
		}
		t.pubMu.Lock()
	}
}

// Duplicate is the position reported for a message dropped by deduplication (Pulsar
// answers such a SEND with message id -1:-1).
func Duplicate() managedledger.Position { return managedledger.Position{Ledger: -1, Entry: -1} }

// LastSequenceID is the highest sequence id persisted for a producer name, or -1 (also
// when deduplication is off), for PRODUCER_SUCCESS.
func (t *Topic) LastSequenceID(producer string) int64 {
	if t.dedup == nil {
		return -1
	}
	return t.dedup.lastSequenceID(producer)
}

// Close disconnects every producer and consumer, closes the managed ledger and removes
// the topic from the broker; the next use reopens it.
func (t *Topic) Close(ctx context.Context) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	producers := make([]*Producer, 0, len(t.producers)+len(t.waiting))
	for _, p := range t.producers {
		producers = append(producers, p)
	}
	producers = append(producers, t.waiting...)
	subs := make([]*Subscription, 0, len(t.subs))
	for _, s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	done := t.svc.closing(t)
	defer done()
	for _, p := range producers {
		p.closeOnce.Do(func() {
			if p.onClose != nil {
				p.onClose()
			}
		})
	}
	for _, s := range subs {
		s.close()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	t.svc.topicClosing(cctx, t)
	if err := t.ml.Close(cctx); err != nil {
		t.svc.log.Warn("close managed ledger", "topic", t.name.String(), "err", err)
	}
	// Every add has completed now, so no snapshot starts any more: stop the one that
	// may be under way (the final one below supersedes it).
	t.bg.Stop()
	// A final snapshot spares the next owner the replay. Never after a takeover: the
	// new owner's snapshot is the one that counts.
	if t.dedup != nil && !t.ml.Fenced() {
		t.dedup.close(cctx)
	}
}

// closeAsync closes the topic on a goroutine the Service owns (Service.Close waits for
// it): the publish path notices a fence or a lost claim and must not wait for the close.
func (t *Topic) closeAsync() {
	t.svc.bg.Go(func(ctx context.Context) { t.Close(ctx) })
}
