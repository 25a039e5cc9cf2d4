package e2e

// Broker failover under faults (issue 5): the owner of a topic is killed, paused past
// its lease, or cut off from etcd while producers send and a consumer tails. In every
// case another broker takes the topic within the lease TTL plus a few seconds, the
// clients carry on through lookup, the queue checker finds no acknowledged message
// lost, and no acknowledgement ever names an entry the topic's log does not hold — so
// two brokers never acknowledged for the topic at the same time.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/e2e/harness/queuecheck"
	"github.com/strata-io/strata/internal/testenv"
)

// failoverTTL is the brokers' lease TTL in these tests: short, so that a takeover is
// quick, yet several keepalive rounds long.
const failoverTTL = 3 * time.Second

// failoverBound is how long after a fault another broker must own the topic: the TTL
// plus the time to notice, claim, fence and recover ("a few seconds").
const failoverBound = failoverTTL + 12*time.Second

// failoverRig is a 3-bookie, 2-broker cluster with producers and a tailing consumer
// on one topic in a namespace that retains everything (so that every ledger's
// metadata is still there to check at the end).
type failoverRig struct {
	t        *testing.T
	c        *harness.Cluster
	topic    string
	sends    *queuecheck.Sends
	receipts *queuecheck.Receipts
	prods    []*queuecheck.Producer
	cons     *queuecheck.Consumer
	ctx      context.Context
}

func startFailoverRig(t *testing.T) *failoverRig {
	t.Helper()
	seed := testenv.Seed(t)
	c := harness.StartCluster(t, harness.ClusterOptions{Bookies: 3, Brokers: 2, LeaseTTL: failoverTTL, Dir: testDir(t)})
	ctx := testCtx(t)

	adm, err := pulsaradmin.NewClient(&pulsaradmin.Config{WebServiceURL: c.Brokers[0].HTTPURL})
	if err != nil {
		t.Fatal(err)
	}
	if err := adm.Namespaces().CreateNamespace("public/keep"); err != nil {
		t.Fatal(err)
	}
	if err := adm.Namespaces().SetRetention("public/keep", utils.RetentionPolicies{RetentionTimeInMinutes: -1, RetentionSizeInMB: -1}); err != nil {
		t.Fatal(err)
	}
	// A short keepalive: a client notices a paused broker (its TCP connection stays
	// up) after a few pings rather than after the default 30 s.
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: c.ServiceURL(), OperationTimeout: 20 * time.Second,
		ConnectionTimeout: 3 * time.Second, KeepAliveInterval: 2 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	r := &failoverRig{t: t, c: c, ctx: ctx, sends: queuecheck.NewSends(), receipts: queuecheck.NewReceipts(),
		topic: strings.Replace(uniqueTopic(t), "public/default", "public/keep", 1)}
	r.cons = queuecheck.StartConsumer(t, queuecheck.ConsumerConfig{Client: client, Topic: r.topic,
		Subscription: "check", Type: pulsar.Failover, Receipts: r.receipts})
	for i := range 2 {
		r.prods = append(r.prods, queuecheck.StartProducer(t, queuecheck.ProducerConfig{
			Client: client, Topic: r.topic, Name: fmt.Sprintf("p%d", i), Sends: r.sends,
			Rate: 200, MaxPending: 100, PayloadSize: 256, Seed: seed + uint64(i),
			Options: pulsar.ProducerOptions{BatchingMaxPublishDelay: 5 * time.Millisecond, SendTimeout: time.Minute},
		}))
	}
	r.waitMoreAcked(300)
	return r
}

// waitMoreAcked waits until n more sends than now were acknowledged: the clients are
// making progress.
func (r *failoverRig) waitMoreAcked(n int) {
	r.t.Helper()
	if err := r.sends.WaitAcked(r.ctx, r.sends.Acked()+n); err != nil {
		r.t.Fatal(err)
	}
}

// lookup asks broker via for the topic's broker URL (HTTP lookup, following the
// redirect to a chosen broker).
func (r *failoverRig) lookup(via *harness.Broker) (string, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	n := strings.TrimPrefix(r.topic, "persistent://")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, via.HTTPURL+"/lookup/v2/topic/persistent/"+n, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("lookup: %s", resp.Status)
	}
	var out struct {
		BrokerURL string `json:"brokerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.BrokerURL, nil
}

// owner returns the broker that serves the topic and the other one.
func (r *failoverRig) owner() (owner, other *harness.Broker) {
	r.t.Helper()
	u, err := r.lookup(r.c.Brokers[0])
	if err != nil {
		r.t.Fatal(err)
	}
	for i, b := range r.c.Brokers {
		if b.PulsarURL == u {
			return b, r.c.Brokers[1-i]
		}
	}
	r.t.Fatalf("lookup answered %s, not a broker of the cluster", u)
	return nil, nil
}

// waitMovedTo waits until broker b says it serves the topic, and returns how long
// after since that was.
func (r *failoverRig) waitMovedTo(b *harness.Broker, since time.Time) time.Duration {
	r.t.Helper()
	for {
		if u, err := r.lookup(b); err == nil && u == b.PulsarURL {
			return time.Since(since)
		}
		if time.Since(since) > 2*failoverBound {
			r.t.Fatalf("%s does not own the topic %s after the fault", b.Name, time.Since(since).Round(time.Millisecond))
		}
		select {
		case <-r.ctx.Done():
			r.t.Fatal(r.ctx.Err())
		case <-time.After(100 * time.Millisecond): // polling the lookup, an event we cannot subscribe to
		}
	}
}

// ledgerIDs returns the topic's ledgers as its managed-ledger record lists them now.
func (r *failoverRig) ledgerIDs() []int64 {
	r.t.Helper()
	v, err := r.c.Store.Get(r.ctx, r.c.Store.Keys.ManagedLedger(r.topic))
	if err != nil {
		r.t.Fatal(err)
	}
	var rec struct {
		Ledgers []struct {
			ID int64 `json:"id"`
		} `json:"ledgers"`
	}
	if err := json.Unmarshal(v.Data, &rec); err != nil {
		r.t.Fatal(err)
	}
	ids := make([]int64, len(rec.Ledgers))
	for i, l := range rec.Ledgers {
		ids[i] = l.ID
	}
	return ids
}

// finish stops the producers, waits for the consumer to catch up and runs the queue
// checker and the acknowledgement check.
func (r *failoverRig) finish() {
	r.t.Helper()
	for _, p := range r.prods {
		if err := p.Stop(r.ctx); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := queuecheck.WaitConsumed(r.ctx, r.sends, r.receipts); err != nil {
		r.t.Fatalf("%v\n%s", err, queuecheck.Check(r.sends, r.receipts, queuecheck.Options{Ordered: true}))
	}
	r.cons.Stop()
	rep := queuecheck.Check(r.sends, r.receipts, queuecheck.Options{Ordered: true})
	r.t.Logf("queue check: %s", rep)
	if err := rep.Err(); err != nil {
		r.t.Fatal(err)
	}
	r.checkAcksInLog()
}

// checkAcksInLog: every acknowledgement names an entry the topic's log holds. A
// closed ledger's entries end at its final LastEntry (for a ledger the previous owner
// left open, the one the next owner's recovery settled on); an acknowledgement past it
// would be a broker acknowledging an entry that another broker's recovery cut off.
func (r *failoverRig) checkAcksInLog() {
	r.t.Helper()
	last := map[int64]int64{}
	for _, id := range r.ledgerIDs() {
		v, err := r.c.Store.Get(r.ctx, r.c.Store.Keys.Ledger(id))
		if err != nil {
			r.t.Fatal(err)
		}
		var md ledger.Metadata
		if err := json.Unmarshal(v.Data, &md); err != nil {
			r.t.Fatal(err)
		}
		last[id] = -2 // open: no bound yet
		if md.State == ledger.StateClosed {
			last[id] = md.LastEntry
		}
	}
	for _, a := range r.sends.AckRecords() {
		end, ok := last[a.Ledger]
		if !ok {
			r.t.Errorf("%s acknowledged as %d:%d, a ledger the topic does not list", a.ID, a.Ledger, a.Entry)
			continue
		}
		if end != -2 && a.Entry > end {
			r.t.Errorf("%s acknowledged as %d:%d, past the ledger's last entry %d", a.ID, a.Ledger, a.Entry, end)
		}
	}
}

// TestClusterFailoverOwnerKilled: SIGKILL the broker that owns the topic. The other
// broker owns it within the bound, the clients continue, nothing acknowledged is lost.
func TestClusterFailoverOwnerKilled(t *testing.T) {
	r := startFailoverRig(t)
	owner, other := r.owner()
	killed := time.Now()
	owner.Kill()
	moved := r.waitMovedTo(other, killed)
	r.waitMoreAcked(500)
	t.Logf("topic moved to %s %s after SIGKILL of %s; clients continued", other.Name, moved.Round(time.Millisecond), owner.Name)
	if moved > failoverBound {
		t.Errorf("takeover took %s, want within %s", moved, failoverBound)
	}
	r.finish()
}

// TestClusterGracefulShutdown: SIGTERM the owner. It unloads its topics before it
// gives their bundles up, so the clients move to the other broker with nothing but a
// reconnect: no send fails, nothing is lost; then it comes back and serves again.
func TestClusterGracefulShutdown(t *testing.T) {
	r := startFailoverRig(t)
	owner, other := r.owner()
	stopped := time.Now()
	owner.Stop()
	if code := owner.ExitCode(); code != 0 {
		t.Fatalf("%s exited with %d after SIGTERM, want 0", owner.Name, code)
	}
	moved := r.waitMovedTo(other, stopped)
	r.waitMoreAcked(500)
	t.Logf("topic moved to %s %s after SIGTERM of %s", other.Name, moved.Round(time.Millisecond), owner.Name)
	owner.Restart() // a rolling restart: it rejoins and can be chosen again
	r.waitMoreAcked(200)
	r.finish()
	if rep := queuecheck.Check(r.sends, r.receipts, queuecheck.Options{Ordered: true}); rep.Failed != 0 {
		t.Fatalf("%d sends failed across a graceful shutdown, want none: %v", rep.Failed, rep.SendErrors)
	}
}

// TestClusterFailoverOwnerPaused: SIGSTOP the owner past its lease. The other broker
// takes the topic; when the paused broker resumes, its queued writes hit ledgers that
// were fenced and its acknowledgements are refused at its lease deadline, so nothing
// it says contradicts the new owner's log.
func TestClusterFailoverOwnerPaused(t *testing.T) {
	r := startFailoverRig(t)
	owner, other := r.owner()
	before := r.ledgerIDs()
	paused := time.Now()
	owner.Pause()
	moved := r.waitMovedTo(other, paused)
	r.waitMoreAcked(500)
	t.Logf("topic moved to %s %s after SIGSTOP of %s", other.Name, moved.Round(time.Millisecond), owner.Name)
	// The old owner's ledgers are closed now: fenced and recovered by the new owner.
	for _, id := range before {
		v, err := r.c.Store.Get(r.ctx, r.c.Store.Keys.Ledger(id))
		if err != nil {
			t.Fatal(err)
		}
		var md ledger.Metadata
		if err := json.Unmarshal(v.Data, &md); err != nil {
			t.Fatal(err)
		}
		if md.State != ledger.StateClosed {
			t.Fatalf("ledger %d of the paused owner is %s after the takeover, want CLOSED", id, md.State)
		}
	}
	owner.Resume()
	// The resumed broker gives the bundle up (its session is gone) and serves again.
	for {
		u, err := r.lookup(owner)
		if err == nil && u == other.PulsarURL {
			break
		}
		if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("resumed broker still answers %q, %v", u, err)
		}
		select {
		case <-r.ctx.Done():
			t.Fatal(r.ctx.Err())
		case <-time.After(100 * time.Millisecond): // polling the resumed broker's lookup
		}
	}
	r.waitMoreAcked(300)
	r.finish()
}

// TestClusterFailoverOwnerCutFromEtcd: the owner loses etcd (its proxy blackholes
// every byte) while its clients and bookies still reach it. It stops acknowledging
// within its lease TTL of the cut; the other broker takes the topic.
func TestClusterFailoverOwnerCutFromEtcd(t *testing.T) {
	r := startFailoverRig(t)
	owner, other := r.owner()
	before := map[int64]bool{}
	for _, id := range r.ledgerIDs() {
		before[id] = true
	}
	cut := time.Now()
	owner.EtcdProxy.Blackhole()
	moved := r.waitMovedTo(other, cut)
	r.waitMoreAcked(500)
	t.Logf("topic moved to %s %s after %s lost etcd", other.Name, moved.Round(time.Millisecond), owner.Name)
	if moved > failoverBound {
		t.Errorf("takeover took %s, want within %s", moved, failoverBound)
	}
	// The cut broker's last acknowledgement: on one of its ledgers (the ones listed
	// before the cut), no later than its lease deadline, which is at most one TTL after
	// the cut (plus a little for the receipt to reach the client).
	var lastOld time.Time
	for _, a := range r.sends.AckRecords() {
		if before[a.Ledger] && a.At.After(lastOld) {
			lastOld = a.At
		}
	}
	if d := lastOld.Sub(cut); d > failoverTTL+500*time.Millisecond {
		t.Errorf("the cut-off owner acknowledged %s after the cut, past its lease TTL %s", d, failoverTTL)
	} else {
		t.Logf("the cut-off owner's last acknowledgement came %s after the cut (TTL %s)", d.Round(time.Millisecond), failoverTTL)
	}
	owner.EtcdProxy.Restore()
	r.finish()
}

// TestClusterBookieAddedUnderLoad: a 4th bookie joins while producers run; the
// ledgers created after it registered use it — no rebalancing, no restart.
func TestClusterBookieAddedUnderLoad(t *testing.T) {
	r := startFailoverRig(t)
	added := r.c.AddBookie()
	adm, err := pulsaradmin.NewClient(&pulsaradmin.Config{WebServiceURL: r.c.Brokers[0].HTTPURL})
	if err != nil {
		t.Fatal(err)
	}
	// New ledgers: unloading the topic makes its next owner open a fresh ledger; new
	// topics each get one. Ensembles are drawn at random from the 4 writable bookies,
	// so among 12 new ledgers the new bookie is absent with probability (1/4)^12.
	seen := map[int64]bool{}
	for _, id := range r.ledgerIDs() {
		seen[id] = true
	}
	topicName, err := utils.GetTopicName(r.topic)
	if err != nil {
		t.Fatal(err)
	}
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: r.c.ServiceURL(), OperationTimeout: 20 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var fresh []int64
	for i := 0; i < 11; i++ {
		p := newProducer(t, client, pulsar.ProducerOptions{Topic: fmt.Sprintf("%s-new-%d", r.topic, i)})
		if _, err := p.Send(r.ctx, &pulsar.ProducerMessage{Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	if err := adm.Topics().Unload(*topicName); err != nil {
		t.Fatal(err)
	}
	r.waitMoreAcked(300)
	vals, _, err := r.c.Store.List(r.ctx, r.c.Store.Keys.Ledgers())
	if err != nil {
		t.Fatal(err)
	}
	onNew := 0
	for _, v := range vals {
		var md ledger.Metadata
		if err := json.Unmarshal(v.Data, &md); err != nil {
			t.Fatal(err)
		}
		if seen[md.ID] {
			continue
		}
		fresh = append(fresh, md.ID)
		for _, f := range md.Fragments {
			for _, b := range f.Ensemble {
				if b == added.ID {
					onNew++
				}
			}
		}
	}
	if len(fresh) < 12 {
		t.Fatalf("%d ledgers created after the bookie joined, want at least 12", len(fresh))
	}
	if onNew == 0 {
		t.Fatalf("none of the %d ledgers created after %s joined uses it", len(fresh), added.ID)
	}
	t.Logf("%d of %d new ledgers use %s", onNew, len(fresh), added.ID)
	r.finish()
}
