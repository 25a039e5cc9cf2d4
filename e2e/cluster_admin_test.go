package e2e

// Admin in cluster mode: every broker answers for every topic (redirecting to the
// owner), bundles can be listed, unloaded and split, and each broker's load is visible.

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"

	"github.com/strata-io/strata/e2e/harness"
)

func adminOf(t *testing.T, b *harness.Broker) pulsaradmin.Client {
	t.Helper()
	adm, err := pulsaradmin.NewClient(&pulsaradmin.Config{WebServiceURL: b.HTTPURL})
	if err != nil {
		t.Fatal(err)
	}
	return adm
}

// httpJSON GETs url and decodes its JSON body.
func httpJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// lookupURL asks broker b for the pulsar:// URL serving topic.
func lookupURL(t *testing.T, b *harness.Broker, topic string) string {
	t.Helper()
	var out struct {
		BrokerURL string `json:"brokerUrl"`
	}
	httpJSON(t, b.HTTPURL+"/lookup/v2/topic/persistent/"+strings.TrimPrefix(topic, "persistent://"), &out)
	return out.BrokerURL
}

func TestClusterAdmin(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{Bookies: 3, Brokers: 2, Dir: testDir(t)})
	ctx := testCtx(t)
	b1, b2 := c.Brokers[0], c.Brokers[1]
	adm1, adm2 := adminOf(t, b1), adminOf(t, b2)

	// Both brokers are listed, by either.
	for _, adm := range []pulsaradmin.Client{adm1, adm2} {
		got, err := adm.Brokers().GetActiveBrokers(harness.ClusterName)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !contains(got, b1.HTTPAddr) || !contains(got, b2.HTTPAddr) {
			t.Fatalf("active brokers %v, want %s and %s", got, b1.HTTPAddr, b2.HTTPAddr)
		}
	}
	var bundles struct {
		Boundaries []string `json:"boundaries"`
		NumBundles int      `json:"numBundles"`
	}
	httpJSON(t, b2.HTTPURL+"/admin/v2/namespaces/public/default/bundles", &bundles)
	if bundles.NumBundles != 4 || len(bundles.Boundaries) != 5 {
		t.Fatalf("bundles of public/default: %+v", bundles)
	}

	// Produce to a few topics; each is served by its bundle's owner.
	client := newClient(t, c.ServiceURL())
	topics := make([]string, 8)
	owners := map[string]string{}
	for i := range topics {
		topics[i] = uniqueTopic(t)
		p := newProducer(t, client, pulsar.ProducerOptions{Topic: topics[i]})
		for j := 0; j < 3; j++ {
			if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("m")}); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
		u1, u2 := lookupURL(t, b1, topics[i]), lookupURL(t, b2, topics[i])
		if u1 != u2 || (u1 != b1.PulsarURL && u1 != b2.PulsarURL) {
			t.Fatalf("lookups of %s disagree: %s vs %s", topics[i], u1, u2)
		}
		owners[topics[i]] = u1
	}
	// Stats through either broker: the non-owner redirects (307) and pulsaradmin follows.
	for _, topic := range topics {
		tn, err := utils.GetTopicName(topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, adm := range []pulsaradmin.Client{adm1, adm2} {
			st, err := adm.Topics().GetStats(*tn)
			if err != nil {
				t.Fatalf("stats of %s: %v", topic, err)
			}
			if st.MsgCounterIn != 3 {
				t.Fatalf("stats of %s: msgInCounter %d, want 3", topic, st.MsgCounterIn)
			}
		}
	}

	// Load: the brokers' records add up to the bundles in use.
	var rows []struct {
		ID      string `json:"brokerId"`
		Bundles int    `json:"bundles"`
		Topics  int    `json:"topics"`
	}
	httpJSON(t, b1.HTTPURL+"/admin/v2/broker-stats/brokers", &rows)
	if len(rows) != 2 {
		t.Fatalf("broker-stats/brokers: %+v", rows)
	}
	var report struct {
		NumBundles int      `json:"numBundles"`
		Bundles    []string `json:"bundles"`
	}
	httpJSON(t, b1.HTTPURL+"/admin/v2/broker-stats/load-report", &report)
	owned, err := adm1.Brokers().GetOwnedNamespaces(harness.ClusterName, b1.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	if report.NumBundles != len(owned) {
		t.Fatalf("load report says %d bundles, ownedNamespaces lists %d", report.NumBundles, len(owned))
	}
	for _, b := range report.Bundles {
		if _, ok := owned[b]; !ok {
			t.Fatalf("bundle %s in the load report, not in ownedNamespaces %v", b, owned)
		}
	}
	out, code := harness.RunToExit(t, 30*time.Second, "admin", "--admin-url", b2.HTTPURL, "brokers", "load")
	if code != 0 || !strings.Contains(out, "BUNDLES") {
		t.Fatalf("strata admin brokers load: exit %d\n%s", code, out)
	}

	// Unload one topic's bundle through the broker that does not own it: the owner
	// gives it up; the topic keeps working (the next lookup assigns the bundle again).
	topic := topics[0]
	var nonOwner *harness.Broker
	if owners[topic] == b1.PulsarURL {
		nonOwner = b2
	} else {
		nonOwner = b1
	}
	bundle := bundleOf(t, c, topic)
	if _, code := harness.RunToExit(t, 30*time.Second, "admin", "--admin-url", nonOwner.HTTPURL,
		"namespaces", "unload-bundle", "public/default", bundle); code != 0 {
		t.Fatalf("unload-bundle exit %d", code)
	}
	if _, err := c.Store.Get(ctx, c.Store.Keys.Ownership("public/default", bundle)); err == nil {
		t.Fatalf("bundle %s still owned after unload", bundle)
	}
	sendOne(t, ctx, client, topic)

	// Split that bundle: five bundles, the topic in one of its halves, still working.
	if err := adm2.Namespaces().SplitNamespaceBundle("public/default", bundle, true); err != nil {
		t.Fatal(err)
	}
	httpJSON(t, b1.HTTPURL+"/admin/v2/namespaces/public/default/bundles", &bundles)
	if bundles.NumBundles != 5 {
		t.Fatalf("after split: %+v", bundles)
	}
	half := bundleOf(t, c, topic)
	if half == bundle {
		t.Fatalf("topic still in split bundle %s", bundle)
	}
	sendOne(t, ctx, client, topic)
	if err := adm1.Namespaces().UnloadNamespaceBundle("public/default", "0x00000000_0x00000001"); err == nil {
		t.Fatal("unloading a bundle that does not exist succeeded")
	}

	// Partitioned topic spread over both brokers: stats aggregate all partitions,
	// delete removes them all, whichever broker is asked.
	base := uniqueTopic(t)
	btn, err := utils.GetTopicName(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := adm1.Topics().Create(*btn, 6); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, client, pulsar.ProducerOptions{Topic: base, MessageRouter: func(m *pulsar.ProducerMessage, _ pulsar.TopicMetadata) int {
		return int(m.Payload[0]) % 6
	}})
	for i := 0; i < 6; i++ {
		if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	hosts := map[string]bool{}
	for i := 0; i < 6; i++ {
		hosts[lookupURL(t, b1, fmt.Sprintf("%s-partition-%d", base, i))] = true
	}
	t.Logf("6 partitions served by %d brokers", len(hosts))
	for _, adm := range []pulsaradmin.Client{adm1, adm2} {
		ps, err := adm.Topics().GetPartitionedStats(*btn, true)
		if err != nil {
			t.Fatal(err)
		}
		var in int64
		for _, st := range ps.Partitions {
			in += st.MsgCounterIn
		}
		if in != 6 || len(ps.Partitions) != 6 {
			t.Fatalf("partitioned stats: msgInCounter %d over %d partitions, want 6 over 6", in, len(ps.Partitions))
		}
	}
	if err := adm2.Topics().Delete(*btn, true, false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		key := c.Store.Keys.ManagedLedger(fmt.Sprintf("%s-partition-%d", base, i))
		if _, err := c.Store.Get(ctx, key); err == nil {
			t.Fatalf("partition %d still has a managed ledger after the delete", i)
		}
	}

	// Namespace unload: no bundle of public/default stays owned.
	if err := adm1.Namespaces().Unload("public/default"); err != nil {
		t.Fatal(err)
	}
	vals, _, err := c.Store.List(ctx, c.Store.Keys.NamespaceOwnerships("public/default"))
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 0 {
		t.Fatalf("%d bundles of public/default still owned after the namespace unload", len(vals))
	}
	sendOne(t, ctx, client, topics[1])
}

// bundleOf returns the range of the bundle that owns topic, from etcd.
func bundleOf(t *testing.T, c *harness.Cluster, topic string) string {
	t.Helper()
	var bs struct {
		Boundaries []string `json:"boundaries"`
	}
	httpJSON(t, c.Brokers[0].HTTPURL+"/admin/v2/namespaces/public/default/bundles", &bs)
	h := crc32IEEE(topic)
	for i := 0; i+1 < len(bs.Boundaries); i++ {
		var lo, hi uint64
		fmt.Sscanf(bs.Boundaries[i], "0x%x", &lo)
		fmt.Sscanf(bs.Boundaries[i+1], "0x%x", &hi)
		if uint64(h) >= lo && (uint64(h) < hi || i+2 == len(bs.Boundaries)) {
			return bs.Boundaries[i] + "_" + bs.Boundaries[i+1]
		}
	}
	t.Fatalf("no bundle holds %s", topic)
	return ""
}

func sendOne(t *testing.T, ctx context.Context, client pulsar.Client, topic string) {
	t.Helper()
	p := newProducer(t, client, pulsar.ProducerOptions{Topic: topic})
	defer p.Close() // gone before the caller goes on
	if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("again")}); err != nil {
		t.Fatal(err)
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// crc32IEEE is the bundle hash as docs/format/metadata.md states it.
func crc32IEEE(s string) uint32 { return crc32.ChecksumIEEE([]byte(s)) }

// TestClusterHTTPLookup: a client whose service URL is one broker's http:// address
// reaches topics served by either broker — HTTP lookups answer with the owner, or 307
// to the broker chosen for a bundle nobody owns — and produces and consumes on each.
func TestClusterHTTPLookup(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{Bookies: 3, Brokers: 2, Dir: testDir(t)})
	ctx := testCtx(t)
	client := newClient(t, c.Brokers[0].HTTPURL)
	// Until both brokers served a topic (at most 40 topics: the 4 bundles of
	// public/default go to the least-loaded broker, so both get some).
	served := map[string]int{}
	for i := 0; i < 40 && (len(served) < 2 || i < 8); i++ {
		topic := uniqueTopic(t)
		cons := subscribe(t, client, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s"})
		p := newProducer(t, client, pulsar.ProducerOptions{Topic: topic})
		if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte(topic)}); err != nil {
			t.Fatal(err)
		}
		m, err := cons.Receive(ctx)
		if err != nil || string(m.Payload()) != topic {
			t.Fatalf("receive on %s: %v", topic, err)
		}
		p.Close()
		cons.Close()
		served[lookupURL(t, c.Brokers[1], topic)]++
	}
	t.Logf("topics by serving broker: %v", served)
	if len(served) != 2 {
		t.Fatalf("every topic served by one broker (%v): the other's lookups were not exercised", served)
	}
}
