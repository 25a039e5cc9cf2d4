package main

// `strata admin clusters` create, update, delete and peer clusters (list and get are in
// admin_tenants.go). The flags are pulsar-admin's, except the cluster's own
// authentication, which is --cluster-auth-plugin / --cluster-auth-parameters here:
// `strata admin` already has --auth-plugin / --auth-params for its own connection, and
// cobra would let a verb's flag hide them.

import (
	"context"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// clusterFlags are the ClusterData flags of `clusters create` and `clusters update`.
type clusterFlags struct {
	url, urlSecure, brokerURL, brokerURLSecure string
	authPlugin, authParameters                 string
	tlsEnable                                  bool
	tlsTrustCerts                              string
	peers                                      []string
}

func addClusterFlags(f *pflag.FlagSet, c *clusterFlags) {
	f.StringVar(&c.url, "url", "", "the cluster's HTTP service URL (http://host:8080)")
	f.StringVar(&c.urlSecure, "url-secure", "", "the cluster's HTTPS service URL")
	f.StringVar(&c.brokerURL, "broker-url", "", "the cluster's Pulsar service URL (pulsar://host:6650)")
	f.StringVar(&c.brokerURLSecure, "broker-url-secure", "", "the cluster's TLS Pulsar service URL (pulsar+ssl://host:6651)")
	f.StringVar(&c.authPlugin, "cluster-auth-plugin", "", "authentication plugin brokers use to reach the cluster")
	f.StringVar(&c.authParameters, "cluster-auth-parameters", "", "its parameters")
	f.BoolVar(&c.tlsEnable, "tls-enable", false, "brokers reach the cluster over TLS")
	f.StringVar(&c.tlsTrustCerts, "tls-trust-certs-filepath", "", "CA certificates for TLS to the cluster")
	f.StringSliceVarP(&c.peers, "peer-clusters", "p", nil, "comma-separated peer clusters")
}

// data is the ClusterData the flags describe: every field, as pulsar-admin sends it
// (the name travels in the path).
func (c clusterFlags) data(name string) utils.ClusterData {
	peers := c.peers
	if peers == nil {
		peers = []string{}
	}
	return utils.ClusterData{
		Name: name, ServiceURL: c.url, ServiceURLTls: c.urlSecure,
		BrokerServiceURL: c.brokerURL, BrokerServiceURLTls: c.brokerURLSecure,
		PeerClusterNames:     peers,
		AuthenticationPlugin: c.authPlugin, AuthenticationParameters: c.authParameters,
		BrokerClientTLSEnabled: c.tlsEnable, BrokerClientTrustCertsFilePath: c.tlsTrustCerts,
	}
}

func clusterVerbs(env *adminEnv) []*cobra.Command {
	clusterArg := []string{"CLUSTER"}
	dataVerb := func(use, short, example string, update bool) *cobra.Command {
		var f clusterFlags
		c := env.verb(use, short, example, clusterArg, func(ctx context.Context, env *adminEnv, args []string) error {
			if update {
				if err := env.client.Clusters().UpdateWithContext(ctx, f.data(args[0])); err != nil {
					return err
				}
				return env.printDone("Updated cluster %s", args[0])
			}
			if err := env.client.Clusters().CreateWithContext(ctx, f.data(args[0])); err != nil {
				return err
			}
			return env.printDone("Created cluster %s", args[0])
		})
		addClusterFlags(c.Flags(), &f)
		return c
	}
	var peers []string
	updatePeers := env.verb("update-peer-clusters", "Replace a cluster's peer clusters",
		"  strata admin clusters update-peer-clusters west --peer-clusters east,south", clusterArg,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if err := env.client.Clusters().UpdatePeerClustersWithContext(ctx, args[0], peers); err != nil {
				return err
			}
			return env.printDone("Updated the peer clusters of %s", args[0])
		})
	updatePeers.Flags().StringSliceVarP(&peers, "peer-clusters", "p", nil, "comma-separated peer clusters (none: clear them)")
	return []*cobra.Command{
		dataVerb("create", "Register a cluster (this one or a remote one to replicate to)",
			"  strata admin clusters create west --url http://west:8080 --broker-url pulsar://west:6650", false),
		dataVerb("update", "Replace a cluster's service URLs and settings",
			"  strata admin clusters update west --url http://west2:8080 --broker-url pulsar://west2:6650", true),
		env.verb("delete", "Delete a cluster (no tenant, namespace, topic or peer may name it)",
			"  strata admin clusters delete west", clusterArg,
			func(ctx context.Context, env *adminEnv, args []string) error {
				if err := env.client.Clusters().DeleteWithContext(ctx, args[0]); err != nil {
					return err
				}
				return env.printDone("Deleted cluster %s", args[0])
			}),
		env.verb("get-peer-clusters", "List a cluster's peer clusters", "  strata admin clusters get-peer-clusters west", clusterArg,
			func(ctx context.Context, env *adminEnv, args []string) error {
				names, err := env.client.Clusters().GetPeerClustersWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printList(names)
			}),
		updatePeers,
	}
}
