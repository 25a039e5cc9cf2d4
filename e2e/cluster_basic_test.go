package e2e

// The cluster harness at work, without faults in the data path: etcd in the test
// process, bookie and broker OS processes, each broker behind its own etcd proxy.
// These tests are the baseline the fault tests build on: the queue checker finds
// nothing wrong in a healthy cluster, and a proxy cut really cuts.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/e2e/harness/queuecheck"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata"
)

// TestClusterProduceConsume: two producers send about 2,000 messages through the
// service URL of a 3-bookie, 2-broker cluster while a failover consumer tails the
// topic. Every acknowledged message is delivered, nothing else is, and each
// producer's messages come in send order.
func TestClusterProduceConsume(t *testing.T) {
	seed := testenv.Seed(t)
	c := harness.StartCluster(t, harness.ClusterOptions{Bookies: 3, Brokers: 2, Dir: testDir(t)})
	ctx := testCtx(t)
	client := newClient(t, c.ServiceURL())
	topic := uniqueTopic(t)

	sends, receipts := queuecheck.NewSends(), queuecheck.NewReceipts()
	cons := queuecheck.StartConsumer(t, queuecheck.ConsumerConfig{Client: client, Topic: topic,
		Subscription: "check", Type: pulsar.Failover, Receipts: receipts})
	var prods []*queuecheck.Producer
	for i := range 2 {
		prods = append(prods, queuecheck.StartProducer(t, queuecheck.ProducerConfig{
			Client: client, Topic: topic, Name: fmt.Sprintf("p%d", i), Sends: sends,
			Rate: 250, MaxPending: 50, PayloadSize: 512, Seed: seed + uint64(i),
			Options: pulsar.ProducerOptions{BatchingMaxPublishDelay: 5 * time.Millisecond},
		}))
	}
	if err := sends.WaitAcked(ctx, 2000); err != nil {
		t.Fatal(err)
	}
	for _, p := range prods {
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := queuecheck.WaitConsumed(ctx, sends, receipts); err != nil {
		t.Fatal(err)
	}
	cons.Stop()

	rep := queuecheck.Check(sends, receipts, queuecheck.Options{Ordered: true})
	t.Logf("report: %s", rep)
	if rep.Acked < 2000 || len(rep.Lost) != 0 || len(rep.Phantoms) != 0 {
		t.Errorf("acked %d (want >= 2000), lost %d, phantoms %d (want none)", rep.Acked, len(rep.Lost), len(rep.Phantoms))
	}
	if err := rep.Err(); err != nil {
		t.Error(err)
	}
	// Nothing disturbed the cluster, so no send should have failed.
	if rep.Failed != 0 || rep.Pending != 0 {
		t.Errorf("%d sends failed and %d have no outcome in a healthy cluster", rep.Failed, rep.Pending)
	}
}

// TestClusterEtcdProxyFaults is the harness's own check that a broker's etcd proxy
// sits on the broker's only path to etcd: cut or blackholed, both an etcd client
// dialling through the proxy and the broker itself (an admin call that reads etcd)
// fail, while the other broker is unaffected; restored, both work again. Each fault
// lasts a few seconds, less than the 10 s lease TTL (were it longer, the broker
// would start a new session after the restore; the test does not depend on it).
// Last, a broker killed and restarted comes back on the same addresses.
func TestClusterEtcdProxyFaults(t *testing.T) {
	c := harness.StartCluster(t, harness.ClusterOptions{Brokers: 2, LeaseTTL: 10 * time.Second, Dir: testDir(t)})
	b1, b2 := c.Brokers[0], c.Brokers[1]
	if b1.EtcdProxy.Upstream() != strings.TrimPrefix(c.Etcd, "http://") {
		t.Fatalf("broker-1's proxy forwards to %s, want etcd at %s", b1.EtcdProxy.Upstream(), c.Etcd)
	}
	if n := b1.EtcdProxy.Connections(); n == 0 {
		t.Fatal("broker-1 is serving but has no connection through its etcd proxy")
	}
	via, err := metadata.Open(metadata.Config{Endpoints: []string{"http://" + b1.EtcdProxy.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer via.Close()
	key := via.Keys.E2E("proxy-check")
	if _, err := c.Store.Put(context.Background(), key, []byte("x")); err != nil {
		t.Fatal(err)
	}

	for _, fault := range []struct {
		name   string
		inject func()
	}{{"cut", b1.EtcdProxy.Cut}, {"blackhole", b1.EtcdProxy.Blackhole}} {
		t.Run(fault.name, func(t *testing.T) {
			// Healthy first, so that a failure below is the fault's doing.
			etcdGetEventually(t, via, key)
			tenantsEventually(t, b1)

			fault.inject()
			if err := etcdGet(via, key, 2*time.Second); err == nil {
				t.Fatalf("etcd Get through a %s proxy succeeded", fault.name)
			}
			if err := listTenants(b1, 3*time.Second); err == nil {
				t.Fatalf("broker-1 listed tenants from etcd through a %s proxy", fault.name)
			}
			if err := listTenants(b2, 10*time.Second); err != nil {
				t.Fatalf("broker-2, not behind the fault, cannot list tenants: %v", err)
			}

			b1.EtcdProxy.Restore()
			etcdGetEventually(t, via, key)
			tenantsEventually(t, b1)
		})
	}

	// A killed and restarted broker is back on its addresses, behind the same proxy.
	b1.Kill()
	if err := listTenants(b1, 3*time.Second); err == nil {
		t.Fatal("a killed broker answered")
	}
	b1.Restart()
	tenantsEventually(t, b1)
	if n := b1.EtcdProxy.Connections(); n < 2 { // the restarted broker's and via's
		t.Fatalf("%d connections through broker-1's etcd proxy after its restart, want the broker's and the test's", n)
	}
}

// etcdGet reads key with a deadline.
func etcdGet(s *metadata.Store, key string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := s.Get(ctx, key)
	return err
}

// etcdGetEventually polls until key can be read (the client reconnects with backoff
// after a fault; there is no event to wait on).
func etcdGetEventually(t *testing.T, s *metadata.Store, key string) {
	t.Helper()
	adminEventually(t, "etcd Get through the proxy", func() (bool, string) {
		err := etcdGet(s, key, 2*time.Second)
		return err == nil, fmt.Sprint(err)
	})
}

// listTenants asks a broker for the tenant list, which it reads from etcd.
func listTenants(b *harness.Broker, timeout time.Duration) error {
	cl := &http.Client{Timeout: timeout}
	resp, err := cl.Get(b.HTTPURL + "/admin/v2/tenants")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return nil
}

func tenantsEventually(t *testing.T, b *harness.Broker) {
	t.Helper()
	adminEventually(t, b.Name+" lists tenants", func() (bool, string) {
		err := listTenants(b, 3*time.Second)
		return err == nil, fmt.Sprint(err)
	})
}
