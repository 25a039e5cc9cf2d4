package main

// Bundle verbs of `strata admin namespaces` and the load verb of `strata admin brokers`
// (cluster mode: see docs/operations.md).

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// bundleVerbs are `namespaces bundles|unload|unload-bundle|split-bundle`.
func bundleVerbs(env *adminEnv) []*cobra.Command {
	nsBundle := []string{"TENANT/NAMESPACE", "BUNDLE"}
	return []*cobra.Command{
		env.verb("bundles", "Show a namespace's bundles (hash-range boundaries)",
			"  strata admin namespaces bundles public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				n, err := namespaceName(args[0])
				if err != nil {
					return err
				}
				var bs struct {
					Boundaries []string `json:"boundaries"`
					NumBundles int      `json:"numBundles"`
				}
				if err := env.rest.GetWithContext(ctx, "/admin/v2/namespaces/"+n.String()+"/bundles", &bs); err != nil {
					return err
				}
				if env.output == "json" {
					return env.printJSON(bs)
				}
				var ranges []string
				for i := 0; i+1 < len(bs.Boundaries); i++ {
					ranges = append(ranges, bs.Boundaries[i]+"_"+bs.Boundaries[i+1])
				}
				return env.printList(ranges)
			}),
		env.verb("unload", "Unload every bundle of a namespace: its topics move through lookup",
			"  strata admin namespaces unload public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				if err := env.client.Namespaces().UnloadWithContext(ctx, args[0]); err != nil {
					return err
				}
				return env.printDone("Unloaded namespace %s", args[0])
			}),
		env.verb("unload-bundle", "Unload one bundle: its owner gives it up and its topics move",
			"  strata admin namespaces unload-bundle public/default 0x00000000_0x40000000", nsBundle,
			func(ctx context.Context, env *adminEnv, args []string) error {
				if err := env.client.Namespaces().UnloadNamespaceBundleWithContext(ctx, args[0], args[1]); err != nil {
					return err
				}
				return env.printDone("Unloaded bundle %s/%s", args[0], args[1])
			}),
		env.verb("split-bundle", "Split a bundle in two at its midpoint",
			"  strata admin namespaces split-bundle public/default 0x00000000_0x40000000", nsBundle,
			func(ctx context.Context, env *adminEnv, args []string) error {
				if err := env.client.Namespaces().SplitNamespaceBundleWithContext(ctx, args[0], args[1], true); err != nil {
					return err
				}
				return env.printDone("Split bundle %s/%s", args[0], args[1])
			}),
	}
}

// brokerLoad is one row of GET /admin/v2/broker-stats/brokers.
type brokerLoad struct {
	ID         string  `json:"brokerId"`
	PulsarURL  string  `json:"pulsarUrl"`
	HTTPURL    string  `json:"httpUrl"`
	Bundles    int     `json:"bundles"`
	Topics     int     `json:"topics"`
	Producers  int     `json:"producers"`
	Consumers  int     `json:"consumers"`
	MsgRateIn  float64 `json:"msgRateIn"`
	MsgRateOut float64 `json:"msgRateOut"`
}

// brokersLoadVerb is `brokers load`: every live broker with its load.
func brokersLoadVerb(env *adminEnv) *cobra.Command {
	return env.verb("load", "Show every live broker's load (bundles, topics, clients, rates)",
		"  strata admin brokers load", nil,
		func(ctx context.Context, env *adminEnv, _ []string) error {
			var rows []brokerLoad
			if err := env.rest.GetWithContext(ctx, "/admin/v2/broker-stats/brokers", &rows); err != nil {
				return err
			}
			if env.output == "json" {
				return env.printJSON(rows)
			}
			tw := tabwriter.NewWriter(env.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BROKER\tBUNDLES\tTOPICS\tPRODUCERS\tCONSUMERS\tMSG/S IN\tMSG/S OUT")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t%.1f\n", r.ID, r.Bundles, r.Topics, r.Producers, r.Consumers, r.MsgRateIn, r.MsgRateOut)
			}
			return tw.Flush()
		})
}
