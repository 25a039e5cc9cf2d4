package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"

	"github.com/strata-io/strata/e2e/harness"
)

// TestAdminPolicies: every namespace policy endpoint round-trips through pulsaradmin;
// out-of-range values are refused with 412 and leave the policy unchanged; the
// producer limit is enforced by the broker.
func TestAdminPolicies(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	adm := newAdmin(t, s.HTTPURL)
	ns := adm.Namespaces()
	const name = "public/pol"
	if err := ns.CreateNamespace(name); err != nil {
		t.Fatal(err)
	}
	nsn := *mustNS(t, name)

	if err := ns.SetNamespaceMessageTTL(name, 60); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetNamespaceMessageTTL(name, -5); adminStatus(err) != 412 {
		t.Fatalf("negative TTL: %v", err)
	}
	if ttl, err := ns.GetNamespaceMessageTTL(name); err != nil || ttl != 60 {
		t.Fatalf("ttl: %d %v", ttl, err)
	}

	if err := ns.SetRetention(name, utils.RetentionPolicies{RetentionTimeInMinutes: 30, RetentionSizeInMB: 100}); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetRetention(name, utils.RetentionPolicies{RetentionTimeInMinutes: -7}); adminStatus(err) != 412 {
		t.Fatalf("bad retention: %v", err)
	}
	if r, err := ns.GetRetention(name); err != nil || r.RetentionTimeInMinutes != 30 || r.RetentionSizeInMB != 100 {
		t.Fatalf("retention: %+v %v", r, err)
	}

	q := utils.NewBacklogQuota(1<<20, 0, utils.ProducerException)
	if err := ns.SetBacklogQuota(name, q, utils.DestinationStorage); err != nil {
		t.Fatal(err)
	}
	bad := utils.BacklogQuota{LimitSize: 10, Policy: "drop_everything"}
	if err := ns.SetBacklogQuota(name, bad, utils.DestinationStorage); adminStatus(err) != 412 {
		t.Fatalf("bad backlog quota policy: %v", err)
	}
	if m, err := ns.GetBacklogQuotaMap(name); err != nil || m[utils.DestinationStorage] != q {
		t.Fatalf("backlog quotas: %+v %v", m, err)
	}

	if err := ns.SetPersistence(name, utils.NewPersistencePolicies(1, 1, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetPersistence(name, utils.NewPersistencePolicies(1, 2, 1, 0)); adminStatus(err) != 412 {
		t.Fatalf("write quorum above ensemble: %v", err)
	}
	if p, err := ns.GetPersistence(name); err != nil || p.BookkeeperEnsemble != 1 {
		t.Fatalf("persistence: %+v %v", p, err)
	}

	if err := ns.SetTopicAutoCreation(nsn, utils.TopicAutoCreationConfig{Allow: true, Type: utils.NonPartitioned}); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetDeduplicationStatus(name, true); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetMaxConsumersPerTopic(nsn, 5); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetMaxProducersPerTopic(nsn, -1); adminStatus(err) != 412 {
		t.Fatalf("negative max producers: %v", err)
	}
	if err := ns.SetMaxProducersPerTopic(nsn, 1); err != nil {
		t.Fatal(err)
	}
	pol, err := ns.GetPolicies(name)
	if err != nil {
		t.Fatal(err)
	}
	if pol.MessageTTLInSeconds == nil || *pol.MessageTTLInSeconds != 60 || pol.MaxProducersPerTopic == nil ||
		*pol.MaxProducersPerTopic != 1 || pol.DeduplicationEnabled == nil || !*pol.DeduplicationEnabled ||
		pol.TopicAutoCreationConfig == nil || !pol.TopicAutoCreationConfig.Allow || pol.RetentionPolicies == nil ||
		pol.MaxConsumersPerTopic == nil || *pol.MaxConsumersPerTopic != 5 {
		b, _ := json.Marshal(pol)
		t.Fatalf("policies: %s", b)
	}

	// Enforced: one producer per topic.
	c := newClient(t, s.PulsarURL)
	topic := "persistent://" + name + "/limited"
	newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
	if p, err := c.CreateProducer(pulsar.ProducerOptions{Topic: topic, SendTimeout: 5 * time.Second}); err == nil {
		p.Close()
		t.Fatal("second producer admitted with maxProducersPerTopic=1")
	}

	if err := ns.RemoveNamespaceMessageTTL(name); err != nil {
		t.Fatal(err)
	}
	if err := ns.RemoveMaxProducersPerTopic(nsn); err != nil {
		t.Fatal(err)
	}
	if pol, err := ns.GetPolicies(name); err != nil || pol.MessageTTLInSeconds != nil || pol.MaxProducersPerTopic != nil {
		t.Fatalf("after remove: %+v %v", pol, err)
	}
}

// TestAdminBadInput: client mistakes get a 4xx with Pulsar's {"reason"} body and change
// nothing.
func TestAdminBadInput(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	adm := newAdmin(t, s.HTTPURL)
	base := s.HTTPURL + "/admin/v2"
	cases := []struct {
		name, method, path, body string
		want                     int
	}{
		{"invalid tenant name", "PUT", "/tenants/bad%20name!", `{"allowedClusters":["standalone"]}`, 412},
		{"unknown cluster", "PUT", "/tenants/t1", `{"allowedClusters":["mars"]}`, 412},
		{"bad tenant json", "PUT", "/tenants/t2", `{"allowedClusters":`, 400},
		{"tenant json of the wrong type", "PUT", "/tenants/t3", `["standalone"]`, 400},
		{"dot-dot tenant", "PUT", "/tenants/%2e%2e", `{}`, 400},
		{"dot-dot plain", "GET", "/tenants/../clusters", ``, 400},
		{"dot-dot namespace", "PUT", "/namespaces/public/%2E%2E", ``, 400},
		{"encoded slash in namespace", "PUT", "/namespaces/public/a%2Fb", ``, 412},
		{"unknown tenant", "GET", "/tenants/nosuch", ``, 404},
		{"unknown namespace", "GET", "/namespaces/public/nosuch", ``, 404},
		{"bad namespace json", "PUT", "/namespaces/public/ns1", `{"message_ttl_in_seconds": "x"}`, 400},
		{"negative ttl on create", "PUT", "/namespaces/public/ns2", `{"message_ttl_in_seconds": -1}`, 412},
		{"ttl not a number", "POST", "/namespaces/public/default/messageTTL", `"soon"`, 400},
		{"ttl missing", "POST", "/namespaces/public/default/messageTTL", ``, 400},
		{"retention below -1", "POST", "/namespaces/public/default/retention", `{"retentionTimeInMinutes":-2,"retentionSizeInMB":1}`, 412},
		{"unknown quota type", "POST", "/namespaces/public/default/backlogQuota?backlogQuotaType=forever", `{"limitSize":1,"policy":"producer_exception"}`, 412},
		{"auto creation type", "POST", "/namespaces/public/default/autoTopicCreation", `{"allowAutoTopicCreation":true,"topicType":"sideways"}`, 412},
		{"policy of unknown namespace", "POST", "/namespaces/public/nosuch/messageTTL", `5`, 404},
		{"unknown topic stats", "GET", "/persistent/public/default/nosuch/stats", ``, 404},
		{"topic in unknown namespace", "PUT", "/persistent/public/nosuch/t", ``, 404},
		{"zero partitions", "PUT", "/persistent/public/default/p0/partitions", `0`, 412},
		{"partitions not a number", "PUT", "/persistent/public/default/p1/partitions", `"many"`, 400},
		{"skip not a number", "POST", "/persistent/public/default/nosuch/subscription/s/skip/lots", ``, 400},
		{"negative ledger", "GET", "/persistent/public/default/nosuch/ledger/-1/entry/0", ``, 400},
		{"force not a boolean", "DELETE", "/persistent/public/default/nosuch?force=maybe", ``, 400},
		{"unknown endpoint", "GET", "/persistent/public/default/t/nonsense/deeper/path", ``, 404},
	}
	for _, tc := range cases {
		code, body := rawAdmin(t, tc.method, base+tc.path, tc.body)
		if code != tc.want {
			t.Errorf("%s: %s %s → %d %s, want %d", tc.name, tc.method, tc.path, code, body, tc.want)
			continue
		}
		var e struct {
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Reason == "" {
			t.Errorf("%s: body %q is not {\"reason\": …}", tc.name, body)
		}
	}

	// Nothing above changed state.
	ts, err := adm.Tenants().List()
	if err != nil || strings.Join(ts, ",") != "public" {
		t.Fatalf("tenants after bad requests: %v %v", ts, err)
	}
	nss, err := adm.Namespaces().GetNamespaces("public")
	if err != nil || strings.Join(nss, ",") != "public/default" {
		t.Fatalf("namespaces after bad requests: %v %v", nss, err)
	}
	pol, err := adm.Namespaces().GetPolicies("public/default")
	if err != nil || pol.MessageTTLInSeconds != nil || pol.RetentionPolicies != nil || len(pol.BacklogQuotaMap) != 0 ||
		pol.TopicAutoCreationConfig != nil {
		t.Fatalf("public/default policies after bad requests: %+v %v", pol, err)
	}
	part, nonPart, err := adm.Topics().List(*mustNS(t, "public/default"))
	if err != nil || len(part)+len(nonPart) != 0 {
		t.Fatalf("topics after bad requests: %v %v %v", part, nonPart, err)
	}
}
