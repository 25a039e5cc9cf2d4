package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// E2EConfig configures a run of a paced producer and a tailing consumer in one process.
type E2EConfig struct {
	ProduceConfig
	// Subscription is created at the latest position before the producer starts and
	// removed (unsubscribed) at the end. Empty picks a fresh name.
	Subscription  string
	Type          pulsar.SubscriptionType
	ReceiverQueue int
	// Drain bounds the wait, after the producer's last receipt, for the consumer to
	// receive everything that was acknowledged.
	Drain time.Duration
}

// E2ESummary puts the two sides of an e2e run together.
type E2ESummary struct {
	Mode    string         `json:"mode"`
	Args    []string       `json:"args,omitempty"`
	Produce ProduceSummary `json:"produce"`
	Consume ConsumeSummary `json:"consume"`
	// E2EMinusPublishP99Ms is the consumer's end-to-end p99 minus the publish p99.
	E2EMinusPublishP99Ms float64 `json:"e2e_minus_publish_p99_ms"`
}

// E2E runs cfg and returns its summary, having printed progress lines (publish and
// end-to-end side by side) and the summary to cfg.Out.
func E2E(ctx context.Context, cfg E2EConfig) (E2ESummary, error) {
	if err := cfg.Validate(); err != nil {
		return E2ESummary{}, err
	}
	if cfg.Topics > 1 {
		return E2ESummary{}, errors.New("perf: e2e runs on one topic")
	}
	if cfg.Size < StampSize {
		return E2ESummary{}, fmt.Errorf("perf: e2e needs --size >= %d for the send-time stamp", StampSize)
	}
	if cfg.Subscription == "" {
		cfg.Subscription = fmt.Sprintf("strata-perf-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 30 * time.Second
	}
	client, err := cfg.newClient()
	if err != nil {
		return E2ESummary{}, err
	}
	defer client.Close()
	consumer, err := subscribe(client, cfg.Topic, cfg.Subscription, cfg.Type, pulsar.SubscriptionPositionLatest, cfg.ReceiverQueue)
	if err != nil {
		return E2ESummary{}, err
	}
	defer consumer.Close()
	cl := newConsumerLoad(consumer)
	cl.bySendTime = true
	pl := newProducerLoad(&cfg.ProduceConfig)
	if err := pl.open(client); err != nil {
		return E2ESummary{}, err
	}
	defer pl.close()

	start := time.Now()
	warmupEnd, stopAt := start.Add(cfg.Warmup), cfg.stopAt(start)
	pl.series, cl.series = cfg.newSeries(start), cfg.newSeries(start)
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	var reason string
	var drainTimedOut bool
	consumed := make(chan struct{})
	go func() { defer close(consumed); reason = cl.loop(cctx, warmupEnd, 0, 0) }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pl.run(ctx, warmupEnd, stopAt)
		// Wait (up to Drain) for the consumer to receive every acknowledged message.
		if !cl.waitFor(ctx, pl.acked.Load(), cfg.Drain) {
			drainTimedOut = true
		}
		stopConsumer()
		<-consumed
	}()
	every(cfg.Interval, done, func(now time.Time, span time.Duration) {
		progressPrefix(cfg.Out, now.Sub(start), cfg.Warmup > 0 && now.Before(warmupEnd.Add(cfg.Interval)))
		fmt.Fprintf(cfg.Out, "%s | %s\n", pl.progress(pl.rec.takeInterval(), span), cl.progress(cl.rec.takeInterval(), span))
	})
	if reason == "interrupted" && ctx.Err() == nil {
		reason = "drained"
		if drainTimedOut {
			reason = "drain timeout"
		}
	}
	if err := consumer.Unsubscribe(); err != nil {
		fmt.Fprintf(cfg.Out, "warning: unsubscribe %s: %v\n", cfg.Subscription, err)
	}
	s := E2ESummary{Mode: "e2e", Args: cfg.Args, Produce: pl.summary(warmupEnd), Consume: cl.summary(cfg.Subscription, reason)}
	s.E2EMinusPublishP99Ms = s.Consume.E2ELatency.P99Ms - s.Produce.PublishLatency.P99Ms
	s.Produce.print(&cfg.Common)
	s.Consume.print(&cfg.Common)
	if missing := int64(pl.acked.Load()) - int64(cl.received.Load()); missing > 0 {
		fmt.Fprintf(cfg.Out, "  consumer missed %d acknowledged messages within --drain %v\n", missing, cfg.Drain)
	}
	fmt.Fprintf(cfg.Out, "  e2e p99 − publish p99 = %s ms\n", fmtMs(s.E2EMinusPublishP99Ms))
	if pl.series != nil {
		if err := writeSeries(cfg.SeriesPath, []string{"pub", "e2e"}, []*series{pl.series, cl.series}); err != nil {
			return s, fmt.Errorf("perf: --series: %w", err)
		}
	}
	return s, nil
}
