package perf

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// ConsumeConfig configures a consume run.
type ConsumeConfig struct {
	Common
	Topic        string
	Subscription string
	Type         pulsar.SubscriptionType
	Initial      pulsar.SubscriptionInitialPosition
	// Duration stops the run that long after it starts; 0 means no limit.
	Duration time.Duration
	// Messages stops the run after that many messages; 0 means no limit.
	Messages uint64
	// IdleTimeout stops the run once no message has arrived for that long after the first
	// one (the backlog is drained); 0 means never. Idle time is not in the rate.
	IdleTimeout time.Duration
	// Warmup leaves messages received in the first Warmup of the run out of the summary.
	Warmup time.Duration
	// ReceiverQueue is the client's prefetch queue (permits); 0 is the client's default.
	ReceiverQueue int
}

// Validate checks c and fills in defaults.
func (c *ConsumeConfig) Validate() error {
	if err := c.Common.validate(); err != nil {
		return err
	}
	if c.Topic == "" || c.Subscription == "" {
		return errors.New("perf: consume needs a topic and a subscription")
	}
	if c.Duration <= 0 && c.Messages == 0 && c.IdleTimeout <= 0 {
		return errors.New("perf: consume needs --duration, --messages or --idle-timeout to stop")
	}
	return nil
}

// Latency sources, as ConsumeSummary.LatencySource reports them.
const (
	SourceStamp       = "payload stamp (ns)"
	SourcePublishTime = "publish_time (ms)"
)

// ConsumeSummary is the result of a consume run, excluding warm-up.
type ConsumeSummary struct {
	Mode         string   `json:"mode"`
	Args         []string `json:"args,omitempty"`
	Subscription string   `json:"subscription"`
	// Received is over the span from the first to the last message measured, so neither
	// waiting for the first message nor idle time after the last counts.
	Received  Throughput `json:"received"`
	AckErrors uint64     `json:"ack_errors"`
	// StopReason: messages, duration, idle, interrupted or drained (e2e).
	StopReason string `json:"stop_reason"`
	// E2ELatency is receive time minus send time; LatencySource says which send time:
	// the producer's nanosecond stamp in the payload, or the message's publish_time.
	E2ELatency    Latency `json:"e2e_latency"`
	LatencySource string  `json:"latency_source"`
	Stamped       uint64  `json:"stamped"`
	Unstamped     uint64  `json:"unstamped"`
}

func (s *ConsumeSummary) print(c *Common) {
	fmt.Fprintf(c.Out, "consume summary (stopped: %s): received %d in %.2fs first→last, %s, ack errors %d\n",
		s.StopReason, s.Received.Messages, s.Received.Seconds, s.Received, s.AckErrors)
	fmt.Fprintf(c.Out, "  end-to-end latency [%s]: %s (mean %s ms)\n",
		s.LatencySource, s.E2ELatency, fmtMs(s.E2ELatency.MeanMs))
}

// consumerLoad receives and acknowledges on one consumer and records end-to-end latency.
type consumerLoad struct {
	consumer pulsar.Consumer
	rec      recorder
	series   *series // by send time; nil unless asked for
	// received counts every message (warm-up too); read by the e2e run to know when the
	// consumer has caught up with the producer.
	received           atomic.Uint64
	stamped, unstamped atomic.Uint64
	ackErrors          atomic.Uint64
	last               time.Time // owned by loop: the latest receive, for the idle check

	// target, once set by waitFor, makes loop close reached when received gets there.
	target        atomic.Uint64
	reached       chan struct{}
	reachedClosed bool // owned by loop

	// bySendTime leaves out of the summary the messages sent (by their stamp) before
	// warm-up ended, as the producer does, rather than those received before it. Set by
	// the e2e run, so both sides measure the same messages.
	bySendTime bool
}

func newConsumerLoad(c pulsar.Consumer) *consumerLoad {
	return &consumerLoad{consumer: c, reached: make(chan struct{})}
}

// waitFor waits until n messages have been received, for at most d. It reports whether
// they were.
func (l *consumerLoad) waitFor(ctx context.Context, n uint64, d time.Duration) bool {
	if n == 0 {
		return true
	}
	l.target.Store(n)
	// Either loop sees the target after its increment, or this sees the increment.
	if l.received.Load() >= n {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.reached:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// loop receives until ctx ends, limit messages have arrived (0: no limit), or idle has
// passed without a message after the first (0: never). It returns why it stopped.
func (l *consumerLoad) loop(ctx context.Context, warmupEnd time.Time, limit uint64, idle time.Duration) string {
	ch := l.consumer.Chan()
	var idleCheck <-chan time.Time
	if idle > 0 {
		t := time.NewTicker(min(idle/4, 100*time.Millisecond))
		defer t.Stop()
		idleCheck = t.C
	}
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return "duration"
			}
			return "interrupted"
		case now := <-idleCheck:
			if !l.last.IsZero() && now.Sub(l.last) >= idle {
				return "idle"
			}
		case cm, ok := <-ch:
			if !ok {
				return "consumer closed"
			}
			now := time.Now()
			payload := cm.Payload()
			sent, ok := readStamp(payload)
			if ok {
				l.stamped.Add(1)
			} else {
				sent = cm.PublishTime()
				l.unstamped.Add(1)
			}
			measured := !now.Before(warmupEnd)
			if l.bySendTime {
				measured = !sent.Before(warmupEnd)
			}
			l.rec.record(now, now.Sub(sent), len(payload), measured)
			l.series.add(sent, now.Sub(sent))
			if err := l.consumer.Ack(cm.Message); err != nil {
				l.ackErrors.Add(1)
			}
			l.last = now
			n := l.received.Add(1)
			if t := l.target.Load(); t > 0 && n >= t && !l.reachedClosed {
				close(l.reached)
				l.reachedClosed = true
			}
			if limit > 0 && n >= limit {
				return "messages"
			}
		}
	}
}

// progress formats the consumer's part of a progress line for the interval w.
func (l *consumerLoad) progress(w window, span time.Duration) string {
	return fmt.Sprintf("recv %s  e2e %s", throughput(w.msgs, w.bytes, span), summarize(&w.hist))
}

func (l *consumerLoad) summary(sub, reason string) ConsumeSummary {
	tot, _ := l.rec.totals()
	s := ConsumeSummary{
		Mode:         "consume",
		Subscription: sub,
		Received:     throughput(tot.msgs, tot.bytes, tot.last.Sub(tot.first)),
		AckErrors:    l.ackErrors.Load(),
		StopReason:   reason,
		E2ELatency:   summarize(&tot.hist),
		Stamped:      l.stamped.Load(),
		Unstamped:    l.unstamped.Load(),
	}
	switch {
	case s.Stamped == 0 && s.Unstamped == 0:
		s.LatencySource = "none (no messages)"
	case s.Unstamped == 0:
		s.LatencySource = SourceStamp
	case s.Stamped == 0:
		s.LatencySource = SourcePublishTime
	default:
		s.LatencySource = fmt.Sprintf("mixed: %d by %s, %d by %s", s.Stamped, SourceStamp, s.Unstamped, SourcePublishTime)
	}
	return s
}

func subscribe(client pulsar.Client, topic, sub string, typ pulsar.SubscriptionType,
	initial pulsar.SubscriptionInitialPosition, queue int) (pulsar.Consumer, error) {
	c, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            sub,
		Type:                        typ,
		SubscriptionInitialPosition: initial,
		ReceiverQueueSize:           queue,
	})
	if err != nil {
		return nil, fmt.Errorf("perf: subscribe %s on %s: %w", sub, topic, err)
	}
	return c, nil
}

// Consume runs a consumer against cfg.URL and returns its summary, having printed progress
// lines and the summary to cfg.Out.
func Consume(ctx context.Context, cfg ConsumeConfig) (ConsumeSummary, error) {
	if err := cfg.Validate(); err != nil {
		return ConsumeSummary{}, err
	}
	client, err := cfg.newClient()
	if err != nil {
		return ConsumeSummary{}, err
	}
	defer client.Close()
	consumer, err := subscribe(client, cfg.Topic, cfg.Subscription, cfg.Type, cfg.Initial, cfg.ReceiverQueue)
	if err != nil {
		return ConsumeSummary{}, err
	}
	defer consumer.Close()
	l := newConsumerLoad(consumer)

	start := time.Now()
	warmupEnd := start.Add(cfg.Warmup)
	l.series = cfg.newSeries(start)
	rctx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithDeadline(ctx, start.Add(cfg.Duration))
		defer cancel()
	}
	var reason string
	done := make(chan struct{})
	go func() { defer close(done); reason = l.loop(rctx, warmupEnd, cfg.Messages, cfg.IdleTimeout) }()
	every(cfg.Interval, done, func(now time.Time, span time.Duration) {
		progressPrefix(cfg.Out, now.Sub(start), cfg.Warmup > 0 && now.Before(warmupEnd.Add(cfg.Interval)))
		fmt.Fprintf(cfg.Out, "%s  received %d\n", l.progress(l.rec.takeInterval(), span), l.received.Load())
	})
	s := l.summary(cfg.Subscription, reason)
	s.Args = cfg.Args
	s.print(&cfg.Common)
	if l.series != nil {
		if err := writeSeries(cfg.SeriesPath, []string{"e2e"}, []*series{l.series}); err != nil {
			return s, fmt.Errorf("perf: --series: %w", err)
		}
	}
	return s, nil
}
