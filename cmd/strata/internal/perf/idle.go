package perf

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// IdleConfig configures an idle run: many topics, each given one durable subscription with
// a connected consumer, then held without traffic, so that the broker's memory per idle
// topic can be measured from outside while they exist.
type IdleConfig struct {
	Common
	// Topic is the prefix of the topics' names: Topic-0 … Topic-(Topics-1).
	Topic        string
	Topics       int
	Subscription string
	// Concurrency bounds the subscriptions being created at once.
	Concurrency int
	// Hold is how long to keep the consumers once every subscription exists; 0 means until
	// the context ends (SIGINT or SIGTERM from the command line).
	Hold time.Duration
	// ReceiverQueue is each consumer's prefetch queue (flow permits).
	ReceiverQueue int
}

// Validate checks c and fills in defaults.
func (c *IdleConfig) Validate() error {
	if err := c.Common.validate(); err != nil {
		return err
	}
	if c.Topic == "" || c.Subscription == "" {
		return errors.New("perf: idle needs a topic prefix and a subscription")
	}
	if c.Topics <= 0 {
		return errors.New("perf: idle needs a positive number of topics")
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.ReceiverQueue <= 0 {
		c.ReceiverQueue = 100
	}
	return nil
}

// HoldingLine starts the line an idle run prints once every subscription exists; a script
// that measures the broker waits for it.
const HoldingLine = "holding "

// IdleSummary is the result of an idle run.
type IdleSummary struct {
	Mode         string   `json:"mode"`
	Args         []string `json:"args,omitempty"`
	Topics       int      `json:"topics"`
	Subscription string   `json:"subscription"`
	// Subscribed counts the consumers created, over CreateSeconds from the first
	// Subscribe call to the last one's return.
	Subscribed    uint64  `json:"subscribed"`
	CreateSeconds float64 `json:"create_seconds"`
	PerSec        float64 `json:"subscriptions_per_sec"`
	Errors        uint64  `json:"errors"`
	FirstError    string  `json:"first_error,omitempty"`
	HeldSeconds   float64 `json:"held_seconds"`
}

// Idle subscribes to cfg.Topics topics (creating them), holds the consumers connected
// and idle for cfg.Hold or until ctx ends, then closes them and returns the summary.
func Idle(ctx context.Context, cfg IdleConfig) (IdleSummary, error) {
	if err := cfg.Validate(); err != nil {
		return IdleSummary{}, err
	}
	client, err := cfg.newClient()
	if err != nil {
		return IdleSummary{}, err
	}
	defer client.Close()

	consumers := make([]pulsar.Consumer, cfg.Topics)
	var (
		subscribed, failed atomic.Uint64
		errMu              sync.Mutex
		firstErr           error
	)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		sem := make(chan struct{}, cfg.Concurrency)
		for i := range cfg.Topics {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			wg.Go(func() {
				defer func() { <-sem }()
				c, err := client.Subscribe(pulsar.ConsumerOptions{
					Topic:                       fmt.Sprintf("%s-%d", cfg.Topic, i),
					SubscriptionName:            cfg.Subscription,
					Type:                        pulsar.Exclusive,
					SubscriptionInitialPosition: pulsar.SubscriptionPositionLatest,
					ReceiverQueueSize:           cfg.ReceiverQueue,
					// Idle means idle in the client too: no ack-flush ticker per consumer, and
					// no partition discovery every minute for each of thousands of topics.
					AckGroupingOptions:  &pulsar.AckGroupingOptions{MaxSize: 1},
					AutoDiscoveryPeriod: 24 * time.Hour,
				})
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					return
				}
				consumers[i] = c
				subscribed.Add(1)
			})
		}
		wg.Wait()
	}()
	every(cfg.Interval, done, func(now time.Time, _ time.Duration) {
		progressPrefix(cfg.Out, now.Sub(start), false)
		fmt.Fprintf(cfg.Out, "subscribed %d of %d topics, errors %d\n", subscribed.Load(), cfg.Topics, failed.Load())
	})
	<-done
	created := time.Since(start)

	s := IdleSummary{
		Mode:          "idle",
		Args:          cfg.Args,
		Topics:        cfg.Topics,
		Subscription:  cfg.Subscription,
		Subscribed:    subscribed.Load(),
		CreateSeconds: created.Seconds(),
		Errors:        failed.Load(),
	}
	if created > 0 {
		s.PerSec = float64(s.Subscribed) / created.Seconds()
	}
	if firstErr != nil {
		s.FirstError = firstErr.Error()
	}
	if ctx.Err() == nil {
		fmt.Fprintf(cfg.Out, "%s%d topics with one subscription each (subscribed in %.1fs, %.0f/s, errors %d)\n",
			HoldingLine, s.Subscribed, s.CreateSeconds, s.PerSec, s.Errors)
		held := time.Now()
		if cfg.Hold > 0 {
			_ = sleepCtx(ctx, cfg.Hold)
		} else {
			<-ctx.Done()
		}
		s.HeldSeconds = time.Since(held).Seconds()
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Concurrency)
	for _, c := range consumers {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() { defer func() { <-sem }(); c.Close() })
	}
	wg.Wait()
	fmt.Fprintf(cfg.Out, "idle summary: %d of %d topics subscribed in %.2fs (%.0f/s), errors %d, held %.1fs\n",
		s.Subscribed, s.Topics, s.CreateSeconds, s.PerSec, s.Errors, s.HeldSeconds)
	if s.FirstError != "" {
		fmt.Fprintf(cfg.Out, "  first error: %s\n", s.FirstError)
	}
	return s, nil
}
