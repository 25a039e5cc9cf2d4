package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// Topic lifecycle for the admin API: explicit creation, deletion (of a topic, a
// partitioned topic, a namespace), unload and terminate.

// ErrTopicBusy: the topic has connected producers or consumers and the delete was not
// forced.
var ErrTopicBusy = errors.New("service: topic has connected producers or consumers")

// CreateTopic creates a non-partitioned topic (even when auto topic creation is off);
// metadata.ErrExists if it, or a partitioned topic of that name, exists; resources.ErrNotFound if
// its namespace does not.
func (s *Service) CreateTopic(ctx context.Context, name topic.Name) error {
	if _, err := s.Namespaces.Policies(ctx, name.NamespaceName()); err != nil {
		return err
	}
	if n, err := s.Namespaces.PartitionedMetadata(ctx, name); err != nil {
		return err
	} else if n > 0 {
		return fmt.Errorf("%w: %s is a partitioned topic", metadata.ErrExists, name)
	}
	exists, err := s.Namespaces.TopicExists(ctx, name)
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("%w: %s", metadata.ErrExists, name)
	}
	_, err = s.load(ctx, name, true, true)
	return err
}

// inUse reports whether producers or consumers are attached.
func (t *Topic) inUse() bool {
	t.mu.Lock()
	n := len(t.producers) + len(t.waiting)
	subs := make([]*Subscription, 0, len(t.subs))
	for _, s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	for _, s := range subs {
		n += s.ConsumerCount()
	}
	return n > 0
}

// DeleteTopic deletes a non-partitioned topic (or one partition): its managed ledger's
// ledgers, cursors and record. Without force it is refused (ErrTopicBusy) while
// producers or consumers are attached; with force they are disconnected first.
// resources.ErrNotFound if the topic does not exist.
//
// While the deletion runs, the topic's registry slot is held: a client reconnecting
// meanwhile waits, then gets resources.ErrTopicNotFound (and, with auto creation, creates a new
// empty topic on its next attempt, as in Pulsar).
func (s *Service) DeleteTopic(ctx context.Context, name topic.Name, force bool) error {
	exists, err := s.Namespaces.TopicExists(ctx, name)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("%w: topic %s", resources.ErrNotFound, name)
	}
	t, err := s.Topic(ctx, name, false)
	if err != nil {
		return err
	}
	key := name.String()
	hold := &topicSlot{ready: make(chan struct{})}
	s.mu.Lock()
	cur := s.topics[key]
	if cur == nil || cur.t != t {
		s.mu.Unlock()
		return fmt.Errorf("service: topic %s was unloaded meanwhile; try again", name)
	}
	s.topics[key] = hold
	s.mu.Unlock()
	if !force && t.inUse() {
		s.mu.Lock()
		s.topics[key] = cur
		s.mu.Unlock()
		hold.t = t // whoever waited on the hold gets the topic, which stays open
		close(hold.ready)
		return fmt.Errorf("%w: %s", ErrTopicBusy, name)
	}
	t.Close(ctx)
	err = t.ml.Delete(ctx)
	hold.err = fmt.Errorf("%w: %s was deleted", resources.ErrTopicNotFound, name)
	if err != nil {
		hold.err = fmt.Errorf("service: delete %s: %w", name, err)
	}
	s.mu.Lock()
	if s.topics[key] == hold {
		delete(s.topics, key)
	}
	s.mu.Unlock()
	close(hold.ready)
	if err == nil && !name.IsPartition() {
		// Its topic-level policies go with it (a partitioned topic's with its record).
		err = s.Namespaces.DeleteTopicPolicies(ctx, name)
	}
	return err
}

// DeletePartitionedTopic deletes every partition of a partitioned topic, then its
// record. Without force, nothing is deleted while any partition is in use.
func (s *Service) DeletePartitionedTopic(ctx context.Context, base topic.Name, force bool) error {
	n, err := s.Namespaces.PartitionedMetadata(ctx, base)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: partitioned topic %s", resources.ErrNotFound, base)
	}
	if !force {
		for i := 0; i < n; i++ {
			if t := s.loaded(base.Partition(i)); t != nil && t.inUse() {
				return fmt.Errorf("%w: %s", ErrTopicBusy, base.Partition(i))
			}
		}
	}
	for i := 0; i < n; i++ {
		if err := s.DeleteTopic(ctx, base.Partition(i), force); err != nil && !errors.Is(err, resources.ErrNotFound) {
			return err
		}
	}
	if err := s.Namespaces.DeleteTopicPolicies(ctx, base); err != nil {
		return err
	}
	return s.Namespaces.DeletePartitionedRecord(ctx, base)
}

// DeleteNamespace deletes a namespace. Without force it is refused (resources.ErrNotEmpty) while
// it has topics; with force its topics are deleted first.
func (s *Service) DeleteNamespace(ctx context.Context, ns string, force bool) error {
	if _, err := s.Namespaces.Policies(ctx, ns); err != nil {
		return err
	}
	parted, err := s.Namespaces.PartitionedTopics(ctx, ns)
	if err != nil {
		return err
	}
	topics, err := s.Namespaces.TopicsOf(ctx, ns)
	if err != nil {
		return err
	}
	if len(parted)+len(topics) > 0 && !force {
		return fmt.Errorf("%w: namespace %s has %d topics", resources.ErrNotEmpty, ns, len(parted)+len(topics))
	}
	for _, p := range parted {
		name, err := topic.Parse(p)
		if err != nil {
			return err
		}
		if err := s.DeletePartitionedTopic(ctx, name, true); err != nil && !errors.Is(err, resources.ErrNotFound) {
			return err
		}
	}
	for _, tn := range topics {
		name, err := topic.Parse(tn)
		if err != nil {
			return err
		}
		if err := s.DeleteTopic(ctx, name, true); err != nil && !errors.Is(err, resources.ErrNotFound) {
			return err
		}
	}
	return s.Namespaces.DeleteNamespaceRecord(ctx, ns)
}

// loaded returns the topic if it is open on this broker, else nil.
func (s *Service) loaded(name topic.Name) *Topic {
	s.mu.Lock()
	slot, ok := s.topics[name.String()]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	select {
	case <-slot.ready:
		return slot.t
	default:
		return nil
	}
}

// Unload closes the topic on this broker if it is open; its clients reconnect and the
// next use opens it again. resources.ErrNotFound if it does not exist.
//
// The registry slot is held while the topic closes: a client reconnecting at once would
// otherwise reopen the managed ledger under the closing one and fence it mid-close.
// Openers that arrive meanwhile get ErrTopicClosed and retry.
func (s *Service) Unload(ctx context.Context, name topic.Name) error {
	if t := s.loaded(name); t != nil {
		key := name.String()
		hold := &topicSlot{ready: make(chan struct{}), err: fmt.Errorf("%w: %s is being unloaded", ErrTopicClosed, name)}
		s.mu.Lock()
		if cur := s.topics[key]; cur == nil || cur.t != t {
			s.mu.Unlock()
			return nil // closed or replaced meanwhile: unloaded already
		}
		s.topics[key] = hold
		s.mu.Unlock()
		t.Close(ctx)
		s.mu.Lock()
		if s.topics[key] == hold {
			delete(s.topics, key)
		}
		s.mu.Unlock()
		close(hold.ready)
		return nil
	}
	exists, err := s.Namespaces.TopicExists(ctx, name)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("%w: topic %s", resources.ErrNotFound, name)
	}
	return nil
}

// Terminate ends a topic: no more messages are accepted. It returns the last position.
func (s *Service) Terminate(ctx context.Context, name topic.Name) (managedledger.Position, error) {
	t, err := s.Topic(ctx, name, false)
	if err != nil {
		return managedledger.Position{}, err
	}
	return t.ml.Terminate(ctx)
}
