package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-io/strata/cmd/strata/internal/perf"
)

func init() { subcommands = append(subcommands, perfCommand) }

// perfFlags are the flags every `strata perf` subcommand takes.
type perfFlags struct {
	url, jsonPath, cpuProfile, tracePath, logLevel, seriesPath string
	interval, seriesRes                                        time.Duration
}

// perfCommand is `strata perf`: a load generator for any Pulsar-protocol service, built
// on the official Go client. The engine is in internal/perf; this file is its flags.
func perfCommand() *cobra.Command {
	var pf perfFlags
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Load generator: produce, consume and end-to-end latency over the Pulsar protocol",
		Long: `Load generator built on the Pulsar Go client (pulsar-client-go).

  strata perf produce   publish at a fixed rate or unthrottled; publish latency
  strata perf consume   receive and acknowledge; end-to-end latency; catch-up read rate
  strata perf e2e       a tailing consumer and a paced producer in one process
  strata perf idle      many topics with a subscription each, held idle (memory per topic)

Latencies are kept in a log-linear histogram (within 0.8%). Publish latency is per
message, from the SendAsync call to its callback. End-to-end latency is receive time
minus the send time that 'strata perf produce' and 'e2e' write as Unix nanoseconds in the
first 8 bytes of each payload (bytes 8-15 are a marker; --size must be >= 16); for other
payloads it falls back to the broker's publish_time, which has millisecond resolution.
The summary says which it used. MB is 10^6 bytes of payload.`,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&pf.url, "url", "pulsar://127.0.0.1:6650", "Pulsar service URL")
	f.StringVar(&pf.jsonPath, "json", "", "also write the summary as JSON to this file (- for stdout)")
	f.DurationVar(&pf.interval, "interval", 5*time.Second, "time between progress lines (0: none)")
	f.StringVar(&pf.cpuProfile, "cpuprofile", "", "write a CPU profile of this process to this file")
	f.StringVar(&pf.tracePath, "trace", "", "write a Go execution trace of this process to this file (go tool trace)")
	f.StringVar(&pf.logLevel, "log-level", "warn", "Pulsar client log level: debug, info, warn, error")
	f.StringVar(&pf.seriesPath, "series", "", "write a CSV latency time series (count, mean, max per slot of send time) to this file")
	f.DurationVar(&pf.seriesRes, "series-resolution", 100*time.Millisecond, "slot width of --series")
	cmd.AddCommand(perfProduceCommand(&pf), perfConsumeCommand(&pf), perfE2ECommand(&pf), perfIdleCommand(&pf))
	return cmd
}

// run sets up the common parts of a run (signals, profiling, the client's logger),
// calls body, and writes its summary as JSON if asked.
func (pf *perfFlags) run(cmd *cobra.Command, body func(context.Context, perf.Common) (any, error)) error {
	log, err := newLogger(pf.logLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if pf.cpuProfile != "" {
		f, err := os.Create(pf.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if pf.tracePath != "" {
		f, err := os.Create(pf.tracePath)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	summary, err := body(ctx, perf.Common{
		URL:        pf.url,
		Interval:   pf.interval,
		Out:        cmd.OutOrStdout(),
		Logger:     log,
		Args:       os.Args,
		SeriesPath: pf.seriesPath,
		SeriesRes:  pf.seriesRes,
	})
	if err != nil {
		return err
	}
	if pf.jsonPath != "" {
		if err := perf.WriteJSON(pf.jsonPath, summary); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}

// addProduceFlags binds the producer's flags to c (shared by produce and e2e).
func addProduceFlags(cmd *cobra.Command, c *perf.ProduceConfig, defaultRate float64) {
	f := cmd.Flags()
	f.StringVar(&c.Topic, "topic", "", "topic to produce to (required)")
	f.Float64Var(&c.Rate, "rate", defaultRate, "messages per second over all producers (0: unthrottled)")
	f.IntVar(&c.Size, "size", 1024, "payload size in bytes")
	f.DurationVar(&c.Duration, "duration", 30*time.Second, "measured time, after --warmup (0: until --messages)")
	f.Uint64Var(&c.Messages, "messages", 0, "stop after sending this many messages, warm-up included (0: no limit)")
	f.DurationVar(&c.Warmup, "warmup", 3*time.Second, "time sent and counted in progress lines but left out of the summary")
	f.IntVar(&c.Producers, "producers", 1, "producers on the topic (one connection); the rate is split evenly")
	f.BoolVar(&c.Batching, "batching", true, "batch messages in the client")
	f.DurationVar(&c.BatchMaxDelay, "batch-max-delay", time.Millisecond, "longest a batch waits to fill")
	f.IntVar(&c.BatchMaxMessages, "batch-max-messages", 1000, "most messages in a batch")
	f.IntVar(&c.BatchMaxBytes, "batch-max-bytes", 128*1024, "most payload bytes in a batch")
	f.IntVar(&c.MaxPending, "max-pending", 1000, "most messages awaiting a receipt per producer (SendAsync blocks beyond)")
	f.DurationVar(&c.AckWait, "ack-wait", 30*time.Second, "after the last send, how long to wait for outstanding receipts")
	_ = cmd.MarkFlagRequired("topic")
}

func perfProduceCommand(pf *perfFlags) *cobra.Command {
	var c perf.ProduceConfig
	cmd := &cobra.Command{
		Use:   "produce --topic T [--rate N]",
		Short: "Publish with SendAsync and measure the acknowledged rate and publish latency",
		Long: `Publish --size byte messages with SendAsync for --warmup + --duration, paced to --rate
(a token bucket on the monotonic clock) or unthrottled, and report every --interval and at
the end: messages acknowledged, msg/s, MB/s, publish latency p50/p95/p99/p99.9/max
(SendAsync call to callback), errors. The summary leaves out messages sent during warm-up.
With --messages N (and no --duration) it sends N messages and stops: a way to build a
backlog of a known size.
"rate shortfall" in the summary counts paced sends dropped because SendAsync blocked (the
pending queue was full) for longer than 10 ms of sends: the target rate was not offered.

With --topics N the load is spread over N topics, TOPIC-0 … TOPIC-(N-1), with --producers
producers each, and --rate is the total over all of them; the producers' schedules are
staggered over one interval so they do not send in lockstep. Many slow topics:

  strata perf produce --topic many --topics 1000 --rate 10000 --batching=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("duration") && c.Messages > 0 {
				c.Duration = 0
			}
			return pf.run(cmd, func(ctx context.Context, common perf.Common) (any, error) {
				c.Common = common
				return perf.Produce(ctx, c)
			})
		},
	}
	addProduceFlags(cmd, &c, 0)
	cmd.Flags().IntVar(&c.Topics, "topics", 1, "spread the load over this many topics, TOPIC-0 … TOPIC-(N-1) (1: TOPIC itself)")
	return cmd
}

func perfConsumeCommand(pf *perfFlags) *cobra.Command {
	var (
		c             perf.ConsumeConfig
		typ, initial  string
		receiverQueue int
	)
	cmd := &cobra.Command{
		Use:   "consume --topic T --subscription S",
		Short: "Receive and acknowledge; measure the read rate and end-to-end latency",
		Long: `Subscribe, receive and acknowledge each message, and report msg/s, MB/s and end-to-end
latency (receive time minus the producer's nanosecond stamp, or publish_time for payloads
not written by strata perf). The rate is over the span from the first message to the last,
so neither waiting for the first message nor idle time after the last counts.

Stops at --duration, after --messages, or once no message has come for --idle-timeout.
When --messages or --idle-timeout is given and --duration is not, there is no time limit.

Catch-up read rate of a backlog: create the subscription before producing (a topic with no
subscription may drop its data at ledger rollover), produce, then

  strata perf consume --topic T --subscription S --initial earliest --messages N --idle-timeout 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if c.Type, err = perf.ParseSubscriptionType(typ); err != nil {
				return err
			}
			if c.Initial, err = perf.ParseInitialPosition(initial); err != nil {
				return err
			}
			c.ReceiverQueue = receiverQueue
			if !cmd.Flags().Changed("duration") && (c.Messages > 0 || c.IdleTimeout > 0) {
				c.Duration = 0
			}
			return pf.run(cmd, func(ctx context.Context, common perf.Common) (any, error) {
				c.Common = common
				return perf.Consume(ctx, c)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Topic, "topic", "", "topic to consume (required)")
	f.StringVar(&c.Subscription, "subscription", "strata-perf", "subscription name")
	f.StringVar(&typ, "type", "exclusive", "subscription type: shared, exclusive, failover, key_shared")
	f.StringVar(&initial, "initial", "latest", "where a new subscription starts: earliest or latest")
	f.DurationVar(&c.Duration, "duration", 30*time.Second, "stop after this long (0: no limit)")
	f.Uint64Var(&c.Messages, "messages", 0, "stop after this many messages (0: no limit)")
	f.DurationVar(&c.IdleTimeout, "idle-timeout", 0, "stop once no message has come for this long after the first (0: never)")
	f.DurationVar(&c.Warmup, "warmup", 0, "leave messages received in this first part of the run out of the summary")
	f.IntVar(&receiverQueue, "receiver-queue", 1000, "client prefetch queue (flow permits)")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

func perfE2ECommand(pf *perfFlags) *cobra.Command {
	var (
		c   perf.E2EConfig
		typ string
	)
	cmd := &cobra.Command{
		Use:   "e2e --topic T [--rate N]",
		Short: "A tailing consumer and a paced producer in one process: publish and end-to-end latency",
		Long: `Subscribe at the latest position, then publish at --rate (as 'perf produce') while the
consumer receives and acknowledges. Progress lines and the summary show publish latency
(SendAsync call to callback) and end-to-end latency (SendAsync call to receive, from the
payload's nanosecond stamp; one process, one clock) side by side, and the difference of
their p99s. The subscription is removed at the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if c.Type, err = perf.ParseSubscriptionType(typ); err != nil {
				return err
			}
			return pf.run(cmd, func(ctx context.Context, common perf.Common) (any, error) {
				c.Common = common
				return perf.E2E(ctx, c)
			})
		},
	}
	addProduceFlags(cmd, &c.ProduceConfig, 10_000)
	f := cmd.Flags()
	f.StringVar(&c.Subscription, "subscription", "", "subscription name (default: a fresh one)")
	f.StringVar(&typ, "type", "exclusive", "subscription type: shared, exclusive, failover, key_shared")
	f.IntVar(&c.ReceiverQueue, "receiver-queue", 1000, "client prefetch queue (flow permits)")
	f.DurationVar(&c.Drain, "drain", 30*time.Second, "after the last receipt, how long the consumer may take to catch up")
	return cmd
}

func perfIdleCommand(pf *perfFlags) *cobra.Command {
	var c perf.IdleConfig
	cmd := &cobra.Command{
		Use:   "idle --topic PREFIX --topics N",
		Short: "Create many topics with one subscription each and hold them idle",
		Long: `Subscribe once to each of --topics topics named PREFIX-0 … PREFIX-(N-1), creating the
topics and a durable subscription on each, --concurrency at a time, then hold every
consumer connected and idle, sending nothing, for --hold or until SIGINT/SIGTERM; then
close them and print the summary. Once all subscriptions exist it prints a line starting
"holding ": measure the broker's memory (e.g. VmRSS in /proc/PID/status) after it.

  strata perf idle --topic idle --topics 10000 --hold 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return pf.run(cmd, func(ctx context.Context, common perf.Common) (any, error) {
				c.Common = common
				return perf.Idle(ctx, c)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Topic, "topic", "", "prefix of the topics' names (required)")
	f.IntVar(&c.Topics, "topics", 1000, "number of topics")
	f.StringVar(&c.Subscription, "subscription", "strata-perf-idle", "subscription name on every topic")
	f.IntVar(&c.Concurrency, "concurrency", 32, "subscriptions being created at once")
	f.DurationVar(&c.Hold, "hold", 0, "how long to hold the idle consumers once all exist (0: until interrupted)")
	f.IntVar(&c.ReceiverQueue, "receiver-queue", 100, "each consumer's prefetch queue (flow permits)")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}
