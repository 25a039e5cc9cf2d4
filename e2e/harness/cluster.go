package harness

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// Cluster is a whole Strata cluster on loopback for fault tests: a real etcd embedded
// in the test process, `strata bookie` processes and `strata broker` processes.
//
// Every broker reaches etcd only through its own FaultProxy, so a test can cut one
// broker off etcd (or blackhole it, or slow it) while the rest of the cluster, and the
// test's own Store, still see etcd. Bookies and the test talk to etcd directly.
//
// Each broker listens on ports picked once, when it is added: a broker that is killed
// and restarted (Broker.Restart) comes back on the same Pulsar and HTTP addresses,
// under the same broker id, with the same proxy in front of etcd — as a restarted
// machine would. Everything is stopped at test cleanup (processes first, then the
// proxies, then etcd).
//
// A Cluster is driven from the test goroutine: its methods call t.Fatal.
type Cluster struct {
	t    testing.TB
	opts ClusterOptions

	// Dir holds the bookies' data dirs and every process's and proxy's log.
	Dir string
	// Etcd is the client URL of the embedded etcd (http://127.0.0.1:port). It is the
	// direct address, not a broker's proxy.
	Etcd string
	// Store is the test's own connection to etcd (direct), at metadata.DefaultRoot.
	Store   *metadata.Store
	Bookies []*Bookie
	Brokers []*Broker
}

// ClusterOptions says what StartCluster starts.
type ClusterOptions struct {
	Bookies int // default 3
	Brokers int // default 1
	// LeaseTTL is each broker's --lease-ttl: how long its etcd session outlives its
	// last keepalive, so how soon the cluster notices that a broker is gone. It must
	// be whole seconds (an etcd lease TTL is). Zero keeps the broker's default (10s).
	LeaseTTL time.Duration
	// The replication settings of new ledgers; default 3, 2, 2. A topic cannot be
	// created while fewer than EnsembleSize bookies are writable.
	EnsembleSize, WriteQuorum, AckQuorum int
	// Extra arguments appended to every broker's and bookie's command line (later
	// flags win, so these can override the defaults above).
	ExtraBrokerArgs, ExtraBookieArgs []string
	// Dir receives data and logs; default a fresh t.TempDir().
	Dir string
}

func (o *ClusterOptions) applyDefaults(t testing.TB) {
	if o.Bookies == 0 {
		o.Bookies = 3
	}
	if o.Brokers == 0 {
		o.Brokers = 1
	}
	if o.EnsembleSize == 0 {
		o.EnsembleSize = 3
	}
	if o.WriteQuorum == 0 {
		o.WriteQuorum = 2
	}
	if o.AckQuorum == 0 {
		o.AckQuorum = 2
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
}

func (o ClusterOptions) validate() error {
	if o.Bookies < 0 || o.Brokers < 0 {
		return fmt.Errorf("negative process count (%d bookies, %d brokers)", o.Bookies, o.Brokers)
	}
	if o.LeaseTTL < 0 || o.LeaseTTL%time.Second != 0 {
		return fmt.Errorf("lease TTL %s is not a whole number of seconds", o.LeaseTTL)
	}
	if !(o.AckQuorum <= o.WriteQuorum && o.WriteQuorum <= o.EnsembleSize) {
		return fmt.Errorf("want ack quorum <= write quorum <= ensemble size, got %d, %d, %d",
			o.AckQuorum, o.WriteQuorum, o.EnsembleSize)
	}
	return nil
}

// Broker is a `strata broker` OS process in a Cluster.
type Broker struct {
	*Process
	// PulsarAddr and HTTPAddr (host:port) are the broker's listen addresses, the same
	// across restarts. PulsarAddr is also its --advertised-address, the address
	// clients are sent to.
	PulsarAddr, HTTPAddr string
	PulsarURL            string // pulsar://PulsarAddr
	HTTPURL              string // http://HTTPAddr
	// EtcdProxy is the broker's only path to etcd: Cut, Blackhole or slow it to
	// partition this broker from the metadata store.
	EtcdProxy *FaultProxy
}

// StartCluster starts etcd, opts.Bookies bookies (bookie-1, ...) and opts.Brokers
// brokers (broker-1, ...), each broker once it printed that it is listening.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	opts.applyDefaults(t)
	if err := opts.validate(); err != nil {
		t.Fatalf("harness: cluster options: %v", err)
	}
	store, ep := metadatatest.Store(t, metadata.DefaultRoot)
	c := &Cluster{t: t, opts: opts, Dir: opts.Dir, Etcd: ep, Store: store}
	// Bookies first: a broker may create ledgers as soon as it serves.
	for range opts.Bookies {
		c.AddBookie()
	}
	for range opts.Brokers {
		c.AddBroker()
	}
	return c
}

// AddBookie starts one more bookie, bookie-<n+1>, and returns it once it is
// registered and serving.
func (c *Cluster) AddBookie() *Bookie {
	c.t.Helper()
	b := StartBookie(c.t, c.Etcd, c.Dir, fmt.Sprintf("bookie-%d", len(c.Bookies)+1), c.opts.ExtraBookieArgs...)
	c.Bookies = append(c.Bookies, b)
	return b
}

// AddBroker starts one more broker, broker-<n+1>, on fresh fixed ports behind a fresh
// etcd proxy, and returns it once it serves.
func (c *Cluster) AddBroker() *Broker {
	c.t.Helper()
	name := fmt.Sprintf("broker-%d", len(c.Brokers)+1)
	px := StartFaultProxy(c.t, FaultProxyConfig{Name: name + "-etcd-proxy", Upstream: hostPort(c.t, c.Etcd), LogDir: c.Dir})
	pulsarAddr, httpAddr := FreePort(c.t), FreePort(c.t)
	args := []string{"broker",
		"--etcd", "http://" + px.Addr(),
		"--listen", pulsarAddr,
		"--http", httpAddr,
		"--advertised-address", pulsarAddr,
		"--ensemble-size", fmt.Sprint(c.opts.EnsembleSize),
		"--write-quorum", fmt.Sprint(c.opts.WriteQuorum),
		"--ack-quorum", fmt.Sprint(c.opts.AckQuorum),
		"--cluster", ClusterName,
		"--log-level", "info",
	}
	if c.opts.LeaseTTL > 0 {
		args = append(args, "--lease-ttl", c.opts.LeaseTTL.String())
	}
	args = append(args, c.opts.ExtraBrokerArgs...)
	p := Start(c.t, ProcessConfig{Name: name, Args: args, Ready: "broker listening on", LogDir: c.Dir})
	b := &Broker{Process: p, PulsarAddr: pulsarAddr, HTTPAddr: httpAddr,
		PulsarURL: "pulsar://" + pulsarAddr, HTTPURL: "http://" + httpAddr, EtcdProxy: px}
	c.Brokers = append(c.Brokers, b)
	return b
}

// ClusterName is the --cluster of every broker a Cluster starts.
const ClusterName = "strata-cluster"

// ServiceURL is a Pulsar service URL naming every broker of the cluster
// ("pulsar://h1:p1,h2:p2"): the Go client spreads its lookups over the hosts and
// tries the next one when a host does not answer.
func (c *Cluster) ServiceURL() string {
	addrs := make([]string, len(c.Brokers))
	for i, b := range c.Brokers {
		addrs[i] = b.PulsarAddr
	}
	return "pulsar://" + strings.Join(addrs, ",")
}

// hostPort turns an etcd client URL (http://host:port) into host:port.
func hostPort(t testing.TB, url string) string {
	t.Helper()
	hp := strings.TrimPrefix(url, "http://")
	if _, _, err := net.SplitHostPort(hp); err != nil {
		t.Fatalf("harness: etcd endpoint %q: %v", url, err)
	}
	return hp
}
