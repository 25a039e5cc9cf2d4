package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// PartitionedTopicMetadata is the record of a partitioned topic.
type PartitionedTopicMetadata struct {
	Partitions int `json:"partitions"`
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

// PartitionedTopics lists the partitioned topics of a namespace (base names).
func (n *Namespaces) PartitionedTopics(ctx context.Context, ns string) ([]string, error) {
	t, local, _ := strings.Cut(ns, "/")
	prefix := n.s.Keys.PartitionedTopics("persistent", t, local)
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

// DeletePartitionedRecord removes a partitioned topic's record.
func (n *Namespaces) DeletePartitionedRecord(ctx context.Context, name topic.Name) error {
	return n.s.Delete(ctx, n.partitionedKey(name), -1)
}
