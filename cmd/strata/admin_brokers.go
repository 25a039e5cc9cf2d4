package main

// `strata admin brokers` and `strata admin bookies`.

import (
	"context"
	"github.com/spf13/cobra"
)

func brokersCommand(env *adminEnv) *cobra.Command {
	cmd := groupCommand("brokers", "Check and list brokers", "")
	cmd.AddCommand(
		env.verb("healthcheck", "Check that the broker serves (exit status 0 when healthy)",
			"  strata admin brokers healthcheck", nil,
			func(ctx context.Context, env *adminEnv, _ []string) error {
				if err := env.client.Brokers().HealthCheckWithContext(ctx); err != nil {
					return err
				}
				return env.printDone("ok")
			}),
		env.verb("list", "List the active brokers (of a cluster, when given)",
			"  strata admin brokers list\n  strata admin brokers list standalone", []string{"[CLUSTER]"},
			func(ctx context.Context, env *adminEnv, args []string) error {
				var names []string
				var err error
				if len(args) == 1 {
					names, err = env.client.Brokers().GetActiveBrokersWithContext(ctx, args[0])
				} else {
					names, err = env.client.Brokers().GetListActiveBrokersWithContext(ctx)
				}
				if err != nil {
					return err
				}
				return env.printList(names)
			}),
	)
	cmd.AddCommand(brokersLoadVerb(env))
	return cmd
}

// bookieInfo is one entry of Pulsar's GET /admin/v2/bookies/all.
type bookieInfo struct {
	BookieID string `json:"bookieId"`
	ReadOnly bool   `json:"readOnly"` // Strata's addition
	Draining bool   `json:"draining"` // Strata's addition: being decommissioned
}

func bookiesCommand(env *adminEnv) *cobra.Command {
	cmd := groupCommand("bookies", "List bookies, find under-replicated ledgers, decommission a bookie", "")
	list := env.verb("list-bookies", "List the bookies the broker knows (GET /admin/v2/bookies/all)",
		"  strata admin bookies list-bookies", nil,
		func(ctx context.Context, env *adminEnv, _ []string) error {
			// pulsaradmin has no bookies API; this is the path pulsar-admin's
			// `bookies list-bookies` calls.
			var all struct {
				Bookies []bookieInfo `json:"bookies"`
			}
			// A broker without it answers a plain 404, which explain reports as "not
			// served by this broker".
			if err := env.rest.GetWithContext(ctx, "/admin/v2/bookies/all", &all); err != nil {
				return err
			}
			if env.output == "json" {
				return env.printJSON(all.Bookies)
			}
			ids := make([]string, len(all.Bookies))
			for i, b := range all.Bookies {
				ids[i] = b.BookieID
			}
			return env.printList(ids)
		})
	list.Aliases = []string{"list"}
	cmd.AddCommand(list, underReplicatedVerb(env), decommissionVerb(env), cancelDecommissionVerb(env))
	return cmd
}
