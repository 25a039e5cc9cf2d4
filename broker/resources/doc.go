// Package resources holds the broker's etcd records about the namespace tree — what
// Pulsar calls its "resources": clusters (clusters.go), tenants, namespaces and their
// policies, the replication cluster lists (replication.go), partitioned-topic metadata,
// topic-level policy overrides and topic schema registries — with the watches
// and caches that keep open topics following them (PolicyWatch). It knows nothing of
// live topics: broker/service (the live-topic layer) uses it, never the other way round.
//
// Layout and JSON shapes: docs/format/metadata.md. The key strings and the JSON of every
// record are stored data: golden fixtures under testdata/ pin them.
//
// Invariants:
//   - Every read-modify-write of a record is a compare-and-swap on the ModRevision read,
//     retried when the record changed meanwhile; a create is create-if-absent.
//   - A partitioned topic's partitions share one topic-policy record and one schema
//     registry, kept under the base name.
//   - A watched record is stored in the PolicyWatch before its listener is told, so a
//     topic that becomes visible after a change finds it there (no change is missed).
//   - A partition count never shrinks (ErrPartitionsNotIncreased).
//   - Fields added to a record are optional and omitted when unset (the offload
//     policies, offload.go; the replication cluster lists, replication.go), so a record
//     without them keeps its bytes.
//   - Cluster lists nest: tenant allowed ⊇ namespace allowed ⊇ namespace and topic
//     replication clusters, every name a registered cluster; a cluster some list names
//     cannot be deleted (ErrClusterInUse). The checks read the enclosing records, then
//     CAS the changed one: a concurrent change of an enclosing list can slip between (admin
//     calls are rare; an etcd transaction over both would close it).
package resources
