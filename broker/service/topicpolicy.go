package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// Topic-level policy overrides (Pulsar's topic policies). A topic's record lives at
// topic-policies/persistent/<tenant>/<namespace>/<topic> (docs/format/metadata.md), one
// per topic: a partitioned topic's record is kept under its base name and applies to
// every partition. A field that is set overrides the namespace policy; an unset one
// falls back to it. Open topics follow changes through a watch on the prefix, as they
// follow namespace records (policy.go).

// TopicPolicies is a topic's override record, in the JSON shape of Pulsar's
// TopicPolicies; nil (or absent) fields are not overridden.
type TopicPolicies struct {
	Retention            *RetentionPolicies      `json:"retentionPolicies,omitempty"`
	MessageTTLInSeconds  *int                    `json:"messageTTLInSeconds,omitempty"`
	BacklogQuotas        map[string]BacklogQuota `json:"backLogQuotaMap,omitempty"`
	DeduplicationEnabled *bool                   `json:"deduplicationEnabled,omitempty"`
	MaxProducers         *int                    `json:"maxProducerPerTopic,omitempty"`
	MaxConsumers         *int                    `json:"maxConsumerPerTopic,omitempty"`
	Persistence          *PersistencePolicies    `json:"persistence,omitempty"`
}

// empty reports a record with no override left.
func (tp TopicPolicies) empty() bool {
	return tp.Retention == nil && tp.MessageTTLInSeconds == nil && len(tp.BacklogQuotas) == 0 &&
		tp.DeduplicationEnabled == nil && tp.MaxProducers == nil && tp.MaxConsumers == nil && tp.Persistence == nil
}

// Apply returns the namespace policies p with tp's overrides in place: the effective
// policies of the topic.
func (tp TopicPolicies) Apply(p Policies) Policies {
	if tp.Retention != nil {
		r := *tp.Retention
		p.Retention = &r
	}
	if tp.MessageTTLInSeconds != nil {
		p.MessageTTLInSeconds = *tp.MessageTTLInSeconds
	}
	if len(tp.BacklogQuotas) > 0 {
		m := make(map[string]BacklogQuota, len(p.BacklogQuotas)+len(tp.BacklogQuotas))
		for k, v := range p.BacklogQuotas {
			m[k] = v
		}
		for k, v := range tp.BacklogQuotas {
			m[k] = v
		}
		p.BacklogQuotas = m
	}
	if tp.DeduplicationEnabled != nil {
		b := *tp.DeduplicationEnabled
		p.DeduplicationEnabled = &b
	}
	if tp.MaxProducers != nil {
		p.MaxProducersPerTopic = *tp.MaxProducers
	}
	if tp.MaxConsumers != nil {
		p.MaxConsumersPerTopic = *tp.MaxConsumers
	}
	if tp.Persistence != nil {
		ps := *tp.Persistence
		p.Persistence = &ps
	}
	return p
}

// topicPolicySnapshot is a topic's override record as of an etcd revision (rev 0: none
// read yet; an empty record with a revision is a deletion).
type topicPolicySnapshot struct {
	p   TopicPolicies
	rev int64
}

func (s *Service) topicPoliciesPrefix() string { return s.store.Keys.Under("topic-policies") + "/" }

// topicPoliciesKey is the record's key; partitions share their base topic's.
func (s *Service) topicPoliciesKey(name topic.Name) string {
	b := name.Base()
	return s.store.Keys.Under("topic-policies", string(b.Domain), b.Tenant, b.Namespace, b.Local)
}

// TopicPolicies returns a topic's override record (empty when none is set).
func (s *Service) TopicPolicies(ctx context.Context, name topic.Name) (TopicPolicies, error) {
	tp, _, err := s.topicPoliciesWithRevision(ctx, name)
	return tp, err
}

func (s *Service) topicPoliciesWithRevision(ctx context.Context, name topic.Name) (TopicPolicies, int64, error) {
	v, err := s.store.Get(ctx, s.topicPoliciesKey(name))
	if errors.Is(err, metadata.ErrNotFound) {
		return TopicPolicies{}, 0, nil
	}
	if err != nil {
		return TopicPolicies{}, 0, err
	}
	var tp TopicPolicies
	if err := json.Unmarshal(v.Data, &tp); err != nil {
		return TopicPolicies{}, 0, fmt.Errorf("service: topic policies of %s: bad record: %w", name, err)
	}
	return tp, v.ModRevision, nil
}

// UpdateTopicPolicies changes a topic's override record with compare-and-swap; a record
// left empty is deleted. The topic (or, for a partitioned topic, its metadata) must exist.
func (s *Service) UpdateTopicPolicies(ctx context.Context, name topic.Name, change func(*TopicPolicies) error) error {
	if name.Domain != topic.Persistent {
		return fmt.Errorf("%w: %s", ErrTopicNotFound, name)
	}
	if _, err := s.Namespaces.Policies(ctx, name.NamespaceName()); err != nil {
		return err
	}
	b := name.Base()
	exists, err := s.topicExists(ctx, b)
	if err != nil {
		return err
	}
	if !exists {
		n, err := s.Namespaces.PartitionedMetadata(ctx, b)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: %s", ErrTopicNotFound, b)
		}
	}
	key := s.topicPoliciesKey(name)
	for {
		tp, rev, err := s.topicPoliciesWithRevision(ctx, name)
		if err != nil {
			return err
		}
		if err := change(&tp); err != nil {
			return err
		}
		if tp.empty() {
			if rev == 0 {
				return nil
			}
			err = s.store.Delete(ctx, key, rev)
		} else {
			data, _ := json.Marshal(tp)
			_, err = s.store.CAS(ctx, key, data, rev)
		}
		if errors.Is(err, metadata.ErrRevisionMismatch) || errors.Is(err, metadata.ErrExists) {
			continue
		}
		return err
	}
}

// watchTopicPolicies applies override records to open topics as they change.
func (s *Service) watchTopicPolicies(ctx context.Context) {
	prefix := s.topicPoliciesPrefix()
	reset := func(vals []metadata.Value, rev int64) {
		seen := map[string]bool{}
		s.mu.Lock()
		s.topicPols = map[string]topicPolicySnapshot{}
		s.mu.Unlock()
		for _, v := range vals {
			var tp TopicPolicies
			if json.Unmarshal(v.Data, &tp) != nil {
				continue
			}
			key := strings.TrimPrefix(v.Key, prefix)
			seen[key] = true
			s.topicPoliciesChanged(key, topicPolicySnapshot{p: tp, rev: v.ModRevision})
		}
		for _, t := range s.LoadedTopics() {
			if !seen[topicPolicyKeySuffix(t.name)] {
				t.applyTopicPolicies(topicPolicySnapshot{rev: rev})
			}
		}
	}
	var from int64
	for ctx.Err() == nil {
		vals, rev, err := s.store.List(ctx, prefix)
		if err == nil {
			reset(vals, rev)
			from = rev + 1
			break
		}
		s.log.Warn("list topic policies", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	for ev := range s.store.Watch(ctx, prefix, from) {
		switch ev.Type {
		case metadata.EventReset:
			reset(ev.Snapshot, ev.Revision)
		case metadata.EventPut:
			var tp TopicPolicies
			if err := json.Unmarshal(ev.Value.Data, &tp); err != nil {
				s.log.Warn("bad topic policies record", "key", ev.Value.Key, "err", err)
				continue
			}
			s.topicPoliciesChanged(strings.TrimPrefix(ev.Value.Key, prefix), topicPolicySnapshot{p: tp, rev: ev.Value.ModRevision})
		case metadata.EventDelete:
			s.topicPoliciesChanged(strings.TrimPrefix(ev.Value.Key, prefix), topicPolicySnapshot{rev: ev.Value.ModRevision})
		}
	}
}

// topicPolicyKeySuffix is the record key of t's base topic below the prefix.
func topicPolicyKeySuffix(name topic.Name) string {
	b := name.Base()
	return string(b.Domain) + "/" + b.Tenant + "/" + b.Namespace + "/" + b.Local
}

// topicPoliciesChanged applies a record to the open topics it covers.
// Ordering with load as for namespace records: stored before the topics are listed.
func (s *Service) topicPoliciesChanged(key string, snap topicPolicySnapshot) {
	s.mu.Lock()
	if s.topicPols == nil {
		s.topicPols = map[string]topicPolicySnapshot{}
	}
	s.topicPols[key] = snap
	s.mu.Unlock()
	for _, t := range s.LoadedTopics() {
		if topicPolicyKeySuffix(t.name) == key {
			t.applyTopicPolicies(snap)
		}
	}
}

// applyTopicPolicies makes snap the topic's overrides unless it has a newer record, and
// re-applies the effective retention and persistence.
func (t *Topic) applyTopicPolicies(snap topicPolicySnapshot) {
	t.polMu.Lock()
	if t.tpol.rev >= snap.rev {
		t.polMu.Unlock()
		return
	}
	t.tpol = snap
	t.polMu.Unlock()
	t.applyMLPolicies()
}

// applyMLPolicies gives the managed ledger the effective retention and persistence.
func (t *Topic) applyMLPolicies() {
	mp := mlPolicies(t.policies())
	t.ml.SetRetention(mp.Retention)
	t.ml.SetPersistence(mp.Persistence)
}

// effectivePolicies reads the namespace record and the topic's overrides from etcd
// (producer and consumer admission) and merges them.
func (t *Topic) effectivePolicies(ctx context.Context) (Policies, error) {
	pol, err := t.svc.Namespaces.Policies(ctx, t.name.NamespaceName())
	if err != nil {
		return Policies{}, err
	}
	tp, err := t.svc.TopicPolicies(ctx, t.name)
	if err != nil {
		return Policies{}, err
	}
	return tp.Apply(pol), nil
}
