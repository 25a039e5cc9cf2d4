package queuecheck

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// ConsumerConfig configures a Consumer runner.
type ConsumerConfig struct {
	Client       pulsar.Client // required
	Topic        string        // required
	Subscription string        // required
	// Type is the subscription type; the zero value is Exclusive.
	Type     pulsar.SubscriptionType
	Receipts *Receipts // where deliveries are recorded (required)
	// Options is the template of the Pulsar consumer; Topic, SubscriptionName, Type
	// and SubscriptionInitialPosition (always Earliest: a subscription created after
	// the first sends must still see them) are replaced.
	Options pulsar.ConsumerOptions
}

// Consumer tails one subscription until stopped: it records every message it
// receives in a Receipts, then acknowledges it. The Pulsar consumer reconnects by
// itself across broker faults; should it be closed under the runner, the runner
// subscribes again, retrying until stopped.
//
// One goroutine receives, records and acknowledges, so Receipts keeps the delivery
// order.
type Consumer struct {
	t      testing.TB
	cfg    ConsumerConfig
	cancel context.CancelFunc
	done   chan struct{} // closed when the receive loop has returned

	mu      sync.Mutex
	cons    pulsar.Consumer // Invariant: the consumer the loop receives from
	stopped bool
}

// StartConsumer subscribes (failing the test if that fails) and starts receiving.
// Stop is registered as a test cleanup.
func StartConsumer(t testing.TB, cfg ConsumerConfig) *Consumer {
	t.Helper()
	if cfg.Client == nil || cfg.Topic == "" || cfg.Subscription == "" || cfg.Receipts == nil {
		t.Fatal("queuecheck: consumer needs a client, a topic, a subscription and a Receipts")
	}
	cfg.Options.Topic = cfg.Topic
	cfg.Options.SubscriptionName = cfg.Subscription
	cfg.Options.Type = cfg.Type
	cfg.Options.SubscriptionInitialPosition = pulsar.SubscriptionPositionEarliest
	cons, err := cfg.Client.Subscribe(cfg.Options)
	if err != nil {
		t.Fatalf("queuecheck: subscribe %s on %s: %v", cfg.Subscription, cfg.Topic, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{t: t, cfg: cfg, cancel: cancel, done: make(chan struct{}), cons: cons}
	go c.run(ctx)
	t.Cleanup(c.Stop)
	return c
}

func (c *Consumer) run(ctx context.Context) {
	defer close(c.done)
	cons := c.cons
	for {
		m, err := cons.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Receive fails only once the consumer is closed: subscribe again.
			c.t.Logf("queuecheck: consumer %s: receive: %v; subscribing again", c.cfg.Subscription, err)
			if cons = c.resubscribe(ctx); cons == nil {
				return
			}
			continue
		}
		c.cfg.Receipts.Record(m.Payload(), m.ID().String())
		// A lost ack only brings a redelivery, which the check counts as a duplicate.
		_ = cons.Ack(m)
	}
}

func (c *Consumer) resubscribe(ctx context.Context) pulsar.Consumer {
	backoff := 100 * time.Millisecond
	for {
		nc, err := c.cfg.Client.Subscribe(c.cfg.Options)
		if err == nil {
			c.mu.Lock()
			old := c.cons
			c.cons = nc
			c.mu.Unlock()
			old.Close()
			return nc
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Received is the number of messages received so far.
func (c *Consumer) Received() int { return c.cfg.Receipts.Len() }

// Stop ends the receiving and closes the Pulsar consumer. It may be called more than
// once.
func (c *Consumer) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	c.mu.Unlock()
	c.cancel()
	<-c.done
	c.mu.Lock()
	cons := c.cons
	c.mu.Unlock()
	cons.Close()
}
