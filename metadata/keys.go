package metadata

import (
	"fmt"
	"strconv"
	"strings"
)

// Keys builds every key Strata writes. The layout is docs/format/metadata.md; change
// one only together with that document (and a migration): the strings are stored data,
// and TestKeyLayout pins each one.
//
// Naming: a plural name (Ledgers, Brokers, Tenants …) is the prefix of a subtree, always
// ending in "/", for List, Watch and DeletePrefix; a singular name is one key. Parts
// are used as given: callers validate names (topic.Parse, registry.ValidateID) before
// they become key segments, so that no part can contain a "/" it should not.
type Keys struct{ root string }

// Root is the prefix all keys share.
func (k Keys) Root() string { return k.root }

func (k Keys) join(parts ...string) string { return k.root + "/" + strings.Join(parts, "/") }

// --- ids

// IDGen is the key whose revisions generate ids of one kind (e.g. "ledgers").
func (k Keys) IDGen(name string) string { return k.join("idgen", name) }

// --- bookies

// Bookies is the prefix of everything about bookies: cookies, registrations and
// draining marks (the auto-recovery worker watches it whole).
func (k Keys) Bookies() string { return k.root + "/bookies/" }

// Cookie holds a bookie's instance id, written on first start (create-if-absent).
func (k Keys) Cookie(bookieID string) string { return k.join("bookies", "cookies", bookieID) }

// BookiesAvailable is the prefix under which live bookies register (under a lease).
func (k Keys) BookiesAvailable() string { return k.root + "/bookies/available/" }

// BookieAvailable is one live bookie's registration. readOnly bookies register under a
// separate prefix so writers choosing ensembles list only the read-write one.
func (k Keys) BookieAvailable(bookieID string, readOnly bool) string {
	if readOnly {
		return k.BookiesReadOnly() + bookieID
	}
	return k.BookiesReadWrite() + bookieID
}

// BookiesReadWrite is the prefix of read-write registrations.
func (k Keys) BookiesReadWrite() string { return k.root + "/bookies/available/readwrite/" }

// BookiesReadOnly is the prefix of read-only registrations.
func (k Keys) BookiesReadOnly() string { return k.root + "/bookies/available/readonly/" }

// BookiesDraining is the prefix of the draining marks (decommission).
func (k Keys) BookiesDraining() string { return k.root + "/bookies/draining/" }

// BookieDraining is one bookie's draining mark.
func (k Keys) BookieDraining(bookieID string) string { return k.BookiesDraining() + bookieID }

// AutorecoveryLeader is the auto-recovery election key: it names the active worker.
func (k Keys) AutorecoveryLeader() string { return k.join("autorecovery", "leader") }

// --- ledgers

// Ledgers is the prefix of all ledger metadata.
func (k Keys) Ledgers() string { return k.root + "/ledgers/" }

// Ledger is one ledger's metadata. The id is zero-padded to 19 digits so that key order
// is numeric order.
func (k Keys) Ledger(id int64) string { return fmt.Sprintf("%s/ledgers/%019d", k.root, id) }

// LedgerIDFromKey parses the id back out of a Ledger key.
func (k Keys) LedgerIDFromKey(key string) (int64, error) {
	s, ok := strings.CutPrefix(key, k.Ledgers())
	if !ok {
		return 0, fmt.Errorf("metadata: %q is not a ledger key", key)
	}
	return strconv.ParseInt(s, 10, 64)
}

// --- clusters (broker/resources)

// Clusters is the prefix of the cluster records (Pulsar's ClusterData).
func (k Keys) Clusters() string { return k.root + "/clusters/" }

// Cluster is one cluster's record; the local cluster's is created at first start.
func (k Keys) Cluster(name string) string { return k.join("clusters", name) }

// --- tenants, namespaces, topics (broker/service)

// Tenants is the prefix of the tenant records.
func (k Keys) Tenants() string { return k.root + "/tenants/" }

// Tenant is one tenant's record.
func (k Keys) Tenant(tenant string) string { return k.join("tenants", tenant) }

// Namespaces is the prefix of every namespace's policies (brokers watch it).
func (k Keys) Namespaces() string { return k.root + "/namespaces/" }

// TenantNamespaces is the prefix of one tenant's namespaces.
func (k Keys) TenantNamespaces(tenant string) string { return k.join("namespaces", tenant) + "/" }

// Namespace is a namespace's policies; namespace is "tenant/ns".
func (k Keys) Namespace(namespace string) string { return k.join("namespaces", namespace) }

// PartitionedTopics is the prefix of one namespace's partitioned-topic records.
func (k Keys) PartitionedTopics(domain, tenant, namespace string) string {
	return k.join("partitioned-topics", domain, tenant, namespace) + "/"
}

// PartitionedTopic is a partitioned topic's record (its number of partitions).
func (k Keys) PartitionedTopic(domain, tenant, namespace, local string) string {
	return k.join("partitioned-topics", domain, tenant, namespace, local)
}

// TopicPolicies is the prefix of every topic-level policy record (brokers watch it).
func (k Keys) TopicPolicies() string { return k.root + "/topic-policies/" }

// NamespaceTopicPolicies is the prefix of one namespace's topic-level policy records.
func (k Keys) NamespaceTopicPolicies(domain, tenant, namespace string) string {
	return k.join("topic-policies", domain, tenant, namespace) + "/"
}

// TopicPolicy is a topic's policy overrides; local is the base name, shared by all
// partitions.
func (k Keys) TopicPolicy(domain, tenant, namespace, local string) string {
	return k.join("topic-policies", domain, tenant, namespace, local)
}

// Schema is a topic's schema registry; local is the base name, shared by all
// partitions.
func (k Keys) Schema(domain, tenant, namespace, local string) string {
	return k.join("schemas", domain, tenant, namespace, local)
}

// --- managed ledgers (broker/managedledger, broker/service)

// ManagedLedgers is the prefix of the managed-ledger records of one namespace's topics
// of a domain, e.g. ManagedLedgers("persistent", "public/default") →
// ROOT/managed-ledgers/persistent://public/default/. It also lists their cursors and
// dedup snapshots, which live below each record's key.
func (k Keys) ManagedLedgers(domain, namespace string) string {
	return k.join("managed-ledgers", domain+"://"+namespace) + "/"
}

// ManagedLedger is a topic's managed-ledger record; topic is the full name
// (persistent://tenant/ns/local, with its -partition-i suffix if any).
func (k Keys) ManagedLedger(topic string) string { return k.join("managed-ledgers", topic) }

// ManagedLedgerChildren is the prefix of every record kept below a topic's
// managed-ledger record (its cursors and its dedup snapshot); deleting the topic deletes
// them all.
func (k Keys) ManagedLedgerChildren(topic string) string { return k.ManagedLedger(topic) + "/" }

// Cursors is the prefix of a topic's cursor records.
func (k Keys) Cursors(topic string) string { return k.ManagedLedger(topic) + "/cursors/" }

// Cursor is one subscription's cursor record.
func (k Keys) Cursor(topic, subscription string) string { return k.Cursors(topic) + subscription }

// Dedup is a topic's deduplication snapshot.
func (k Keys) Dedup(topic string) string { return k.ManagedLedger(topic) + "/dedup" }

// --- brokers and ownership (broker/ownership)

// Brokers is the prefix of the live brokers' records.
func (k Keys) Brokers() string { return k.root + "/brokers/" }

// Broker is one broker's record (under its session lease).
func (k Keys) Broker(brokerID string) string { return k.join("brokers", brokerID) }

// Ownerships is the prefix of every bundle ownership claim.
func (k Keys) Ownerships() string { return k.root + "/ownership/" }

// NamespaceOwnerships is the prefix of one namespace's ownership claims.
func (k Keys) NamespaceOwnerships(namespace string) string {
	return k.join("ownership", namespace) + "/"
}

// Ownership is the claim on one bundle; bundleRange is "0x%08x_0x%08x".
func (k Keys) Ownership(namespace, bundleRange string) string {
	return k.join("ownership", namespace, bundleRange)
}

// NamespaceBundles records a namespace's bundle split (absent: the default split).
func (k Keys) NamespaceBundles(namespace string) string { return k.join("bundles", namespace) }

// --- tests

// E2E is a scratch key that only tests write (the end-to-end tests check a broker's
// etcd proxy reaches etcd); Strata itself never reads it.
func (k Keys) E2E(name string) string { return k.join("e2e", name) }
