package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/strata-io/strata/broker/resources"
)

// addClusterNameFlag adds --cluster-name, the deployment's cluster name (Pulsar's
// clusterName): the name its brokers register at first start, that tenants, namespaces
// and replication lists refer to, and the metrics' cluster label. --cluster, the older
// spelling of `strata broker`, stays as a hidden alias.
func addClusterNameFlag(f *pflag.FlagSet, name *string) {
	f.StringVar(name, "cluster-name", "standalone", "this cluster's name (letters, digits, '-', '_')")
	f.StringVar(name, "cluster", "standalone", "alias of --cluster-name")
	if err := f.MarkHidden("cluster"); err != nil {
		panic(err)
	}
}

// checkClusterName refuses a name replication could not use (a "." would break the
// replicator cursor's name) before anything starts.
func checkClusterName(name string) error {
	if err := resources.ValidateClusterName(name); err != nil {
		return fmt.Errorf("--cluster-name: %w", err)
	}
	return nil
}
