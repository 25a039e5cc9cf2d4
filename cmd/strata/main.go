// Command strata is the one binary of Strata: every server role and every client tool
// is a subcommand (bookie, broker, standalone, admin, client, perf).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "strata",
		Short:         "Strata: a Pulsar-compatible streaming platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "strata:", err)
		os.Exit(1)
	}
}

// subcommands is filled by each subcommand's file (bookie.go, standalone.go, ...) in an
// init function, so that adding a role touches only its own file.
var subcommands []func() *cobra.Command
