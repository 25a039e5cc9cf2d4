package metadata_test

import (
	"testing"

	"github.com/strata-io/strata/metadata"
)

// TestKeyLayout pins every key function's output: the strings are stored data
// (docs/format/metadata.md), so a change here breaks existing clusters.
func TestKeyLayout(t *testing.T) {
	k := metadata.NewStore(nil, "").Keys
	const topic = "persistent://public/default/t-partition-1"
	for _, c := range []struct{ name, got, want string }{
		{"Root", k.Root(), "/strata"},
		{"IDGen", k.IDGen("ledgers"), "/strata/idgen/ledgers"},
		{"Bookies", k.Bookies(), "/strata/bookies/"},
		{"Cookie", k.Cookie("b-1"), "/strata/bookies/cookies/b-1"},
		{"BookiesAvailable", k.BookiesAvailable(), "/strata/bookies/available/"},
		{"BookiesReadWrite", k.BookiesReadWrite(), "/strata/bookies/available/readwrite/"},
		{"BookiesReadOnly", k.BookiesReadOnly(), "/strata/bookies/available/readonly/"},
		{"BookieAvailable rw", k.BookieAvailable("b-1", false), "/strata/bookies/available/readwrite/b-1"},
		{"BookieAvailable ro", k.BookieAvailable("b-1", true), "/strata/bookies/available/readonly/b-1"},
		{"BookiesDraining", k.BookiesDraining(), "/strata/bookies/draining/"},
		{"BookieDraining", k.BookieDraining("b-1"), "/strata/bookies/draining/b-1"},
		{"AutorecoveryLeader", k.AutorecoveryLeader(), "/strata/autorecovery/leader"},
		{"Ledgers", k.Ledgers(), "/strata/ledgers/"},
		{"Ledger", k.Ledger(42), "/strata/ledgers/0000000000000000042"},
		{"Clusters", k.Clusters(), "/strata/clusters/"},
		{"Cluster", k.Cluster("west"), "/strata/clusters/west"},
		{"Tenants", k.Tenants(), "/strata/tenants/"},
		{"Tenant", k.Tenant("public"), "/strata/tenants/public"},
		{"Namespaces", k.Namespaces(), "/strata/namespaces/"},
		{"TenantNamespaces", k.TenantNamespaces("public"), "/strata/namespaces/public/"},
		{"Namespace", k.Namespace("public/default"), "/strata/namespaces/public/default"},
		{"PartitionedTopics", k.PartitionedTopics("persistent", "public", "default"), "/strata/partitioned-topics/persistent/public/default/"},
		{"PartitionedTopic", k.PartitionedTopic("persistent", "public", "default", "t"), "/strata/partitioned-topics/persistent/public/default/t"},
		{"TopicPolicies", k.TopicPolicies(), "/strata/topic-policies/"},
		{"NamespaceTopicPolicies", k.NamespaceTopicPolicies("persistent", "public", "default"), "/strata/topic-policies/persistent/public/default/"},
		{"TopicPolicy", k.TopicPolicy("persistent", "public", "default", "t"), "/strata/topic-policies/persistent/public/default/t"},
		{"Schema", k.Schema("persistent", "public", "default", "t"), "/strata/schemas/persistent/public/default/t"},
		{"ManagedLedgers", k.ManagedLedgers("persistent", "public/default"), "/strata/managed-ledgers/persistent://public/default/"},
		{"ManagedLedger", k.ManagedLedger(topic), "/strata/managed-ledgers/persistent://public/default/t-partition-1"},
		{"ManagedLedgerChildren", k.ManagedLedgerChildren(topic), "/strata/managed-ledgers/persistent://public/default/t-partition-1/"},
		{"Cursors", k.Cursors(topic), "/strata/managed-ledgers/persistent://public/default/t-partition-1/cursors/"},
		{"Cursor", k.Cursor(topic, "sub"), "/strata/managed-ledgers/persistent://public/default/t-partition-1/cursors/sub"},
		{"Dedup", k.Dedup(topic), "/strata/managed-ledgers/persistent://public/default/t-partition-1/dedup"},
		{"Brokers", k.Brokers(), "/strata/brokers/"},
		{"Broker", k.Broker("127.0.0.1:6650"), "/strata/brokers/127.0.0.1:6650"},
		{"Ownerships", k.Ownerships(), "/strata/ownership/"},
		{"NamespaceOwnerships", k.NamespaceOwnerships("public/default"), "/strata/ownership/public/default/"},
		{"Ownership", k.Ownership("public/default", "0x00000000_0x40000000"), "/strata/ownership/public/default/0x00000000_0x40000000"},
		{"NamespaceBundles", k.NamespaceBundles("public/default"), "/strata/bundles/public/default"},
		{"E2E", k.E2E("proxy-check"), "/strata/e2e/proxy-check"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

// TestKeysUnderOtherRoot: a configured root replaces /strata and nothing else.
func TestKeysUnderOtherRoot(t *testing.T) {
	k := metadata.NewStore(nil, "/geo/b").Keys
	if got, want := k.Ledger(7), "/geo/b/ledgers/0000000000000000007"; got != want {
		t.Errorf("Ledger = %q, want %q", got, want)
	}
	if got, want := k.Cursor("persistent://t/n/x", "s"), "/geo/b/managed-ledgers/persistent://t/n/x/cursors/s"; got != want {
		t.Errorf("Cursor = %q, want %q", got, want)
	}
	id, err := k.LedgerIDFromKey(k.Ledger(123456))
	if err != nil || id != 123456 {
		t.Errorf("LedgerIDFromKey(Ledger(123456)) = %d, %v", id, err)
	}
}
