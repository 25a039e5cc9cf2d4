package service

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// SubscribeSpec describes a SUBSCRIBE.
type SubscribeSpec struct {
	Subscription string
	Type         SubType
	Durable      bool
	Initial      managedledger.InitialPosition
	// StartMessageID is where a non-durable subscription (a reader) starts, inclusive;
	// nil means Initial. Pulsar's earliest is (-1,-1), latest is (MaxInt64, MaxInt64).
	StartMessageID *managedledger.Position
	Consumer       ConsumerSpec
}

// Subscribe attaches a consumer, creating the subscription if needed. Call
// Consumer.Start after telling the client it succeeded.
func (t *Topic) Subscribe(ctx context.Context, spec SubscribeSpec) (*Consumer, error) {
	if spec.Subscription == "" {
		return nil, fmt.Errorf("%w: empty subscription name", ErrBadSubscription)
	}
	if spec.Type < SubExclusive || spec.Type > SubKeyShared {
		return nil, fmt.Errorf("%w: unknown subscription type %d", ErrBadSubscription, spec.Type)
	}
	pol, err := t.effectivePolicies(ctx)
	if err != nil {
		return nil, err
	}
	if pol.MaxConsumersPerTopic > 0 && t.consumerCount() >= pol.MaxConsumersPerTopic {
		return nil, ErrTooManyConsumers
	}
	sub, err := t.subscription(ctx, spec)
	if err != nil {
		return nil, err
	}
	return sub.addConsumer(spec.Consumer)
}

func (t *Topic) consumerCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.subs {
		n += s.ConsumerCount()
	}
	return n
}

// subscription finds or creates the subscription for spec, switching its type when it
// has no consumers.
func (t *Topic) subscription(ctx context.Context, spec SubscribeSpec) (*Subscription, error) {
	if !spec.Durable {
		// A reader the broker disconnected after a SEEK comes back under the same name:
		// it continues on its reset cursor, as in Pulsar, not at the start_message_id it
		// sends (after a seek by time that is still its original start).
		if s := t.idleNonDurable(spec); s != nil {
			return s, nil
		}
		c, err := t.ml.NewNonDurableCursor(t.startPosition(spec))
		if err != nil {
			return nil, err
		}
		// A reader's subscription is private to it: give it a unique key.
		key := spec.Subscription + "\x00nd" + strconv.FormatUint(t.nonDurableSeq.Add(1), 10)
		s, err := newSubscription(t, spec.Subscription, c, false, spec.Type)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.closed {
			s.close()
			return nil, ErrTopicClosed
		}
		s.key = key
		t.subs[key] = s
		return s, nil
	}
	t.mu.Lock()
	s, ok := t.subs[spec.Subscription]
	t.mu.Unlock()
	if ok {
		if s.subType == spec.Type {
			return s, nil
		}
		if s.ConsumerCount() > 0 {
			return nil, fmt.Errorf("%w: subscription %q is %s; cannot join as %s", ErrConsumerBusy, spec.Subscription, s.subType, spec.Type)
		}
		t.removeSubscription(s)
		s.close()
		return t.subscription(ctx, spec)
	}
	c, _, err := t.ml.OpenCursor(ctx, spec.Subscription, spec.Initial)
	if err != nil {
		return nil, err
	}
	ns, err := newSubscription(t, spec.Subscription, c, true, spec.Type)
	if err != nil {
		return nil, err
	}
	ns.key = spec.Subscription
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		ns.close()
		return nil, ErrTopicClosed
	}
	if prev, ok := t.subs[spec.Subscription]; ok {
		ns.close()
		if prev.subType != spec.Type {
			return nil, fmt.Errorf("%w: subscription %q is %s", ErrConsumerBusy, spec.Subscription, prev.subType)
		}
		return prev, nil
	}
	t.subs[spec.Subscription] = ns
	return ns, nil
}

// idleNonDurable returns a non-durable subscription called spec.Subscription, of its
// type, that has no consumer: one whose consumers the broker closed (a seek), since the
// last consumer leaving removes it.
func (t *Topic) idleNonDurable(spec SubscribeSpec) *Subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.subs {
		if !s.durable && s.name == spec.Subscription && s.subType == spec.Type && s.ConsumerCount() == 0 {
			return s
		}
	}
	return nil
}

// startPosition resolves a reader's start: the entry itself (inclusive, the client trims
// within batches and drops it when exclusive), or the earliest/latest ends.
func (t *Topic) startPosition(spec SubscribeSpec) managedledger.Position {
	latest := func() managedledger.Position { return t.ml.Next(t.ml.LastConfirmed()) }
	if spec.StartMessageID == nil {
		if spec.Initial == managedledger.Earliest {
			return cursor.Earliest()
		}
		return latest()
	}
	p := *spec.StartMessageID
	switch {
	case p.Ledger < 0 || p.Entry < 0:
		return cursor.Earliest()
	case p.Ledger == math.MaxInt64:
		return latest()
	}
	return p
}

func (t *Topic) removeSubscription(s *Subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.subs[s.key] == s {
		delete(t.subs, s.key)
	}
}

// Subscriptions returns the live subscriptions (readers included).
func (t *Topic) Subscriptions() []*Subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Subscription, 0, len(t.subs))
	for _, s := range t.subs {
		out = append(out, s)
	}
	return out
}

// Unsubscribe deletes a durable subscription. Without force it is refused while a
// consumer other than by is attached; with force those consumers are disconnected.
func (t *Topic) Unsubscribe(ctx context.Context, s *Subscription, by *Consumer, force bool) error {
	if !force {
		n := s.ConsumerCount()
		if by != nil {
			n--
		}
		if n > 0 {
			return ErrSubscriptionBusy
		}
	}
	t.removeSubscription(s)
	s.close()
	if s.durable {
		return t.ml.DeleteCursor(ctx, s.name)
	}
	return nil
}

// LastMessage is the topic's last entry (Entry -1 when it has none) and the batch index
// of its last message (-1 when not batched).
func (t *Topic) LastMessage(ctx context.Context) (managedledger.Position, int32, error) {
	last := t.ml.LastConfirmed()
	if last.Entry < 0 {
		return last, -1, nil
	}
	ents, err := t.ml.ReadEntries(ctx, last, 1)
	if err != nil {
		return last, -1, err
	}
	if len(ents) == 1 {
		de := entryMeta(ents[0])
		if de.NumMessages > 1 {
			return last, de.NumMessages - 1, nil
		}
	}
	return last, -1, nil
}
