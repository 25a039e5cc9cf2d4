package resources

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// The records in etcd are stored data: a change to a key or to a JSON shape must fail a
// test. testdata/ holds one record of each kind, as the code wrote it when the fixtures
// were made (go test -run TestGoldenRecordsWritten -update regenerates them: only for
// a deliberate, versioned format change, docs/format/metadata.md).

var update = flag.Bool("update", false, "rewrite the golden records in testdata/")

func ptr[T any](v T) *T { return &v }

// golden is one fixture: its file, the key it is stored under (below the root), and
// the value it decodes to.
type golden struct {
	file, key string
	value     any // a pointer to the decoded record
}

func goldenRecords() []golden {
	return []golden{
		{"tenant.json", "tenants/acme", &TenantInfo{AdminRoles: []string{"ops"}, AllowedClusters: []string{"standalone", "west"}}},
		{"namespace-policies.json", "namespaces/acme/orders", &Policies{
			DeduplicationEnabled: ptr(true),
			MaxProducersPerTopic: 5,
			MaxConsumersPerTopic: 7,
			MessageTTLInSeconds:  3600,
			AutoTopicCreationOverride: &AutoTopicCreation{Allow: true, Type: "partitioned",
				DefaultNumPartitions: 3},
			Retention:   &RetentionPolicies{RetentionTimeInMinutes: 60, RetentionSizeInMB: -1},
			Persistence: &PersistencePolicies{BookkeeperEnsemble: 3, BookkeeperWriteQuorum: 2, BookkeeperAckQuorum: 2, ManagedLedgerMaxMarkDeleteRate: 1.5},
			BacklogQuotas: map[string]BacklogQuota{
				"destination_storage": {LimitSize: 1 << 30, LimitTime: -1, Policy: "producer_request_hold"},
				"message_age":         {LimitSize: -1, LimitTime: 600, Policy: "consumer_backlog_eviction"},
			},
		}},
		{"partitioned-topic.json", "partitioned-topics/persistent/acme/orders/payments", &PartitionedTopicMetadata{Partitions: 4}},
		{"topic-policies.json", "topic-policies/persistent/acme/orders/payments", &TopicPolicies{
			Retention:            &RetentionPolicies{RetentionTimeInMinutes: -1, RetentionSizeInMB: 100},
			MessageTTLInSeconds:  ptr(0),
			BacklogQuotas:        map[string]BacklogQuota{"message_age": {LimitSize: 0, LimitTime: 30, Policy: "producer_exception"}},
			DeduplicationEnabled: ptr(false),
			MaxProducers:         ptr(1),
			MaxConsumers:         ptr(2),
			Persistence:          &PersistencePolicies{BookkeeperEnsemble: 1, BookkeeperWriteQuorum: 1, BookkeeperAckQuorum: 1},
		}},
		{"schema.json", "schemas/persistent/acme/orders/payments", &schemaRecord{FormatVersion: 1, Versions: []SchemaInfo{
			{Name: "payments", Type: 2, Data: []byte(`{"type":"record","name":"Payment","fields":[]}`),
				Properties: map[string]string{"owner": "billing"}},
			{Name: "payments", Type: 0, Data: []byte{}},
		}}},
		// Records with the offload fields (tiered storage); the ones above predate them
		// and must keep their bytes.
		{"namespace-policies-offload.json", "namespaces/acme/tiered", &Policies{
			OffloadThreshold:          ptr[int64](10 << 20),
			OffloadThresholdInSeconds: ptr[int64](3600),
			OffloadDeletionLagMs:      ptr[int64](600_000),
			OffloadPolicies: &OffloadPolicies{Driver: "aws-s3", MaxThreads: 2, ThresholdInBytes: ptr[int64](-1),
				ThresholdInSeconds: ptr[int64](0), DeletionLagInMillis: ptr[int64](0), ReadPriority: ReadPriorityBookkeeperFirst,
				Bucket: "cold", Region: "eu-west-1", ServiceEndpoint: "https://s3.example:9000",
				S3Bucket: "cold", S3Region: "eu-west-1", S3ServiceEndpoint: "https://s3.example:9000"},
		}},
		{"topic-policies-offload.json", "topic-policies/persistent/acme/tiered/cold", &TopicPolicies{
			OffloadPolicies: &OffloadPolicies{Driver: "filesystem", ThresholdInBytes: ptr[int64](0),
				ReadPriority: ReadPriorityTieredFirst},
		}},
		// Geo-replication: a cluster record, and namespace and topic records with cluster
		// lists; the records above predate them and must keep their bytes.
		{"cluster.json", "clusters/west", &ClusterData{ServiceURL: "http://west:8080", ServiceURLTLS: "https://west:8443",
			BrokerServiceURL: "pulsar://west:6650", BrokerServiceURLTLS: "pulsar+ssl://west:6651",
			PeerClusterNames: []string{"standalone"}, AuthenticationPlugin: "org.apache.pulsar.client.impl.auth.AuthenticationToken",
			AuthenticationParameters: "token:xyz", BrokerClientTrustCertsFilePath: "/etc/ca.pem", BrokerClientTLSEnabled: true}},
		{"namespace-policies-replication.json", "namespaces/acme/geo", &Policies{
			ReplicationClusters: []string{"standalone", "west"},
			AllowedClusters:     []string{"standalone", "west"},
		}},
		{"topic-policies-replication.json", "topic-policies/persistent/acme/geo/orders", &TopicPolicies{
			ReplicationClusters: []string{"standalone"},
		}},
	}
}

// TestGoldenRecordsDecode: each fixture decodes to its value and encodes back to the
// same bytes.
func TestGoldenRecordsDecode(t *testing.T) {
	for _, g := range goldenRecords() {
		t.Run(g.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", g.file))
			if err != nil {
				t.Fatal(err)
			}
			got := reflect.New(reflect.TypeOf(g.value).Elem()).Interface()
			if err := json.Unmarshal(data, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, g.value) {
				t.Fatalf("decoded %+v, want %+v", got, g.value)
			}
			again, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("re-encoded\n%s\nwant\n%s", again, data)
			}
		})
	}
}

// TestGoldenRecordsWritten writes each record through this package's API into a real
// etcd and compares the keys and bytes stored with the fixtures.
func TestGoldenRecordsWritten(t *testing.T) {
	ctx := testCtx(t)
	const root = "/golden"
	store, _ := metadatatest.Store(t, root)
	n, sc := NewNamespaces(store), NewSchemas(store)
	rec := goldenRecords()
	if err := n.CreateTenant(ctx, "acme", *rec[0].value.(*TenantInfo)); err != nil {
		t.Fatal(err)
	}
	if err := n.CreateNamespace(ctx, "acme/orders", *rec[1].value.(*Policies)); err != nil {
		t.Fatal(err)
	}
	payments := topic.Name{Domain: topic.Persistent, Tenant: "acme", Namespace: "orders", Local: "payments"}
	if err := n.CreatePartitionedTopic(ctx, payments, 2); err != nil {
		t.Fatal(err)
	}
	if err := n.UpdatePartitionedTopic(ctx, payments, rec[2].value.(*PartitionedTopicMetadata).Partitions); err != nil {
		t.Fatal(err)
	}
	if err := n.UpdateTopicPolicies(ctx, payments.Partition(1), func(tp *TopicPolicies) error {
		*tp = *rec[3].value.(*TopicPolicies)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, s := range rec[4].value.(*schemaRecord).Versions {
		if _, err := sc.GetOrCreate(ctx, payments.Partition(0), s); err != nil {
			t.Fatal(err)
		}
	}

	if err := n.CreateNamespace(ctx, "acme/tiered", *rec[5].value.(*Policies)); err != nil {
		t.Fatal(err)
	}
	cold := topic.Name{Domain: topic.Persistent, Tenant: "acme", Namespace: "tiered", Local: "cold"}
	if err := n.CreatePartitionedTopic(ctx, cold, 1); err != nil {
		t.Fatal(err)
	}
	if err := n.UpdateTopicPolicies(ctx, cold, func(tp *TopicPolicies) error {
		*tp = *rec[6].value.(*TopicPolicies)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	cl := n.Clusters()
	if err := cl.Create(ctx, "standalone", ClusterData{}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Create(ctx, "west", *rec[7].value.(*ClusterData)); err != nil {
		t.Fatal(err)
	}
	if err := n.CreateNamespace(ctx, "acme/geo", Policies{}); err != nil {
		t.Fatal(err)
	}
	if err := n.SetReplicationClusters(ctx, "acme/geo", rec[8].value.(*Policies).ReplicationClusters); err != nil {
		t.Fatal(err)
	}
	if err := n.SetAllowedClusters(ctx, "acme/geo", rec[8].value.(*Policies).AllowedClusters, "standalone"); err != nil {
		t.Fatal(err)
	}
	geoOrders := topic.Name{Domain: topic.Persistent, Tenant: "acme", Namespace: "geo", Local: "orders"}
	if err := n.CreatePartitionedTopic(ctx, geoOrders, 2); err != nil {
		t.Fatal(err)
	}
	if err := n.SetTopicReplicationClusters(ctx, geoOrders, rec[9].value.(*TopicPolicies).ReplicationClusters, "standalone"); err != nil {
		t.Fatal(err)
	}

	vals, _, err := store.List(ctx, root+"/")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]byte{}
	var keys []string
	for _, v := range vals {
		k := strings.TrimPrefix(v.Key, root+"/")
		stored[k] = v.Data
		keys = append(keys, k)
	}
	// Records written along the way that have no fixture of their own.
	want := []string{"partitioned-topics/persistent/acme/tiered/cold", "clusters/standalone",
		"partitioned-topics/persistent/acme/geo/orders"}
	for _, g := range rec {
		want = append(want, g.key)
		path := filepath.Join("testdata", g.file)
		if *update {
			if err := os.WriteFile(path, stored[g.key], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stored[g.key], data) {
			t.Errorf("%s: stored\n%s\nwant (%s)\n%s", g.key, stored[g.key], g.file, data)
		}
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("keys stored %q, want %q", keys, want)
	}
}
