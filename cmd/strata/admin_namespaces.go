package main

// `strata admin namespaces`: create, list, delete, and the policies the broker enforces
// (retention, message TTL, backlog quota, deduplication, producer/consumer limits,
// persistence, auto topic creation; offload thresholds and policies in admin_offload.go).

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/spf13/cobra"
)

var ns = []string{"TENANT/NAMESPACE"}

func namespaceName(s string) (utils.NameSpaceName, error) {
	n, err := utils.GetNamespaceName(s)
	if err != nil {
		return utils.NameSpaceName{}, fmt.Errorf("invalid namespace %q: want TENANT/NAMESPACE", s)
	}
	return *n, nil
}

func namespacesCommand(env *adminEnv) *cobra.Command {
	cmd := groupCommand("namespaces", "Create, list and delete namespaces and set their policies", "")
	cmd.AddCommand(
		env.verb("list", "List a tenant's namespaces", "  strata admin namespaces list public", []string{"TENANT"},
			func(ctx context.Context, env *adminEnv, args []string) error {
				names, err := env.client.Namespaces().GetNamespacesWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printList(names)
			}),
		env.verb("topics", "List a namespace's topics", "  strata admin namespaces topics public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				names, err := env.client.Namespaces().GetTopicsWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printList(names)
			}),
		env.verb("create", "Create a namespace", "  strata admin namespaces create my-tenant/my-ns", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				if err := env.client.Namespaces().CreateNamespaceWithContext(ctx, args[0]); err != nil {
					return err
				}
				return env.printDone("Created namespace %s", args[0])
			}),
		env.verb("delete", "Delete a namespace (it must have no topics)", "  strata admin namespaces delete my-tenant/my-ns", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				if err := env.client.Namespaces().DeleteNamespaceWithContext(ctx, args[0]); err != nil {
					return err
				}
				return env.printDone("Deleted namespace %s", args[0])
			}),
		env.verb("policies", "Show all of a namespace's policies (JSON)", "  strata admin namespaces policies public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				p, err := env.client.Namespaces().GetPoliciesWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printJSON(p)
			}),
		setRetentionCommand(env),
	)
	cmd.AddCommand(bundleVerbs(env)...)
	cmd.AddCommand(
		env.verb("get-retention", "Show a namespace's retention", "  strata admin namespaces get-retention public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				p, err := env.client.Namespaces().GetRetentionWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printValue(p)
			}),
		setMessageTTLCommand(env),
		env.verb("get-message-ttl", "Show a namespace's message TTL in seconds", "  strata admin namespaces get-message-ttl public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				ttl, err := env.client.Namespaces().GetNamespaceMessageTTLWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printValue(map[string]int{"messageTTL": ttl})
			}),
		setBacklogQuotaCommand(env),
		env.verb("get-backlog-quotas", "Show a namespace's backlog quotas", "  strata admin namespaces get-backlog-quotas public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				q, err := env.client.Namespaces().GetBacklogQuotaMapWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printJSON(q)
			}),
		setDeduplicationCommand(env),
		setMaxPerTopicCommand(env, "producers", "p"),
		setMaxPerTopicCommand(env, "consumers", "c"),
		setPersistenceCommand(env),
		env.verb("get-persistence", "Show a namespace's persistence policy", "  strata admin namespaces get-persistence public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				p, err := env.client.Namespaces().GetPersistenceWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printValue(p)
			}),
		setAutoTopicCreationCommand(env),
	)
	cmd.AddCommand(namespaceOffloadVerbs(env)...)
	cmd.AddCommand(namespaceReplicationVerbs(env)...)
	return cmd
}

func setRetentionCommand(env *adminEnv) *cobra.Command {
	var size, tm string
	c := env.verb("set-retention", "Keep consumed messages up to a size and/or age",
		"  strata admin namespaces set-retention public/default --size 10G --time 3d", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			bytes, err := parseSize(size)
			if err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			secs, err := parseRelativeSeconds(tm)
			if err != nil {
				return fmt.Errorf("--time: %w", err)
			}
			p := utils.RetentionPolicies{RetentionSizeInMB: -1, RetentionTimeInMinutes: -1}
			if bytes >= 0 {
				p.RetentionSizeInMB = bytes >> 20
			}
			if secs >= 0 {
				p.RetentionTimeInMinutes = int(secs / 60)
			}
			if err := env.client.Namespaces().SetRetentionWithContext(ctx, args[0], p); err != nil {
				return err
			}
			return env.printDone("Set retention of %s: size %s, time %s", args[0], size, tm)
		})
	c.Flags().StringVarP(&size, "size", "s", "", "retention size: 10M, 16G, 3T, or -1 for unlimited, 0 for none")
	c.Flags().StringVarP(&tm, "time", "t", "", "retention time: 100m, 3h, 2d, 5w (seconds without a unit), or -1 for unlimited, 0 for none")
	requireFlag(c, "size")
	requireFlag(c, "time")
	return c
}

func setMessageTTLCommand(env *adminEnv) *cobra.Command {
	var ttl string
	c := env.verb("set-message-ttl", "Expire unacknowledged messages older than the TTL",
		"  strata admin namespaces set-message-ttl public/default --messageTTL 3600", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			secs, err := parseRelativeSeconds(ttl)
			if err != nil || secs < 0 {
				return fmt.Errorf("--messageTTL %q: want seconds or a time such as 1h (0 turns the TTL off)", ttl)
			}
			if err := env.client.Namespaces().SetNamespaceMessageTTLWithContext(ctx, args[0], int(secs)); err != nil {
				return err
			}
			return env.printDone("Set message TTL of %s to %d seconds", args[0], secs)
		})
	c.Flags().StringVar(&ttl, "messageTTL", "", "message TTL in seconds, or with a unit (1h); also --ttl")
	requireFlag(c, "messageTTL")
	return c
}

func setBacklogQuotaCommand(env *adminEnv) *cobra.Command {
	var limit, limitTime, policy, typ string
	c := env.verb("set-backlog-quota", "Limit a subscription backlog by size or age",
		"  strata admin namespaces set-backlog-quota public/default --limit 2G --policy producer_request_hold\n"+
			"  strata admin namespaces set-backlog-quota public/default --limitTime 3600 --policy consumer_backlog_eviction --type message_age", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			pol, err := utils.ParseRetentionPolicy(policy)
			if err != nil {
				return fmt.Errorf("--policy %q: want producer_request_hold, producer_exception or consumer_backlog_eviction", policy)
			}
			qt, err := utils.ParseBacklogQuotaType(typ)
			if err != nil {
				return fmt.Errorf("--type %q: want destination_storage or message_age", typ)
			}
			q := utils.BacklogQuota{Policy: pol, LimitSize: -1, LimitTime: -1}
			if limit != "" {
				if q.LimitSize, err = parseSize(limit); err != nil {
					return fmt.Errorf("--limit: %w", err)
				}
			}
			if limitTime != "" {
				if q.LimitTime, err = parseRelativeSeconds(limitTime); err != nil {
					return fmt.Errorf("--limitTime: %w", err)
				}
			}
			switch {
			case qt == utils.DestinationStorage && limit == "":
				return errors.New("--limit is required for --type destination_storage")
			case qt == utils.MessageAge && limitTime == "":
				return errors.New("--limitTime is required for --type message_age")
			}
			if err := env.client.Namespaces().SetBacklogQuotaWithContext(ctx, args[0], q, qt); err != nil {
				return err
			}
			return env.printDone("Set %s backlog quota of %s", qt, args[0])
		})
	f := c.Flags()
	f.StringVarP(&limit, "limit", "l", "", "backlog size limit: 10M, 16G (also --limit-size)")
	f.StringVar(&limitTime, "limitTime", "", "backlog age limit in seconds or with a unit (also --limit-time)")
	f.StringVarP(&policy, "policy", "p", "", "producer_request_hold, producer_exception or consumer_backlog_eviction")
	f.StringVarP(&typ, "type", "t", string(utils.DestinationStorage), "destination_storage or message_age")
	requireFlag(c, "policy")
	return c
}

func setDeduplicationCommand(env *adminEnv) *cobra.Command {
	var enable, disable bool
	c := env.verb("set-deduplication", "Turn message deduplication on or off",
		"  strata admin namespaces set-deduplication public/default --enable", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if enable == disable {
				return errors.New("give exactly one of --enable and --disable")
			}
			if err := env.client.Namespaces().SetDeduplicationStatusWithContext(ctx, args[0], enable); err != nil {
				return err
			}
			return env.printDone("Set deduplication of %s to %t", args[0], enable)
		})
	c.Flags().BoolVarP(&enable, "enable", "e", false, "enable deduplication")
	c.Flags().BoolVarP(&disable, "disable", "d", false, "disable deduplication")
	return c
}

// setMaxPerTopicCommand is set-max-producers-per-topic (-p) or
// set-max-consumers-per-topic (-c).
func setMaxPerTopicCommand(env *adminEnv, what, short string) *cobra.Command {
	var limit int
	flag := "max-" + what + "-per-topic"
	c := env.verb("set-"+flag, "Limit the "+what+" of each topic (0 = no limit)",
		fmt.Sprintf("  strata admin namespaces set-%s public/default -%s 10", flag, short), ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if limit < 0 {
				return fmt.Errorf("--%s must be 0 or more, got %d", flag, limit)
			}
			name, err := namespaceName(args[0])
			if err != nil {
				return err
			}
			nss := env.client.Namespaces()
			if what == "producers" {
				err = nss.SetMaxProducersPerTopicWithContext(ctx, name, limit)
			} else {
				err = nss.SetMaxConsumersPerTopicWithContext(ctx, name, limit)
			}
			if err != nil {
				return err
			}
			return env.printDone("Set max %s per topic of %s to %d", what, args[0], limit)
		})
	c.Flags().IntVarP(&limit, flag, short, 0, "the limit (0 = no limit)")
	requireFlag(c, flag)
	return c
}

func setPersistenceCommand(env *adminEnv) *cobra.Command {
	var e, w, a int
	var rate float64
	c := env.verb("set-persistence", "Set the ensemble, write quorum and ack quorum of new ledgers",
		"  strata admin namespaces set-persistence public/default -e 3 -w 3 -a 2", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if !(e >= w && w >= a && a >= 1) {
				return fmt.Errorf("need ensemble >= write quorum >= ack quorum >= 1, got -e %d -w %d -a %d", e, w, a)
			}
			p := utils.NewPersistencePolicies(e, w, a, rate)
			if err := env.client.Namespaces().SetPersistenceWithContext(ctx, args[0], p); err != nil {
				return err
			}
			return env.printDone("Set persistence of %s: ensemble %d, write quorum %d, ack quorum %d", args[0], e, w, a)
		})
	f := c.Flags()
	f.IntVarP(&e, "bookkeeper-ensemble", "e", 0, "number of bookies a ledger is striped over")
	f.IntVarP(&w, "bookkeeper-write-quorum", "w", 0, "copies written of each entry")
	f.IntVarP(&a, "bookkeeper-ack-quorum", "a", 0, "acknowledgements awaited for each entry")
	f.Float64VarP(&rate, "ml-mark-delete-max-rate", "r", 0, "throttle of mark-delete operations (0 = unthrottled)")
	requireFlag(c, "bookkeeper-ensemble")
	requireFlag(c, "bookkeeper-write-quorum")
	requireFlag(c, "bookkeeper-ack-quorum")
	return c
}

func setAutoTopicCreationCommand(env *adminEnv) *cobra.Command {
	var enable, disable bool
	var typ string
	var partitions int
	c := env.verb("set-auto-topic-creation", "Allow or forbid creating topics on first use",
		"  strata admin namespaces set-auto-topic-creation public/default --enable --type partitioned --num-partitions 4\n"+
			"  strata admin namespaces set-auto-topic-creation public/default --disable", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if enable == disable {
				return errors.New("give exactly one of --enable and --disable")
			}
			name, err := namespaceName(args[0])
			if err != nil {
				return err
			}
			cfg := utils.TopicAutoCreationConfig{Allow: enable}
			if enable {
				t, err := utils.ParseTopicType(typ)
				if err != nil {
					return fmt.Errorf("--type %q: want partitioned or non-partitioned", typ)
				}
				cfg.Type = t
				if t == utils.Partitioned {
					if partitions < 1 {
						return errors.New("--num-partitions must be at least 1 for --type partitioned")
					}
					cfg.Partitions = &partitions
				}
			}
			if err := env.client.Namespaces().SetTopicAutoCreationWithContext(ctx, name, cfg); err != nil {
				return err
			}
			return env.printDone("Set auto topic creation of %s to %t", args[0], enable)
		})
	f := c.Flags()
	f.BoolVarP(&enable, "enable", "e", false, "allow auto topic creation")
	f.BoolVarP(&disable, "disable", "d", false, "forbid auto topic creation")
	f.StringVarP(&typ, "type", "t", "non-partitioned", "type of auto-created topics: partitioned or non-partitioned")
	f.IntVarP(&partitions, "num-partitions", "n", 0, "partitions of auto-created partitioned topics")
	return c
}
