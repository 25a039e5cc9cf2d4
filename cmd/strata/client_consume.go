package main

// `strata client consume`: pulsar-client's consume verb. Each message is printed on
// stdout as pulsar-client prints it, after a "----- got message -----" line, and
// acknowledged.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/spf13/cobra"
)

type consumeFlags struct {
	subscription, subType, position, mode string
	count                                 int
	rate                                  float64
	hideContent                           bool
}

func consumeCommand(env *clientEnv) *cobra.Command {
	var f consumeFlags
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Receive, print and acknowledge messages of a topic",
		Example: `  strata client consume persistent://public/default/my-topic -s my-sub -n 10 -p Earliest
  strata client consume my-topic -s workers -t Shared -n 0     # until Ctrl-C`,
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.subscription, "subscription-name", "s", "", "subscription name (required)")
	fl.StringVarP(&f.subType, "subscription-type", "t", "Exclusive", "Exclusive, Shared, Failover or Key_Shared")
	fl.StringVarP(&f.position, "subscription-position", "p", "Latest", "where a new subscription starts: Latest or Earliest")
	fl.StringVarP(&f.mode, "subscription-mode", "m", "Durable", "Durable or NonDurable")
	fl.IntVarP(&f.count, "num-messages", "n", 1, "number of messages to consume, 0 = until interrupted")
	fl.Float64VarP(&f.rate, "rate", "r", 0, "messages per second at most (0 = no limit)")
	fl.BoolVar(&f.hideContent, "hide-content", false, "do not print the message payloads")
	clientVerb(cmd, func(ctx context.Context, topic string) error { return env.consume(ctx, topic, f, os.Stdout) })
	return cmd
}

func (f consumeFlags) options(topic string) (pulsar.ConsumerOptions, error) {
	o := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: f.subscription}
	if f.subscription == "" {
		return o, errors.New("missing --subscription-name (-s)")
	}
	switch strings.ToLower(strings.ReplaceAll(f.subType, "_", "")) {
	case "exclusive":
		o.Type = pulsar.Exclusive
	case "shared":
		o.Type = pulsar.Shared
	case "failover":
		o.Type = pulsar.Failover
	case "keyshared":
		o.Type = pulsar.KeyShared
	default:
		return o, fmt.Errorf("--subscription-type %q: want Exclusive, Shared, Failover or Key_Shared", f.subType)
	}
	switch strings.ToLower(f.position) {
	case "latest":
		o.SubscriptionInitialPosition = pulsar.SubscriptionPositionLatest
	case "earliest":
		o.SubscriptionInitialPosition = pulsar.SubscriptionPositionEarliest
	default:
		return o, fmt.Errorf("--subscription-position %q: want Latest or Earliest", f.position)
	}
	switch strings.ToLower(f.mode) {
	case "durable":
		o.SubscriptionMode = pulsar.Durable
	case "nondurable":
		o.SubscriptionMode = pulsar.NonDurable
	default:
		return o, fmt.Errorf("--subscription-mode %q: want Durable or NonDurable", f.mode)
	}
	return o, nil
}

func (env *clientEnv) consume(ctx context.Context, topic string, f consumeFlags, out io.Writer) error {
	if f.count < 0 {
		return fmt.Errorf("--num-messages must be 0 (forever) or more, got %d", f.count)
	}
	if f.rate < 0 {
		return fmt.Errorf("--rate must be 0 or more, got %g", f.rate)
	}
	opts, err := f.options(topic)
	if err != nil {
		return err
	}
	client, err := env.connect()
	if err != nil {
		return err
	}
	defer client.Close()
	consumer, err := client.Subscribe(opts)
	if err != nil {
		return env.explain(fmt.Sprintf("subscribing %s to %s", f.subscription, topic), err)
	}
	defer consumer.Close()

	var tick <-chan time.Time
	if f.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / f.rate))
		defer t.Stop()
		tick = t.C
	}
	received := 0
	for f.count == 0 || received < f.count {
		msg, err := consumer.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return env.explain("receiving", err)
		}
		printMessage(out, msg, f.hideContent)
		if err := consumer.Ack(msg); err != nil {
			return env.explain("acknowledging "+msg.ID().String(), err)
		}
		received++
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
			}
		}
	}
	fmt.Fprintf(os.Stderr, "%d messages successfully consumed\n", received)
	if ctx.Err() != nil && f.count > 0 {
		return fmt.Errorf("interrupted after %d of %d messages", received, f.count)
	}
	return nil
}

// printMessage prints a message the way pulsar-client does, with its id in front:
//
//	----- got message -----
//	messageId:[12:0:-1:3], publishTime:[1700000000000], eventTime:[0], key:[null], properties:[a=1], content:hello
func printMessage(out io.Writer, msg pulsar.Message, hideContent bool) {
	key := msg.Key()
	if key == "" {
		key = "null"
	}
	props := msg.Properties()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + props[k]
	}
	var eventTime int64
	if !msg.EventTime().IsZero() {
		eventTime = msg.EventTime().UnixMilli()
	}
	id := msg.ID()
	idText := fmt.Sprintf("%d:%d:%d", id.LedgerID(), id.EntryID(), id.PartitionIdx())
	if id.BatchIdx() >= 0 && id.BatchSize() > 0 {
		idText += fmt.Sprintf(":%d", id.BatchIdx())
	}
	line := fmt.Sprintf("messageId:[%s], publishTime:[%d], eventTime:[%d], key:[%s], properties:[%s]",
		idText, msg.PublishTime().UnixMilli(), eventTime, key, strings.Join(keys, ", "))
	if !hideContent {
		line += ", content:" + string(msg.Payload())
	}
	fmt.Fprintf(out, "----- got message -----\n%s\n", line)
}
