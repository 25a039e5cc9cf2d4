package main

// The subscription verbs of `strata admin topics` (pulsar-admin keeps them there):
// subscriptions, create-subscription, unsubscribe, skip, clear-backlog, expire-messages,
// reset-cursor.

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/spf13/cobra"
)

// subVerb is a topic verb that also takes -s/--subscription.
func (env *adminEnv) subVerb(use, short, example string,
	body func(ctx context.Context, env *adminEnv, t utils.TopicName, sub string) error) *cobra.Command {
	var sub string
	c := env.topicVerb(use, short, example, func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
		return body(ctx, env, t, sub)
	})
	c.Flags().StringVarP(&sub, "subscription", "s", "", "subscription name")
	requireFlag(c, "subscription")
	return c
}

func subscriptionVerbs(env *adminEnv) []*cobra.Command {
	var (
		startID    string
		forceUnsub bool
		skipCount  int64
		expireTime string
		resetTime  string
		resetID    string
	)
	create := env.subVerb("create-subscription", "Create a durable subscription at a position",
		"  strata admin topics create-subscription persistent://public/default/my-topic -s my-sub --messageId earliest",
		func(ctx context.Context, env *adminEnv, t utils.TopicName, sub string) error {
			id, err := parseMessageID(startID)
			if err != nil {
				return fmt.Errorf("--messageId: %w", err)
			}
			if err := env.client.Subscriptions().CreateWithContext(ctx, t, sub, id); err != nil {
				return err
			}
			return env.printDone("Created subscription %s on %s", sub, t.String())
		})
	create.Flags().StringVarP(&startID, "messageId", "m", "latest", "where it starts: latest, earliest or LEDGER:ENTRY")

	unsub := env.subVerb("unsubscribe", "Delete a subscription",
		"  strata admin topics unsubscribe persistent://public/default/my-topic -s my-sub",
		func(ctx context.Context, env *adminEnv, t utils.TopicName, sub string) error {
			subs := env.client.Subscriptions()
			var err error
			if forceUnsub {
				err = subs.ForceDeleteWithContext(ctx, t, sub)
			} else {
				err = subs.DeleteWithContext(ctx, t, sub)
			}
			if err != nil {
				return err
			}
			return env.printDone("Deleted subscription %s on %s", sub, t.String())
		})
	unsub.Flags().BoolVarP(&forceUnsub, "force", "f", false, "disconnect the subscription's consumers first")

	skip := env.subVerb("skip", "Skip (acknowledge) the next N messages of a subscription",
		"  strata admin topics skip persistent://public/default/my-topic -s my-sub -n 10",
		func(ctx context.Context, env *adminEnv, t utils.TopicName, sub string) error {
			if skipCount < 1 {
				return fmt.Errorf("--count must be at least 1, got %d", skipCount)
			}
			if err := env.client.Subscriptions().SkipMessagesWithContext(ctx, t, sub, skipCount); err != nil {
				return err
			}
			return env.printDone("Skipped %d messages of %s on %s", skipCount, sub, t.String())
		})
	skip.Flags().Int64VarP(&skipCount, "count", "n", 0, "number of messages to skip")
	requireFlag(skip, "count")

	expire := env.subVerb("expire-messages", "Acknowledge a subscription's messages older than a time",
		"  strata admin topics expire-messages persistent://public/default/my-topic -s my-sub -t 1h",
		func(ctx context.Context, env *adminEnv, t utils.TopicName, sub string) error {
			secs, err := parseRelativeSeconds(expireTime)
			if err != nil || secs < 0 {
				return fmt.Errorf("--expireTime %q: want seconds or a time such as 1h", expireTime)
			}
			if err := env.client.Subscriptions().ExpireMessagesWithContext(ctx, t, sub, secs); err != nil {
				return err
			}
			return env.printDone("Expired messages older than %ds of %s on %s", secs, sub, t.String())
		})
	expire.Flags().StringVarP(&expireTime, "expireTime", "t", "", "age in seconds, or with a unit (10m, 1h)")
	requireFlag(expire, "expireTime")

	reset := env.subVerb("reset-cursor", "Move a subscription back or forward, by time or to a message id",
		"  strata admin topics reset-cursor persistent://public/default/my-topic -s my-sub -t 10m\n"+
			"  strata admin topics reset-cursor persistent://public/default/my-topic -s my-sub -m 12:0",
		func(ctx context.Context, env *adminEnv, t utils.TopicName, sub string) error {
			subs := env.client.Subscriptions()
			switch {
			case (resetTime == "") == (resetID == ""):
				return errors.New("give exactly one of --time and --messageId")
			case resetTime != "":
				secs, err := parseRelativeSeconds(resetTime)
				if err != nil || secs < 0 {
					return fmt.Errorf("--time %q: want how long ago, e.g. 10m or 2h", resetTime)
				}
				if err := subs.ResetCursorToTimestampWithContext(ctx, t, sub, timestampAgo(secs)); err != nil {
					return err
				}
				return env.printDone("Reset cursor of %s on %s to %s ago", sub, t.String(), resetTime)
			default:
				id, err := parseMessageID(resetID)
				if err != nil {
					return fmt.Errorf("--messageId: %w", err)
				}
				if err := subs.ResetCursorToMessageIDWithContext(ctx, t, sub, id); err != nil {
					return err
				}
				return env.printDone("Reset cursor of %s on %s to %s", sub, t.String(), resetID)
			}
		})
	reset.Flags().StringVarP(&resetTime, "time", "t", "", "how long ago to go back to: 10m, 2h, 1d")
	reset.Flags().StringVarP(&resetID, "messageId", "m", "", "message id to go to: LEDGER:ENTRY, earliest or latest")

	return []*cobra.Command{
		env.topicVerb("subscriptions", "List a topic's subscriptions",
			"  strata admin topics subscriptions persistent://public/default/my-topic",
			func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
				subs, err := env.client.Subscriptions().ListWithContext(ctx, t)
				if err != nil {
					return err
				}
				return env.printList(subs)
			}),
		create, unsub, skip,
		env.subVerb("clear-backlog", "Acknowledge every message of a subscription",
			"  strata admin topics clear-backlog persistent://public/default/my-topic -s my-sub",
			func(ctx context.Context, env *adminEnv, t utils.TopicName, sub string) error {
				if err := env.client.Subscriptions().ClearBacklogWithContext(ctx, t, sub); err != nil {
					return err
				}
				return env.printDone("Cleared the backlog of %s on %s", sub, t.String())
			}),
		expire, reset,
	}
}
