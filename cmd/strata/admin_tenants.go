package main

// `strata admin clusters` and `strata admin tenants`.

import (
	"context"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/spf13/cobra"
)

func clustersCommand(env *adminEnv) *cobra.Command {
	cmd := groupCommand("clusters", "Register, list, show, update and delete clusters", "")
	cmd.AddCommand(
		env.verb("list", "List the cluster names", "  strata admin clusters list", nil,
			func(ctx context.Context, env *adminEnv, _ []string) error {
				names, err := env.client.Clusters().ListWithContext(ctx)
				if err != nil {
					return err
				}
				return env.printList(names)
			}),
		env.verb("get", "Show a cluster's service URLs", "  strata admin clusters get standalone", []string{"CLUSTER"},
			func(ctx context.Context, env *adminEnv, args []string) error {
				data, err := env.client.Clusters().GetWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printValue(data)
			}),
	)
	cmd.AddCommand(clusterVerbs(env)...)
	return cmd
}

func tenantsCommand(env *adminEnv) *cobra.Command {
	cmd := groupCommand("tenants", "Create, list, show, update and delete tenants", "")

	// create and update share pulsar-admin's flags.
	tenantVerb := func(use, short, example string, update bool) *cobra.Command {
		var roles, clusters []string
		c := env.verb(use, short, example, []string{"TENANT"},
			func(ctx context.Context, env *adminEnv, args []string) error {
				data := utils.TenantData{Name: args[0], AdminRoles: roles, AllowedClusters: clusters}
				if data.AdminRoles == nil {
					data.AdminRoles = []string{}
				}
				if data.AllowedClusters == nil {
					data.AllowedClusters = []string{}
				}
				if update {
					if err := env.client.Tenants().UpdateWithContext(ctx, data); err != nil {
						return err
					}
					return env.printDone("Updated tenant %s", args[0])
				}
				if err := env.client.Tenants().CreateWithContext(ctx, data); err != nil {
					return err
				}
				return env.printDone("Created tenant %s", args[0])
			})
		c.Flags().StringSliceVarP(&roles, "admin-roles", "r", nil, "comma-separated admin roles")
		c.Flags().StringSliceVarP(&clusters, "allowed-clusters", "c", nil, "comma-separated clusters the tenant may use")
		return c
	}

	cmd.AddCommand(
		env.verb("list", "List the tenants", "  strata admin tenants list", nil,
			func(ctx context.Context, env *adminEnv, _ []string) error {
				names, err := env.client.Tenants().ListWithContext(ctx)
				if err != nil {
					return err
				}
				return env.printList(names)
			}),
		env.verb("get", "Show a tenant's admin roles and allowed clusters", "  strata admin tenants get my-tenant", []string{"TENANT"},
			func(ctx context.Context, env *adminEnv, args []string) error {
				data, err := env.client.Tenants().GetWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printValue(data)
			}),
		tenantVerb("create", "Create a tenant",
			"  strata admin tenants create my-tenant --admin-roles admin --allowed-clusters standalone", false),
		tenantVerb("update", "Replace a tenant's admin roles and allowed clusters",
			"  strata admin tenants update my-tenant --admin-roles admin,ops --allowed-clusters standalone", true),
		env.verb("delete", "Delete a tenant (it must have no namespaces)", "  strata admin tenants delete my-tenant", []string{"TENANT"},
			func(ctx context.Context, env *adminEnv, args []string) error {
				if err := env.client.Tenants().DeleteWithContext(ctx, args[0]); err != nil {
					return err
				}
				return env.printDone("Deleted tenant %s", args[0])
			}),
	)
	return cmd
}
