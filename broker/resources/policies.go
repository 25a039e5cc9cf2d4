package resources

// Policies is a namespace's record, in the JSON shape of Pulsar's namespace policies
// (what GET /admin/v2/namespaces/{tenant}/{ns} returns). Enforced: deduplication (at
// topic open), the producer and consumer limits (at producer add and subscribe), and
// retention, message TTL, backlog quotas, persistence and the auto-topic-creation
// override's allow flag (applied to open topics through an etcd watch, PolicyWatch).
// Not yet: the override's partitioned type. Offload policies (offload.go) are handed to
// the managed ledger, which offloads by them. Topic-level overrides: topicpolicies.go.
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

	// Offload (tiered storage, offload.go): the single values, nil when unset (Pulsar's
	// -1), and the whole policies object.
	OffloadThreshold          *int64           `json:"offload_threshold,omitempty"`
	OffloadThresholdInSeconds *int64           `json:"offload_threshold_in_seconds,omitempty"`
	OffloadDeletionLagMs      *int64           `json:"offload_deletion_lag_ms,omitempty"`
	OffloadPolicies           *OffloadPolicies `json:"offload_policies,omitempty"`

	// Geo-replication (replication.go): the clusters the namespace lives in, and the
	// clusters it may be placed in (Pulsar's PIP-321). Absent: the local cluster only,
	// and the replication clusters.
	ReplicationClusters []string `json:"replication_clusters,omitempty"`
	AllowedClusters     []string `json:"allowed_clusters,omitempty"`
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
