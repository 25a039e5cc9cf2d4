package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/strata-io/strata/metadata"
)

// Clusters: the records of the clusters this deployment knows, its own and the remote
// ones it may replicate to, at clusters/<name> (docs/format/metadata.md) in Pulsar's
// ClusterData JSON. The local cluster's record is created at first start (Bootstrap)
// with no URLs: a broker serves its own advertised URLs for it until an operator sets
// them. Remote clusters are created by the operator (admin REST, `strata admin
// clusters create`); tenants, namespaces and topics then name them in their cluster
// lists, and a cluster in use cannot be deleted.

var (
	// ErrInvalidCluster: a cluster name or a ClusterData value is not acceptable.
	ErrInvalidCluster = errors.New("resources: invalid cluster")
	// ErrClusterInUse: a cluster named by a tenant, namespace or topic cannot be deleted
	// (Pulsar's "Cluster not empty").
	ErrClusterInUse = errors.New("resources: cluster in use")
)

// GlobalCluster is Pulsar's pseudo-cluster of v1 global namespaces: never a real
// cluster, never in a replication list.
const GlobalCluster = "global"

// maxClusterName bounds a cluster name.
const maxClusterName = 128

// ValidateClusterName checks a cluster name: 1 to 128 letters, digits, '-' and '_'.
// Unlike Pulsar, a "." is refused: a replicator's cursor is "pulsar.repl.<cluster>" and
// the cluster is read back as the text after the last ".", so a dotted name would break
// replication (geo-and-tiered A2).
func ValidateClusterName(name string) error {
	if name == "" || len(name) > maxClusterName {
		return fmt.Errorf("%w: cluster name %q must have 1 to %d characters", ErrInvalidCluster, name, maxClusterName)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: cluster name %q may hold only letters, digits, '-' and '_' (no %q)", ErrInvalidCluster, name, c)
		}
	}
	if name == GlobalCluster {
		return fmt.Errorf("%w: %q is reserved", ErrInvalidCluster, name)
	}
	return nil
}

// ClusterData is a cluster's record, in the JSON shape of Pulsar's ClusterData. The
// first nine fields are the ones pulsaradmin sends on every call (empty strings and false
// included); the last ones Pulsar also accepts, kept when set. Fields Pulsar knows and
// Strata does not (key stores, TLS factories) are dropped on decode.
type ClusterData struct {
	ServiceURL                     string   `json:"serviceUrl"`
	ServiceURLTLS                  string   `json:"serviceUrlTls"`
	BrokerServiceURL               string   `json:"brokerServiceUrl"`
	BrokerServiceURLTLS            string   `json:"brokerServiceUrlTls"`
	PeerClusterNames               []string `json:"peerClusterNames"`
	AuthenticationPlugin           string   `json:"authenticationPlugin"`
	AuthenticationParameters       string   `json:"authenticationParameters"`
	BrokerClientTrustCertsFilePath string   `json:"brokerClientTrustCertsFilePath"`
	BrokerClientTLSEnabled         bool     `json:"brokerClientTlsEnabled"`
	TLSAllowInsecureConnection     bool     `json:"tlsAllowInsecureConnection,omitempty"`
	ProxyServiceURL                string   `json:"proxyServiceUrl,omitempty"`
	ProxyProtocol                  string   `json:"proxyProtocol,omitempty"`
	ListenerName                   string   `json:"listenerName,omitempty"`
}

// normalize drops the empty peer names pulsarctl sends ([""]) and duplicates, and
// makes an absent list empty.
func (d *ClusterData) normalize() {
	peers := []string{}
	for _, p := range d.PeerClusterNames {
		if p != "" && !slices.Contains(peers, p) {
			peers = append(peers, p)
		}
	}
	d.PeerClusterNames = peers
}

// validate checks the URLs' schemes (an empty URL is unset).
func (d ClusterData) validate() error {
	for _, u := range []struct{ field, value string }{
		{"serviceUrl", d.ServiceURL}, {"serviceUrlTls", d.ServiceURLTLS},
		{"brokerServiceUrl", d.BrokerServiceURL}, {"brokerServiceUrlTls", d.BrokerServiceURLTLS},
		{"proxyServiceUrl", d.ProxyServiceURL},
	} {
		if u.value == "" {
			continue
		}
		// A Pulsar service URL may list several hosts: pulsar://h1:6650,h2:6650.
		p, err := url.Parse(u.value)
		if err != nil || p.Scheme == "" || p.Host == "" {
			return fmt.Errorf("%w: %s %q is not a URL", ErrInvalidCluster, u.field, u.value)
		}
		want := []string{"http", "https"}
		if strings.HasPrefix(u.field, "broker") || u.field == "proxyServiceUrl" {
			want = []string{"pulsar", "pulsar+ssl"}
		}
		if !slices.Contains(want, p.Scheme) {
			return fmt.Errorf("%w: %s %q: the scheme must be %s", ErrInvalidCluster, u.field, u.value, strings.Join(want, " or "))
		}
	}
	if d.ProxyProtocol != "" && d.ProxyProtocol != "SNI" {
		return fmt.Errorf("%w: proxyProtocol %q: only SNI is known", ErrInvalidCluster, d.ProxyProtocol)
	}
	return nil
}

// Clusters reads and writes the cluster records.
type Clusters struct{ s *metadata.Store }

// NewClusters returns the cluster records kept in store.
func NewClusters(store *metadata.Store) *Clusters { return &Clusters{s: store} }

// Clusters returns the cluster records kept in the same store as n.
func (n *Namespaces) Clusters() *Clusters { return NewClusters(n.s) }

// List returns the cluster names, sorted.
func (c *Clusters) List(ctx context.Context) ([]string, error) {
	prefix := c.s.Keys.Clusters()
	vals, _, err := c.s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, v := range vals {
		if name := strings.TrimPrefix(v.Key, prefix); name != "" && !strings.Contains(name, "/") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Get returns a cluster's record; ErrNotFound if it does not exist.
func (c *Clusters) Get(ctx context.Context, name string) (ClusterData, error) {
	d, _, err := c.get(ctx, name)
	return d, err
}

func (c *Clusters) get(ctx context.Context, name string) (ClusterData, int64, error) {
	if err := ValidateClusterName(name); err != nil {
		return ClusterData{}, 0, fmt.Errorf("%w: cluster %s", ErrNotFound, name)
	}
	v, err := c.s.Get(ctx, c.s.Keys.Cluster(name))
	if errors.Is(err, metadata.ErrNotFound) {
		return ClusterData{}, 0, fmt.Errorf("%w: cluster %s", ErrNotFound, name)
	}
	if err != nil {
		return ClusterData{}, 0, err
	}
	var d ClusterData
	if err := json.Unmarshal(v.Data, &d); err != nil {
		return ClusterData{}, 0, fmt.Errorf("resources: cluster %s: bad record: %w", name, err)
	}
	return d, v.ModRevision, nil
}

// Exists reports whether a cluster has a record.
func (c *Clusters) Exists(ctx context.Context, name string) (bool, error) {
	_, err := c.Get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// checkPeers: every peer exists and is not the cluster itself.
func (c *Clusters) checkPeers(ctx context.Context, name string, peers []string) error {
	for _, p := range peers {
		if p == name {
			return fmt.Errorf("%w: cluster %s cannot be its own peer", ErrInvalidCluster, name)
		}
		ok, err := c.Exists(ctx, p)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: peer cluster %s does not exist", ErrInvalidCluster, p)
		}
	}
	return nil
}

// Create creates a cluster's record; metadata.ErrExists if it exists.
func (c *Clusters) Create(ctx context.Context, name string, d ClusterData) error {
	if err := ValidateClusterName(name); err != nil {
		return err
	}
	d.normalize()
	if err := d.validate(); err != nil {
		return err
	}
	if err := c.checkPeers(ctx, name, d.PeerClusterNames); err != nil {
		return err
	}
	b, _ := json.Marshal(d)
	_, err := c.s.Create(ctx, c.s.Keys.Cluster(name), b)
	return err
}

// Update replaces a cluster's record (Pulsar's update sends the whole object);
// ErrNotFound if it does not exist.
func (c *Clusters) Update(ctx context.Context, name string, d ClusterData) error {
	d.normalize()
	if err := d.validate(); err != nil {
		return err
	}
	return c.update(ctx, name, func(old *ClusterData) error {
		if err := c.checkPeers(ctx, name, d.PeerClusterNames); err != nil {
			return err
		}
		*old = d
		return nil
	})
}

// SetPeers replaces a cluster's peer clusters; each must exist and not be the cluster.
func (c *Clusters) SetPeers(ctx context.Context, name string, peers []string) error {
	return c.update(ctx, name, func(d *ClusterData) error {
		d.PeerClusterNames = peers
		d.normalize()
		return c.checkPeers(ctx, name, d.PeerClusterNames)
	})
}

func (c *Clusters) update(ctx context.Context, name string, change func(*ClusterData) error) error {
	for {
		d, rev, err := c.get(ctx, name)
		if err != nil {
			return err
		}
		if err := change(&d); err != nil {
			return err
		}
		b, _ := json.Marshal(d)
		_, err = c.s.CAS(ctx, c.s.Keys.Cluster(name), b, rev)
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			continue
		}
		return err
	}
}

// Delete deletes a cluster's record: ErrNotFound if it does not exist,
// ErrClusterInUse while a tenant's allowed clusters, a namespace's replication or
// allowed clusters, a topic's replication clusters or another cluster's peers name it.
//
// As with DeleteTenant, the check and the delete are two etcd operations: a list that
// names the cluster between them keeps a dangling name, which the replication checks
// then treat as an unknown cluster.
func (c *Clusters) Delete(ctx context.Context, name string) error {
	_, rev, err := c.get(ctx, name)
	if err != nil {
		return err
	}
	if user, err := c.userOf(ctx, name); err != nil {
		return err
	} else if user != "" {
		return fmt.Errorf("%w: cluster %s is used by %s", ErrClusterInUse, name, user)
	}
	err = c.s.Delete(ctx, c.s.Keys.Cluster(name), rev)
	if errors.Is(err, metadata.ErrRevisionMismatch) {
		return fmt.Errorf("resources: cluster %s changed meanwhile; try again", name)
	}
	return err
}

// userOf names the first record that names cluster, "" if none does.
func (c *Clusters) userOf(ctx context.Context, cluster string) (string, error) {
	check := func(prefix string, lists func(data []byte) ([]string, error), what string) (string, error) {
		vals, _, err := c.s.List(ctx, prefix)
		if err != nil {
			return "", err
		}
		for _, v := range vals {
			names, err := lists(v.Data)
			if err != nil {
				continue // a record this check cannot read does not block a delete
			}
			if slices.Contains(names, cluster) {
				return what + " " + strings.TrimPrefix(v.Key, prefix), nil
			}
		}
		return "", nil
	}
	for _, src := range []struct {
		prefix, what string
		lists        func([]byte) ([]string, error)
	}{
		{c.s.Keys.Clusters(), "the peers of cluster", func(b []byte) ([]string, error) {
			var d ClusterData
			err := json.Unmarshal(b, &d)
			return d.PeerClusterNames, err
		}},
		{c.s.Keys.Tenants(), "tenant", func(b []byte) ([]string, error) {
			var t TenantInfo
			err := json.Unmarshal(b, &t)
			return t.AllowedClusters, err
		}},
		{c.s.Keys.Namespaces(), "namespace", func(b []byte) ([]string, error) {
			var p Policies
			err := json.Unmarshal(b, &p)
			return slices.Concat(p.ReplicationClusters, p.AllowedClusters), err
		}},
		{c.s.Keys.TopicPolicies(), "the topic policies of", func(b []byte) ([]string, error) {
			var tp TopicPolicies
			err := json.Unmarshal(b, &tp)
			return tp.ReplicationClusters, err
		}},
	} {
		if user, err := check(src.prefix, src.lists, src.what); err != nil || user != "" {
			return user, err
		}
	}
	return "", nil
}
