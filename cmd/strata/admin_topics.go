package main

// `strata admin topics`: topic lifecycle, stats, lookup and reading messages. The
// subscription verbs pulsar-admin also keeps under `topics` are in
// admin_subscriptions.go.

import (
	"context"
	"fmt"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/spf13/cobra"
)

var topicArg = []string{"TOPIC"}

// topicName accepts what pulsar-admin accepts: a full persistent://tenant/ns/topic name,
// tenant/ns/topic, or a bare topic in public/default.
func topicName(s string) (utils.TopicName, error) {
	t, err := utils.GetTopicName(s)
	if err != nil {
		return utils.TopicName{}, fmt.Errorf("invalid topic %q: want persistent://TENANT/NAMESPACE/TOPIC", s)
	}
	return *t, nil
}

// topicVerb is a verb whose only argument is a topic.
func (env *adminEnv) topicVerb(use, short, example string,
	body func(ctx context.Context, env *adminEnv, t utils.TopicName) error) *cobra.Command {
	return env.verb(use, short, example, topicArg, func(ctx context.Context, env *adminEnv, args []string) error {
		t, err := topicName(args[0])
		if err != nil {
			return err
		}
		return body(ctx, env, t)
	})
}

func topicsCommand(env *adminEnv) *cobra.Command {
	cmd := groupCommand("topics", "Create, delete, inspect topics and manage their subscriptions", "")
	cmd.AddCommand(
		env.verb("list", "List a namespace's topics", "  strata admin topics list public/default", ns,
			func(ctx context.Context, env *adminEnv, args []string) error {
				if _, err := namespaceName(args[0]); err != nil {
					return err
				}
				names, err := env.client.Namespaces().GetTopicsWithContext(ctx, args[0])
				if err != nil {
					return err
				}
				return env.printList(names)
			}),
		env.topicVerb("create", "Create a non-partitioned topic",
			"  strata admin topics create persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				if err := env.client.Topics().CreateWithContext(ctx, t, 0); err != nil {
					return err
				}
				return env.printDone("Created topic %s", t.String())
			}),
		partitionsCommand(env, "create-partitioned-topic", "Create a partitioned topic", false),
		partitionsCommand(env, "update-partitioned-topic", "Raise the partition count of a partitioned topic", true),
		env.topicVerb("get-partitioned-topic-metadata", "Show a topic's partition count (0 = not partitioned)",
			"  strata admin topics get-partitioned-topic-metadata persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				md, err := env.client.Topics().GetMetadataWithContext(ctx, t)
				if err != nil {
					return err
				}
				return env.printValue(md)
			}),
		deleteTopicCommand(env, "delete", "Delete a non-partitioned topic", true),
		deleteTopicCommand(env, "delete-partitioned-topic", "Delete a partitioned topic and all its partitions", false),
		env.topicVerb("stats", "Show a topic's stats: rates, backlog, publishers, subscriptions",
			"  strata admin topics stats persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				st, err := env.client.Topics().GetStatsWithContext(ctx, t)
				if err != nil {
					return err
				}
				return env.printJSON(st)
			}),
		partitionedStatsCommand(env),
		env.topicVerb("stats-internal", "Show a topic's managed-ledger view: ledgers and cursors",
			"  strata admin topics stats-internal persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				st, err := env.client.Topics().GetInternalStatsWithContext(ctx, t)
				if err != nil {
					return err
				}
				return env.printJSON(st)
			}),
		env.topicVerb("lookup", "Show the broker that serves a topic",
			"  strata admin topics lookup persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				ld, err := env.client.Topics().LookupWithContext(ctx, t)
				if err != nil {
					return err
				}
				return env.printValue(ld)
			}),
		env.topicVerb("terminate", "Seal a topic: no more messages can be published",
			"  strata admin topics terminate persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				id, err := env.client.Topics().TerminateWithContext(ctx, t)
				if err != nil {
					return err
				}
				if env.output == "json" {
					return env.printJSON(id)
				}
				return env.printDone("Topic %s successfully terminated at %s", t.String(), shortID(id))
			}),
		env.topicVerb("unload", "Close a topic on its broker; it is reloaded on next use",
			"  strata admin topics unload persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				if err := env.client.Topics().UnloadWithContext(ctx, t); err != nil {
					return err
				}
				return env.printDone("Unloaded topic %s", t.String())
			}),
		env.topicVerb("last-message-id", "Show the id of a topic's last message",
			"  strata admin topics last-message-id persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				id, err := env.client.Topics().GetLastMessageIDWithContext(ctx, t)
				if err != nil {
					return err
				}
				return env.printValue(id)
			}),
		peekMessagesCommand(env),
		getMessageByIDCommand(env),
	)
	cmd.AddCommand(subscriptionVerbs(env)...)
	cmd.AddCommand(topicOffloadVerbs(env)...)
	cmd.AddCommand(topicReplicationVerbs(env)...)
	return cmd
}

func partitionsCommand(env *adminEnv, use, short string, update bool) *cobra.Command {
	var partitions int
	c := env.topicVerb(use, short,
		fmt.Sprintf("  strata admin topics %s persistent://public/default/my-topic -p 4", use),
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			if partitions < 1 {
				return fmt.Errorf("--partitions must be at least 1, got %d", partitions)
			}
			if update {
				if err := env.client.Topics().UpdateWithContext(ctx, t, partitions); err != nil {
					return err
				}
				return env.printDone("Updated topic %s to %d partitions", t.String(), partitions)
			}
			if err := env.client.Topics().CreateWithContext(ctx, t, partitions); err != nil {
				return err
			}
			return env.printDone("Created topic %s with %d partitions", t.String(), partitions)
		})
	c.Flags().IntVarP(&partitions, "partitions", "p", 0, "number of partitions")
	requireFlag(c, "partitions")
	return c
}

func deleteTopicCommand(env *adminEnv, use, short string, nonPartitioned bool) *cobra.Command {
	var force bool
	c := env.topicVerb(use, short,
		fmt.Sprintf("  strata admin topics %s persistent://public/default/my-topic\n"+
			"  strata admin topics %s persistent://public/default/my-topic -f   # even with producers or consumers attached", use, use),
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			if err := env.client.Topics().DeleteWithContext(ctx, t, force, nonPartitioned); err != nil {
				return err
			}
			return env.printDone("Deleted topic %s", t.String())
		})
	c.Flags().BoolVarP(&force, "force", "f", false, "delete even if producers or consumers are connected")
	return c
}

func partitionedStatsCommand(env *adminEnv) *cobra.Command {
	var perPartition bool
	c := env.topicVerb("partitioned-stats", "Show a partitioned topic's stats, summed over partitions",
		"  strata admin topics partitioned-stats persistent://public/default/my-topic --per-partition",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			st, err := env.client.Topics().GetPartitionedStatsWithContext(ctx, t, perPartition)
			if err != nil {
				return err
			}
			return env.printJSON(st)
		})
	c.Flags().BoolVar(&perPartition, "per-partition", false, "also show each partition's stats")
	return c
}

func peekMessagesCommand(env *adminEnv) *cobra.Command {
	var sub string
	var count int
	c := env.topicVerb("peek-messages", "Show messages of a subscription's backlog without consuming them",
		"  strata admin topics peek-messages persistent://public/default/my-topic -s my-sub -n 5",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			if count < 1 {
				return fmt.Errorf("--count must be at least 1, got %d", count)
			}
			msgs, err := env.client.Subscriptions().PeekMessagesWithContext(ctx, t, sub, count)
			if err != nil {
				return err
			}
			return env.printMessages(msgs)
		})
	c.Flags().StringVarP(&sub, "subscription", "s", "", "subscription name")
	c.Flags().IntVarP(&count, "count", "n", 1, "number of messages")
	requireFlag(c, "subscription")
	return c
}

func getMessageByIDCommand(env *adminEnv) *cobra.Command {
	var ledger, entry int64
	c := env.topicVerb("get-message-by-id", "Show the message at a ledger and entry id",
		"  strata admin topics get-message-by-id persistent://public/default/my-topic -l 12 -e 0",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			msgs, err := env.client.Subscriptions().GetMessagesByIDWithContext(ctx, t, ledger, entry)
			if err != nil {
				return err
			}
			return env.printMessages(msgs)
		})
	c.Flags().Int64VarP(&ledger, "ledgerId", "l", 0, "ledger id")
	c.Flags().Int64VarP(&entry, "entryId", "e", 0, "entry id")
	requireFlag(c, "ledgerId")
	requireFlag(c, "entryId")
	return c
}
