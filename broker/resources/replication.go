package resources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-io/strata/broker/topic"
)

// Replication configuration: which clusters a namespace (or a topic) lives in. The
// lists nest (geo-and-tiered A1, "target resolution"): a tenant's allowed clusters
// (empty: every cluster) ⊇ a namespace's allowed clusters (unset: its replication
// clusters) ⊇ the namespace's replication clusters (unset: the local cluster) and a
// topic's. Every name must be a registered cluster. The setters check the whole chain
// and refuse, with Pulsar's statuses (errcode): an empty list, "global" or a malformed
// name (ErrInvalidCluster, 412); an unknown cluster or one outside the enclosing list
// (ErrClusterNotAllowed, 403); allowed clusters that leave out a replication cluster
// (ErrAllowedClustersTooNarrow, 400). A refused request changes nothing.
//
// Replication itself does not run yet (broker/replication holds its decisions): the
// lists are stored, checked and served.

var (
	// ErrClusterNotAllowed: a cluster list names an unknown cluster, or one the tenant
	// or the namespace does not allow.
	ErrClusterNotAllowed = errors.New("resources: cluster not allowed")
	// ErrAllowedClustersTooNarrow: a namespace's allowed clusters must contain all its
	// replication clusters.
	ErrAllowedClustersTooNarrow = errors.New("resources: the allowed clusters must contain every replication cluster")
)

// EffectiveReplicationClusters is the clusters the namespace (or, with a topic's
// overrides applied, the topic) lives in: the record's list, else the local cluster.
func (p Policies) EffectiveReplicationClusters(local string) []string {
	if len(p.ReplicationClusters) > 0 {
		return slices.Clone(p.ReplicationClusters)
	}
	return []string{local}
}

// EffectiveAllowedClusters is the clusters the namespace may be placed in: the record's
// allowed clusters, else its replication clusters.
func (p Policies) EffectiveAllowedClusters(local string) []string {
	if len(p.AllowedClusters) > 0 {
		return slices.Clone(p.AllowedClusters)
	}
	return p.EffectiveReplicationClusters(local)
}

// checkList validates a cluster list and returns it without duplicates, in order.
func (c *Clusters) checkList(ctx context.Context, list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: ClusterIds should not be null or empty", ErrInvalidCluster)
	}
	var out []string
	for _, name := range list {
		if name == GlobalCluster {
			return nil, fmt.Errorf("%w: the cluster list cannot contain %q", ErrInvalidCluster, GlobalCluster)
		}
		if err := ValidateClusterName(name); err != nil {
			return nil, err
		}
		ok, err := c.Exists(ctx, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: Invalid cluster id: %s", ErrClusterNotAllowed, name)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// checkTenantAllows: every cluster is in the tenant's allowed clusters (empty: all).
func (n *Namespaces) checkTenantAllows(ctx context.Context, tenant string, list []string) error {
	info, err := n.Tenant(ctx, tenant)
	if err != nil {
		return err
	}
	if len(info.AllowedClusters) == 0 {
		return nil
	}
	for _, c := range list {
		if !slices.Contains(info.AllowedClusters, c) {
			return fmt.Errorf("%w: Cluster [%s] is not in the list of allowed clusters list for tenant [%s]", ErrClusterNotAllowed, c, tenant)
		}
	}
	return nil
}

// checkWithin: every cluster of list is in allowed.
func checkWithin(list, allowed []string, what string) error {
	for _, c := range list {
		if !slices.Contains(allowed, c) {
			return fmt.Errorf("%w: Cluster [%s] is not in the list of allowed clusters list for %s", ErrClusterNotAllowed, c, what)
		}
	}
	return nil
}

// CheckNamespaceClusters checks the cluster lists of a namespace about to be created
// with policies p (its lists, or the local cluster when unset) against the registry and
// the tenant, and removes duplicates from them.
func (n *Namespaces) CheckNamespaceClusters(ctx context.Context, ns string, p *Policies, local string) error {
	c := n.Clusters()
	var err error
	if len(p.ReplicationClusters) > 0 {
		if p.ReplicationClusters, err = c.checkList(ctx, p.ReplicationClusters); err != nil {
			return err
		}
	}
	if len(p.AllowedClusters) > 0 {
		if p.AllowedClusters, err = c.checkList(ctx, p.AllowedClusters); err != nil {
			return err
		}
		for _, r := range p.EffectiveReplicationClusters(local) {
			if !slices.Contains(p.AllowedClusters, r) {
				return fmt.Errorf("%w: %s is a replication cluster", ErrAllowedClustersTooNarrow, r)
			}
		}
	}
	tenant, _, _ := strings.Cut(ns, "/")
	return n.checkTenantAllows(ctx, tenant, p.EffectiveAllowedClusters(local))
}

// SetReplicationClusters sets a namespace's replication clusters.
func (n *Namespaces) SetReplicationClusters(ctx context.Context, ns string, clusters []string) error {
	list, err := n.Clusters().checkList(ctx, clusters)
	if err != nil {
		return err
	}
	tenant, _, _ := strings.Cut(ns, "/")
	if _, err := n.Policies(ctx, ns); err != nil {
		return err // a missing namespace is 404 before the tenant's lists are looked at
	}
	if err := n.checkTenantAllows(ctx, tenant, list); err != nil {
		return err
	}
	return n.UpdatePolicies(ctx, ns, func(p *Policies) error {
		if len(p.AllowedClusters) > 0 {
			if err := checkWithin(list, p.AllowedClusters, "namespace ["+ns+"]"); err != nil {
				return err
			}
		}
		p.ReplicationClusters = list
		return nil
	})
}

// SetAllowedClusters sets a namespace's allowed clusters (PIP-321); they must contain
// its replication clusters.
func (n *Namespaces) SetAllowedClusters(ctx context.Context, ns string, clusters []string, local string) error {
	list, err := n.Clusters().checkList(ctx, clusters)
	if err != nil {
		return err
	}
	tenant, _, _ := strings.Cut(ns, "/")
	if _, err := n.Policies(ctx, ns); err != nil {
		return err
	}
	if err := n.checkTenantAllows(ctx, tenant, list); err != nil {
		return err
	}
	return n.UpdatePolicies(ctx, ns, func(p *Policies) error {
		for _, r := range p.EffectiveReplicationClusters(local) {
			if !slices.Contains(list, r) {
				return fmt.Errorf("%w: %s is a replication cluster of namespace %s", ErrAllowedClustersTooNarrow, r, ns)
			}
		}
		p.AllowedClusters = list
		return nil
	})
}

// SetTopicReplicationClusters sets a topic's replication clusters (a topic-level
// override). The list must keep the local cluster (removing it would, in Pulsar,
// delete the topic here, #24351) and stay within the namespace's allowed clusters.
func (n *Namespaces) SetTopicReplicationClusters(ctx context.Context, name topic.Name, clusters []string, local string) error {
	list, err := n.Clusters().checkList(ctx, clusters)
	if err != nil {
		return err
	}
	if !slices.Contains(list, local) {
		return fmt.Errorf("%w: a topic's replication clusters must include the local cluster %s", ErrInvalidCluster, local)
	}
	p, err := n.Policies(ctx, name.NamespaceName())
	if err != nil {
		return err
	}
	if err := n.checkTenantAllows(ctx, name.Tenant, list); err != nil {
		return err
	}
	if err := checkWithin(list, p.EffectiveAllowedClusters(local), "namespace ["+name.NamespaceName()+"]"); err != nil {
		return err
	}
	return n.UpdateTopicPolicies(ctx, name, func(tp *TopicPolicies) error {
		tp.ReplicationClusters = list
		return nil
	})
}

// RemoveTopicReplicationClusters removes a topic's replication-clusters override.
func (n *Namespaces) RemoveTopicReplicationClusters(ctx context.Context, name topic.Name) error {
	return n.UpdateTopicPolicies(ctx, name, func(tp *TopicPolicies) error {
		tp.ReplicationClusters = nil
		return nil
	})
}

// CheckTenantClusters checks a tenant record's allowed clusters: each must be a
// registered cluster (ErrInvalidCluster otherwise, Pulsar's 412), and, for an existing
// tenant, none of its namespaces may use a cluster the new list leaves out
// (ErrClusterInUse).
func (n *Namespaces) CheckTenantClusters(ctx context.Context, tenant string, info TenantInfo, local string) error {
	c := n.Clusters()
	for _, name := range info.AllowedClusters {
		if err := ValidateClusterName(name); err != nil {
			return err
		}
		ok, err := c.Exists(ctx, name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: cluster %s does not exist", ErrInvalidCluster, name)
		}
	}
	if len(info.AllowedClusters) == 0 {
		return nil
	}
	nss, err := n.ListNamespaces(ctx, tenant)
	if errors.Is(err, ErrNotFound) {
		return nil // a tenant being created
	}
	if err != nil {
		return err
	}
	for _, ns := range nss {
		p, err := n.Policies(ctx, ns)
		if err != nil {
			return err
		}
		for _, used := range p.EffectiveAllowedClusters(local) {
			if !slices.Contains(info.AllowedClusters, used) {
				return fmt.Errorf("%w: cluster %s is used by namespace %s", ErrClusterInUse, used, ns)
			}
		}
	}
	return nil
}
