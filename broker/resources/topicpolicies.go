package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// Topic-level policy overrides (Pulsar's topic policies). A topic's record lives at
// topic-policies/persistent/<tenant>/<namespace>/<topic> (docs/format/metadata.md), one
// per topic: a partitioned topic's record is kept under its base name and applies to
// every partition. A field that is set overrides the namespace policy; an unset one
// falls back to it. Open topics follow changes through a watch on the prefix
// (PolicyWatch), as they follow namespace records.

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
	OffloadPolicies      *OffloadPolicies        `json:"offloadPolicies,omitempty"`
	// ReplicationClusters overrides the namespace's replication clusters.
	ReplicationClusters []string `json:"replicationClusters,omitempty"`
}

// empty reports a record with no override left.
func (tp TopicPolicies) empty() bool {
	return tp.Retention == nil && tp.MessageTTLInSeconds == nil && len(tp.BacklogQuotas) == 0 &&
		tp.DeduplicationEnabled == nil && tp.MaxProducers == nil && tp.MaxConsumers == nil && tp.Persistence == nil &&
		tp.OffloadPolicies == nil && len(tp.ReplicationClusters) == 0
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
	if len(tp.ReplicationClusters) > 0 {
		p.ReplicationClusters = slices.Clone(tp.ReplicationClusters)
	}
	if tp.OffloadPolicies != nil {
		// Field by field: what the topic leaves unset falls back to the namespace.
		var o OffloadPolicies
		if p.OffloadPolicies != nil {
			o = *p.OffloadPolicies
		}
		o = o.merge(*tp.OffloadPolicies)
		p.OffloadPolicies = &o
	}
	return p
}

func (n *Namespaces) topicPoliciesPrefix() string { return n.s.Keys.TopicPolicies() }

// topicPoliciesKey is the record's key; partitions share their base topic's.
func (n *Namespaces) topicPoliciesKey(name topic.Name) string {
	b := name.Base()
	return n.s.Keys.TopicPolicy(string(b.Domain), b.Tenant, b.Namespace, b.Local)
}

// TopicPolicyKey is the key of name's override record below the topic-policies prefix
// (partitions share their base topic's): what PolicyWatch reports changes under.
func TopicPolicyKey(name topic.Name) string {
	b := name.Base()
	return string(b.Domain) + "/" + b.Tenant + "/" + b.Namespace + "/" + b.Local
}

// TopicPolicies returns a topic's override record (empty when none is set).
func (n *Namespaces) TopicPolicies(ctx context.Context, name topic.Name) (TopicPolicies, error) {
	tp, _, err := n.TopicPoliciesWithRevision(ctx, name)
	return tp, err
}

// TopicPoliciesWithRevision returns a topic's override record and its revision (0 when
// there is none).
func (n *Namespaces) TopicPoliciesWithRevision(ctx context.Context, name topic.Name) (TopicPolicies, int64, error) {
	v, err := n.s.Get(ctx, n.topicPoliciesKey(name))
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
func (n *Namespaces) UpdateTopicPolicies(ctx context.Context, name topic.Name, change func(*TopicPolicies) error) error {
	if name.Domain != topic.Persistent {
		return fmt.Errorf("%w: %s", ErrTopicNotFound, name)
	}
	if _, err := n.Policies(ctx, name.NamespaceName()); err != nil {
		return err
	}
	b := name.Base()
	exists, err := n.TopicExists(ctx, b)
	if err != nil {
		return err
	}
	if !exists {
		parts, err := n.PartitionedMetadata(ctx, b)
		if err != nil {
			return err
		}
		if parts == 0 {
			return fmt.Errorf("%w: %s", ErrTopicNotFound, b)
		}
	}
	key := n.topicPoliciesKey(name)
	for {
		tp, rev, err := n.TopicPoliciesWithRevision(ctx, name)
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
			err = n.s.Delete(ctx, key, rev)
		} else {
			data, _ := json.Marshal(tp)
			_, err = n.s.CAS(ctx, key, data, rev)
		}
		if errors.Is(err, metadata.ErrRevisionMismatch) || errors.Is(err, metadata.ErrExists) {
			continue
		}
		return err
	}
}

// DeleteTopicPolicies removes a topic's override record (a topic being deleted; for a
// partitioned topic, its base name). A missing record is not an error.
func (n *Namespaces) DeleteTopicPolicies(ctx context.Context, name topic.Name) error {
	return n.s.Delete(ctx, n.topicPoliciesKey(name), -1)
}

// TopicExists reports whether a (non-partitioned, or partition) topic has a managed
// ledger record.
func (n *Namespaces) TopicExists(ctx context.Context, name topic.Name) (bool, error) {
	_, err := n.s.Get(ctx, n.s.Keys.ManagedLedger(name.String()))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, metadata.ErrNotFound) {
		return false, nil
	}
	return false, err
}
