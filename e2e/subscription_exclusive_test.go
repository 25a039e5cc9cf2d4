package e2e

import (
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestSubscriptionExclusiveConsumerBusy: an Exclusive subscription takes one consumer;
// a second one is refused with ConsumerBusy (the client's creation error names the
// ServerError), and once the first has closed a new consumer gets every unacknowledged
// message from where the first left off.
func TestSubscriptionExclusiveConsumerBusy(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	topic := uniqueTopic(t)

	opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "ex", Type: pulsar.Exclusive,
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: "first"}
	first := subscribe(t, c, opts)
	opts.Name = "second"
	second, err := c.Subscribe(opts)
	if err == nil {
		second.Close()
		t.Fatal("a second consumer joined an Exclusive subscription")
	}
	if !strings.Contains(err.Error(), "ConsumerBusy") {
		t.Fatalf("second consumer: error %q does not name ConsumerBusy", err)
	}
	// Another client (another connection) is refused the same way.
	c2 := newClient(t, s.PulsarURL)
	if other, err := c2.Subscribe(opts); err == nil {
		other.Close()
		t.Fatal("a consumer on another connection joined an Exclusive subscription")
	} else if !strings.Contains(err.Error(), "ConsumerBusy") {
		t.Fatalf("consumer on another connection: error %q does not name ConsumerBusy", err)
	}
	// Another subscription type on the same subscription is refused too.
	wrongType := opts
	wrongType.Type = pulsar.Shared
	if other, err := c2.Subscribe(wrongType); err == nil {
		other.Close()
		t.Fatal("a Shared consumer joined a subscription held by an Exclusive consumer")
	} else if !strings.Contains(err.Error(), "ConsumerBusy") {
		t.Fatalf("Shared consumer on an Exclusive subscription: error %q does not name ConsumerBusy", err)
	}

	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	send(t, ctx, p, numbered("m", 0, 10)...)
	for i, want := range numbered("m", 0, 10) {
		m := receive(t, ctx, first)
		if string(m.Payload()) != want {
			t.Fatalf("first consumer message %d: got %q want %q", i, m.Payload(), want)
		}
		if i < 4 {
			if err := first.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	first.Close() // flushes the pending acks of m-0..m-3 before it leaves

	third := subscribe(t, c2, opts)
	for i, want := range numbered("m", 4, 10) {
		m := receive(t, ctx, third)
		if string(m.Payload()) != want {
			t.Fatalf("message %d after the first consumer closed: got %q want %q", i, m.Payload(), want)
		}
		if m.RedeliveryCount() != 0 {
			t.Fatalf("%q: redelivery count %d, want 0 (Exclusive keeps no redelivery tracker)", want, m.RedeliveryCount())
		}
	}
	expectNothing(t, third, "acknowledged messages must not come back")
}
