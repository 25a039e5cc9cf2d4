package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// TenantInfo is a tenant's record (Pulsar's TenantInfo JSON shape).
type TenantInfo struct {
	AdminRoles      []string `json:"adminRoles"`
	AllowedClusters []string `json:"allowedClusters"`
}

// Namespaces reads and writes the records of the namespace tree: tenants, namespaces
// (their policies), partitioned-topic metadata and topic-policy overrides.
type Namespaces struct{ s *metadata.Store }

// NewNamespaces returns the namespace-tree records kept in store.
func NewNamespaces(store *metadata.Store) *Namespaces { return &Namespaces{s: store} }

func (n *Namespaces) tenantKey(t string) string { return n.s.Keys.Tenant(t) }
func (n *Namespaces) nsKey(ns string) string    { return n.s.Keys.Namespace(ns) }
func (n *Namespaces) partitionedKey(name topic.Name) string {
	return n.s.Keys.PartitionedTopic(string(name.Domain), name.Tenant, name.Namespace, name.Local)
}

// Bootstrap registers the local cluster and creates tenant "public" and namespace
// "public/default", each if absent.
func (n *Namespaces) Bootstrap(ctx context.Context, cluster string) error {
	if err := n.Clusters().Create(ctx, cluster, ClusterData{}); err != nil && !errors.Is(err, metadata.ErrExists) {
		return fmt.Errorf("registering the local cluster: %w", err)
	}
	if err := n.CreateTenant(ctx, "public", TenantInfo{AllowedClusters: []string{cluster}}); err != nil && !errors.Is(err, metadata.ErrExists) {
		return err
	}
	if err := n.CreateNamespace(ctx, "public/default", Policies{}); err != nil && !errors.Is(err, metadata.ErrExists) {
		return err
	}
	return nil
}

// CreateTenant creates a tenant; metadata.ErrExists if it exists.
func (n *Namespaces) CreateTenant(ctx context.Context, t string, info TenantInfo) error {
	if err := topic.ValidateTenant(t); err != nil {
		return err
	}
	if info.AdminRoles == nil {
		info.AdminRoles = []string{}
	}
	if info.AllowedClusters == nil {
		info.AllowedClusters = []string{}
	}
	b, _ := json.Marshal(info)
	_, err := n.s.Create(ctx, n.tenantKey(t), b)
	return err
}

// CreateNamespace creates tenant/ns; metadata.ErrExists if it exists, ErrNotFound if the
// tenant does not.
func (n *Namespaces) CreateNamespace(ctx context.Context, ns string, p Policies) error {
	if err := topic.ValidateNamespace(ns); err != nil {
		return err
	}
	t, _, _ := strings.Cut(ns, "/")
	if _, err := n.s.Get(ctx, n.tenantKey(t)); err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return fmt.Errorf("%w: tenant %s", ErrNotFound, t)
		}
		return err
	}
	b, _ := json.Marshal(p)
	_, err := n.s.Create(ctx, n.nsKey(ns), b)
	return err
}

// Policies returns a namespace's policies; ErrNotFound if it does not exist.
func (n *Namespaces) Policies(ctx context.Context, ns string) (Policies, error) {
	v, err := n.s.Get(ctx, n.nsKey(ns))
	if err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return Policies{}, fmt.Errorf("%w: namespace %s", ErrNotFound, ns)
		}
		return Policies{}, err
	}
	var p Policies
	if err := json.Unmarshal(v.Data, &p); err != nil {
		return Policies{}, fmt.Errorf("service: namespace %s: bad record: %w", ns, err)
	}
	return p, nil
}

// TopicsOf lists the full names of the persistent topics of a namespace: every topic with
// a managed ledger, plus the partitions of every partitioned topic.
func (n *Namespaces) TopicsOf(ctx context.Context, ns string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	prefix := n.s.Keys.ManagedLedgers("persistent", ns)
	vals, _, err := n.s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		local := strings.TrimPrefix(v.Key, prefix)
		if strings.Contains(local, "/") {
			continue // a cursor record below a managed ledger
		}
		add("persistent://" + ns + "/" + local)
	}
	t, nsLocal, _ := strings.Cut(ns, "/")
	pprefix := n.s.Keys.PartitionedTopics("persistent", t, nsLocal)
	vals, _, err = n.s.List(ctx, pprefix)
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		var m PartitionedTopicMetadata
		if json.Unmarshal(v.Data, &m) != nil {
			continue
		}
		base := topic.Name{Domain: topic.Persistent, Tenant: t, Namespace: nsLocal, Local: strings.TrimPrefix(v.Key, pprefix)}
		for i := 0; i < m.Partitions; i++ {
			add(base.Partition(i).String())
		}
	}
	return out, nil
}

// ListNamespaces returns the namespaces of tenant ("tenant/ns"); ErrNotFound if the
// tenant does not exist.
func (n *Namespaces) ListNamespaces(ctx context.Context, tenant string) ([]string, error) {
	if _, err := n.Tenant(ctx, tenant); err != nil {
		return nil, err
	}
	prefix := n.s.Keys.TenantNamespaces(tenant)
	vals, _, err := n.s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		local := strings.TrimPrefix(v.Key, prefix)
		if !strings.Contains(local, "/") {
			out = append(out, tenant+"/"+local)
		}
	}
	return out, nil
}

// UpdatePolicies applies change to a namespace's policies with a compare-and-swap,
// retrying when the record changed meanwhile. An error from change leaves the record
// as it was.
func (n *Namespaces) UpdatePolicies(ctx context.Context, ns string, change func(*Policies) error) error {
	for {
		v, err := n.s.Get(ctx, n.nsKey(ns))
		if errors.Is(err, metadata.ErrNotFound) {
			return fmt.Errorf("%w: namespace %s", ErrNotFound, ns)
		}
		if err != nil {
			return err
		}
		var p Policies
		if err := json.Unmarshal(v.Data, &p); err != nil {
			return fmt.Errorf("service: namespace %s: bad record: %w", ns, err)
		}
		if err := change(&p); err != nil {
			return err
		}
		b, _ := json.Marshal(p)
		_, err = n.s.CAS(ctx, n.nsKey(ns), b, v.ModRevision)
		if errors.Is(err, metadata.ErrRevisionMismatch) {
			continue
		}
		return err
	}
}

// DeleteNamespaceRecord removes a namespace's record, its partitioned-topic records and
// its topics' topic-level policies.
func (n *Namespaces) DeleteNamespaceRecord(ctx context.Context, ns string) error {
	t, local, _ := strings.Cut(ns, "/")
	if err := n.s.DeletePrefix(ctx, n.s.Keys.NamespaceTopicPolicies("persistent", t, local)); err != nil {
		return err
	}
	if err := n.s.DeletePrefix(ctx, n.s.Keys.PartitionedTopics("persistent", t, local)); err != nil {
		return err
	}
	return n.s.Delete(ctx, n.nsKey(ns), -1)
}

// PoliciesWithRevision returns a namespace's policies and the record's revision.
func (n *Namespaces) PoliciesWithRevision(ctx context.Context, ns string) (Policies, int64, error) {
	v, err := n.s.Get(ctx, n.nsKey(ns))
	if err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return Policies{}, 0, fmt.Errorf("%w: namespace %s", ErrNotFound, ns)
		}
		return Policies{}, 0, err
	}
	var p Policies
	if err := json.Unmarshal(v.Data, &p); err != nil {
		return Policies{}, 0, fmt.Errorf("service: namespace %s: bad record: %w", ns, err)
	}
	return p, v.ModRevision, nil
}
