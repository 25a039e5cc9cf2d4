package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// TenantInfo is a tenant's record (Pulsar's TenantInfo JSON shape).
type TenantInfo struct {
	AdminRoles      []string `json:"adminRoles"`
	AllowedClusters []string `json:"allowedClusters"`
}

// Policies is a namespace's record, in the JSON shape of Pulsar's namespace policies
// (what GET /admin/v2/namespaces/{tenant}/{ns} returns). Enforced: deduplication (at
// topic open), the producer and consumer limits (at producer add and subscribe), and
// retention, message TTL, backlog quotas, persistence and the auto-topic-creation
// override's allow flag (policy.go: applied to open topics through an etcd watch).
// Not yet: the override's partitioned type. Topic-level overrides: topicpolicy.go.
type Policies struct {
	DeduplicationEnabled *bool `json:"deduplicationEnabled,omitempty"`
	// 0 means no limit.
	MaxProducersPerTopic int `json:"max_producers_per_topic,omitempty"`
	MaxConsumersPerTopic int `json:"max_consumers_per_topic,omitempty"`
	MessageTTLInSeconds  int `json:"message_ttl_in_seconds,omitempty"`

	AutoTopicCreationOverride *AutoTopicCreation      `json:"autoTopicCreationOverride,omitempty"`
	Retention                 *RetentionPolicies      `json:"retention_policies,omitempty"`
	Persistence               *PersistencePolicies    `json:"persistence,omitempty"`
	BacklogQuotas             map[string]BacklogQuota `json:"backlog_quota_map,omitempty"`
}

// AutoTopicCreation is Pulsar's namespace override of the broker's auto topic creation.
type AutoTopicCreation struct {
	Allow bool `json:"allowAutoTopicCreation"`
	// Type is "non-partitioned" or "partitioned" (then DefaultNumPartitions ≥ 1).
	Type                 string `json:"topicType"`
	DefaultNumPartitions int    `json:"defaultNumPartitions,omitempty"`
}

// RetentionPolicies keeps consumed data until both limits are reached; -1 is infinite.
type RetentionPolicies struct {
	RetentionTimeInMinutes int   `json:"retentionTimeInMinutes"`
	RetentionSizeInMB      int64 `json:"retentionSizeInMB"`
}

// PersistencePolicies sets the replication of a namespace's new ledgers.
type PersistencePolicies struct {
	BookkeeperEnsemble             int     `json:"bookkeeperEnsemble"`
	BookkeeperWriteQuorum          int     `json:"bookkeeperWriteQuorum"`
	BookkeeperAckQuorum            int     `json:"bookkeeperAckQuorum"`
	ManagedLedgerMaxMarkDeleteRate float64 `json:"managedLedgerMaxMarkDeleteRate"`
}

// BacklogQuota limits a subscription's backlog by size (bytes) or age (seconds),
// keyed in Policies by "destination_storage" or "message_age".
type BacklogQuota struct {
	LimitSize int64 `json:"limitSize"`
	LimitTime int64 `json:"limitTime"`
	// Policy is producer_request_hold, producer_exception or consumer_backlog_eviction.
	Policy string `json:"policy"`
}

// PartitionedTopicMetadata is the record of a partitioned topic.
type PartitionedTopicMetadata struct {
	Partitions int `json:"partitions"`
}

// Namespaces reads and writes tenants, namespaces and partitioned-topic metadata.
type Namespaces struct{ s *metadata.Store }

// ErrNotFound: the tenant, namespace or topic does not exist.
var ErrNotFound = errors.New("service: not found")

func (n *Namespaces) tenantKey(t string) string { return n.s.Keys.Under("tenants", t) }
func (n *Namespaces) nsKey(ns string) string    { return n.s.Keys.Under("namespaces", ns) }
func (n *Namespaces) partitionedKey(name topic.Name) string {
	return n.s.Keys.Under("partitioned-topics", string(name.Domain), name.Tenant, name.Namespace, name.Local)
}

// Bootstrap creates tenant "public" and namespace "public/default" if absent.
func (n *Namespaces) Bootstrap(ctx context.Context, cluster string) error {
	if err := n.CreateTenant(ctx, "public", TenantInfo{AllowedClusters: []string{cluster}}); err != nil && !errors.Is(err, metadata.ErrExists) {
		return err
	}
	if err := n.CreateNamespace(ctx, "public/default", Policies{}); err != nil && !errors.Is(err, metadata.ErrExists) {
		return err
	}
	return nil
}

// CreateTenant creates a tenant; metadata.ErrExists if it exists.
func (n *Namespaces) CreateTenant(ctx context.Context, t string, info TenantInfo) error {
	if err := topic.ValidateTenant(t); err != nil {
		return err
	}
	if info.AdminRoles == nil {
		info.AdminRoles = []string{}
	}
	if info.AllowedClusters == nil {
		info.AllowedClusters = []string{}
	}
	b, _ := json.Marshal(info)
	_, err := n.s.Create(ctx, n.tenantKey(t), b)
	return err
}

// CreateNamespace creates tenant/ns; metadata.ErrExists if it exists, ErrNotFound if the
// tenant does not.
func (n *Namespaces) CreateNamespace(ctx context.Context, ns string, p Policies) error {
	if err := topic.ValidateNamespace(ns); err != nil {
		return err
	}
	t, _, _ := strings.Cut(ns, "/")
	if _, err := n.s.Get(ctx, n.tenantKey(t)); err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return fmt.Errorf("%w: tenant %s", ErrNotFound, t)
		}
		return err
	}
	b, _ := json.Marshal(p)
	_, err := n.s.Create(ctx, n.nsKey(ns), b)
	return err
}

// Policies returns a namespace's policies; ErrNotFound if it does not exist.
func (n *Namespaces) Policies(ctx context.Context, ns string) (Policies, error) {
	v, err := n.s.Get(ctx, n.nsKey(ns))
	if err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return Policies{}, fmt.Errorf("%w: namespace %s", ErrNotFound, ns)
		}
		return Policies{}, err
	}
	var p Policies
	if err := json.Unmarshal(v.Data, &p); err != nil {
		return Policies{}, fmt.Errorf("service: namespace %s: bad record: %w", ns, err)
	}
	return p, nil
}

// PartitionedMetadata returns the partition count of a topic: 0 when it is not
// partitioned (or does not exist, or is itself a partition).
func (n *Namespaces) PartitionedMetadata(ctx context.Context, name topic.Name) (int, error) {
	if name.IsPartition() {
		return 0, nil
	}
	v, err := n.s.Get(ctx, n.partitionedKey(name))
	if err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return 0, nil
		}
		return 0, err
	}
	var m PartitionedTopicMetadata
	if err := json.Unmarshal(v.Data, &m); err != nil {
		return 0, fmt.Errorf("service: partitioned topic %s: bad record: %w", name, err)
	}
	return m.Partitions, nil
}

// CreatePartitionedTopic records a partitioned topic with n partitions.
func (n *Namespaces) CreatePartitionedTopic(ctx context.Context, name topic.Name, partitions int) error {
	if partitions < 1 {
		return fmt.Errorf("service: a partitioned topic needs at least 1 partition, got %d", partitions)
	}
	if name.IsPartition() {
		return fmt.Errorf("%w: %s is a partition name", topic.ErrInvalidName, name)
	}
	b, _ := json.Marshal(PartitionedTopicMetadata{Partitions: partitions})
	_, err := n.s.Create(ctx, n.partitionedKey(name), b)
	return err
}

// ErrPartitionsNotIncreased: a partitioned topic's partition count can only grow.
var ErrPartitionsNotIncreased = errors.New("service: the partition count can only be increased")

// UpdatePartitionedTopic raises a partitioned topic's partition count to partitions;
// ErrNotFound if it is not a partitioned topic, ErrPartitionsNotIncreased unless
// partitions is above the current count (Pulsar never shrinks a partitioned topic).
func (n *Namespaces) UpdatePartitionedTopic(ctx context.Context, name topic.Name, partitions int) error {
	for {
		v, err := n.s.Get(ctx, n.partitionedKey(name))
		if errors.Is(err, metadata.ErrNotFound) {
			return fmt.Errorf("%w: partitioned topic %s", ErrNotFound, name)
		}
		if err != nil {
			return err
		}
		var m PartitionedTopicMetadata
		if err := json.Unmarshal(v.Data, &m); err != nil {
			return fmt.Errorf("service: partitioned topic %s: bad record: %w", name, err)
		}
		if partitions <= m.Partitions {
			return fmt.Errorf("%w: %s has %d, asked for %d", ErrPartitionsNotIncreased, name, m.Partitions, partitions)
		}
		m.Partitions = partitions
		b, _ := json.Marshal(m)
		_, err = n.s.CAS(ctx, n.partitionedKey(name), b, v.ModRevision)
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			continue // changed under us: decide again
		}
		return err
	}
}

// TopicsOf lists the full names of the persistent topics of a namespace: every topic with
// a managed ledger, plus the partitions of every partitioned topic.
func (n *Namespaces) TopicsOf(ctx context.Context, ns string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	prefix := n.s.Keys.Under("managed-ledgers", "persistent://"+ns) + "/"
	vals, _, err := n.s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		local := strings.TrimPrefix(v.Key, prefix)
		if strings.Contains(local, "/") {
			continue // a cursor record below a managed ledger
		}
		add("persistent://" + ns + "/" + local)
	}
	t, nsLocal, _ := strings.Cut(ns, "/")
	pprefix := n.s.Keys.Under("partitioned-topics", "persistent", t, nsLocal) + "/"
	vals, _, err = n.s.List(ctx, pprefix)
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		var m PartitionedTopicMetadata
		if json.Unmarshal(v.Data, &m) != nil {
			continue
		}
		base := topic.Name{Domain: topic.Persistent, Tenant: t, Namespace: nsLocal, Local: strings.TrimPrefix(v.Key, pprefix)}
		for i := 0; i < m.Partitions; i++ {
			add(base.Partition(i).String())
		}
	}
	return out, nil
}

// ErrNotEmpty: a tenant that still has namespaces, or a namespace that still has topics,
// cannot be deleted.
var ErrNotEmpty = errors.New("service: not empty")

// ListNamespaces returns the namespaces of tenant ("tenant/ns"); ErrNotFound if the
// tenant does not exist.
func (n *Namespaces) ListNamespaces(ctx context.Context, tenant string) ([]string, error) {
	if _, err := n.Tenant(ctx, tenant); err != nil {
		return nil, err
	}
	prefix := n.nsKey(tenant) + "/"
	vals, _, err := n.s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		local := strings.TrimPrefix(v.Key, prefix)
		if !strings.Contains(local, "/") {
			out = append(out, tenant+"/"+local)
		}
	}
	return out, nil
}

// UpdatePolicies applies change to a namespace's policies with a compare-and-swap,
// retrying when the record changed meanwhile. An error from change leaves the record
// as it was.
func (n *Namespaces) UpdatePolicies(ctx context.Context, ns string, change func(*Policies) error) error {
	for {
		v, err := n.s.Get(ctx, n.nsKey(ns))
		if errors.Is(err, metadata.ErrNotFound) {
			return fmt.Errorf("%w: namespace %s", ErrNotFound, ns)
		}
		if err != nil {
			return err
		}
		var p Policies
		if err := json.Unmarshal(v.Data, &p); err != nil {
			return fmt.Errorf("service: namespace %s: bad record: %w", ns, err)
		}
		if err := change(&p); err != nil {
			return err
		}
		b, _ := json.Marshal(p)
		_, err = n.s.CAS(ctx, n.nsKey(ns), b, v.ModRevision)
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			continue
		}
		return err
	}
}

// deleteNamespaceRecord removes a namespace's record, its partitioned-topic records and
// its topics' topic-level policies.
func (n *Namespaces) deleteNamespaceRecord(ctx context.Context, ns string) error {
	t, local, _ := strings.Cut(ns, "/")
	if err := n.s.DeletePrefix(ctx, n.s.Keys.Under("topic-policies", "persistent", t, local)+"/"); err != nil {
		return err
	}
	if err := n.s.DeletePrefix(ctx, n.s.Keys.Under("partitioned-topics", "persistent", t, local)+"/"); err != nil {
		return err
	}
	return n.s.Delete(ctx, n.nsKey(ns), -1)
}

// PartitionedTopics lists the partitioned topics of a namespace (base names).
func (n *Namespaces) PartitionedTopics(ctx context.Context, ns string) ([]string, error) {
	t, local, _ := strings.Cut(ns, "/")
	prefix := n.s.Keys.Under("partitioned-topics", "persistent", t, local) + "/"
	vals, _, err := n.s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		out = append(out, "persistent://"+ns+"/"+strings.TrimPrefix(v.Key, prefix))
	}
	return out, nil
}

// deletePartitionedRecord removes a partitioned topic's record.
func (n *Namespaces) deletePartitionedRecord(ctx context.Context, name topic.Name) error {
	return n.s.Delete(ctx, n.partitionedKey(name), -1)
}
