package main

// Replication configuration verbs: `namespaces set-clusters / get-clusters /
// set-allowed-clusters / get-allowed-clusters` and `topics set-replication-clusters /
// get-replication-clusters / remove-replication-clusters`, as pulsar-admin names them.
// pulsaradmin v0.19.0 has no call for a namespace's allowed clusters (PIP-321), so those
// two speak the REST path directly.

import (
	"context"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/spf13/cobra"
)

// allowedClustersPath is a namespace's PIP-321 allowed-clusters endpoint.
func allowedClustersPath(n utils.NameSpaceName) string {
	return "/admin/v2/namespaces/" + n.String() + "/allowedClusters"
}

func namespaceReplicationVerbs(env *adminEnv) []*cobra.Command {
	var clusters, allowed []string
	set := env.verb("set-clusters", "Set the clusters a namespace is replicated to (it must list at least one)",
		"  strata admin namespaces set-clusters my-tenant/my-ns --clusters west,east", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if _, err := namespaceName(args[0]); err != nil {
				return err
			}
			if err := env.client.Namespaces().SetNamespaceReplicationClustersWithContext(ctx, args[0], clusters); err != nil {
				return err
			}
			return env.printDone("Set the replication clusters of %s", args[0])
		})
	set.Flags().StringSliceVarP(&clusters, "clusters", "c", nil, "comma-separated cluster names")
	requireFlag(set, "clusters")
	setAllowed := env.verb("set-allowed-clusters", "Set the clusters a namespace may be placed in (PIP-321)",
		"  strata admin namespaces set-allowed-clusters my-tenant/my-ns --clusters west,east,south", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			n, err := namespaceName(args[0])
			if err != nil {
				return err
			}
			if err := env.rest.PostWithContext(ctx, allowedClustersPath(n), allowed); err != nil {
				return err
			}
			return env.printDone("Set the allowed clusters of %s", args[0])
		})
	setAllowed.Flags().StringSliceVarP(&allowed, "clusters", "c", nil, "comma-separated cluster names")
	requireFlag(setAllowed, "clusters")
	return []*cobra.Command{
		set,
		env.verb("get-clusters", "List the clusters a namespace is replicated to", "  strata admin namespaces get-clusters my-tenant/my-ns", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				if _, err := namespaceName(args[0]); err != nil {
					return err
				}
				names, err := env.client.Namespaces().GetNamespaceReplicationClustersWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printList(names)
			}),
		setAllowed,
		env.verb("get-allowed-clusters", "List the clusters a namespace may be placed in", "  strata admin namespaces get-allowed-clusters my-tenant/my-ns", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				n, err := namespaceName(args[0])
				if err != nil {
					return err
				}
				var names []string
				if err := env.rest.GetWithContext(ctx, allowedClustersPath(n), &names); err != nil {
					return err
				}
				return env.printList(names)
			}),
	}
}

func topicReplicationVerbs(env *adminEnv) []*cobra.Command {
	var clusters []string
	set := env.topicVerb("set-replication-clusters", "Override the clusters a topic is replicated to (the local one included)",
		"  strata admin topics set-replication-clusters persistent://my-tenant/my-ns/t --clusters standalone,west",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			if err := env.client.Topics().SetReplicationClustersWithContext(ctx, t, clusters); err != nil {
				return err
			}
			return env.printDone("Set the replication clusters of %s", t.String())
		})
	set.Flags().StringSliceVarP(&clusters, "clusters", "c", nil, "comma-separated cluster names")
	requireFlag(set, "clusters")
	var applied bool
	get := env.topicVerb("get-replication-clusters", "Show a topic's replication-clusters override (--applied: the clusters it lives in)",
		"  strata admin topics get-replication-clusters persistent://my-tenant/my-ns/t --applied",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			var names []string
			if applied {
				path := "/admin/v2/" + t.GetRestPath() + "/replication"
				if _, err := env.rest.GetWithQueryParamsWithContext(ctx, path, &names, map[string]string{"applied": "true"}, true); err != nil {
					return err
				}
			} else {
				var err error
				if names, err = env.client.Topics().GetReplicationClustersWithContext(ctx, t); err != nil {
					return err
				}
			}
			return env.printList(names)
		})
	get.Flags().BoolVar(&applied, "applied", false, "show the clusters in effect (the override, else the namespace's)")
	return []*cobra.Command{
		set, get,
		env.topicVerb("remove-replication-clusters", "Remove a topic's replication-clusters override",
			"  strata admin topics remove-replication-clusters persistent://my-tenant/my-ns/t",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				if err := env.client.Topics().RemoveReplicationClustersWithContext(ctx, t); err != nil {
					return err
				}
				return env.printDone("Removed the replication-clusters override of %s", t.String())
			}),
	}
}
