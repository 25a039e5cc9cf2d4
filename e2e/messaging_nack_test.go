package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestMessagingNackAndDeadLetter: on a Shared subscription a negatively acknowledged
// message comes back (alone, with redelivery_count incremented each time) after
// NackRedeliveryDelay, a nacked batch comes back whole, and the client's dead-letter
// policy moves a message that was delivered MaxDeliveries times to the DLQ topic, where
// the subscription named by InitialSubscriptionName already holds it.
func TestMessagingNackAndDeadLetter(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)

	t.Run("nack-redelivers-one-message", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Type: pulsar.Shared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, NackRedeliveryDelay: 100 * time.Millisecond})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		send(t, ctx, prod, "a", "b", "c")
		for i, want := range []string{"a", "b", "c"} {
			m := receive(t, ctx, cons)
			if string(m.Payload()) != want || m.RedeliveryCount() != 0 {
				t.Fatalf("delivery %d: %q count %d, want %q count 0", i, m.Payload(), m.RedeliveryCount(), want)
			}
			if want == "b" {
				cons.Nack(m)
			} else {
				cons.Ack(m)
			}
		}
		for count := uint32(1); count <= 3; count++ {
			m := receive(t, ctx, cons)
			if string(m.Payload()) != "b" || m.RedeliveryCount() != count {
				t.Fatalf("redelivery: %q count %d, want \"b\" count %d", m.Payload(), m.RedeliveryCount(), count)
			}
			if count < 3 {
				cons.Nack(m)
			} else {
				cons.Ack(m)
			}
		}
		expectNothing(t, cons, "nothing more is due")
	})

	// Only (ledger, entry) travels in REDELIVER_UNACKNOWLEDGED_MESSAGES, so nacking one
	// message of a batch brings the entry back. Without batch-index acks the client held
	// back the acks of x0 and x2 (the batch was not complete) and gets all three again;
	// with them, the broker remembers the acked indexes and sends an ack_set, so only x1
	// comes back.
	for _, batchIndexAck := range []bool{false, true} {
		t.Run(fmt.Sprintf("nack-in-batch/batch-index-ack=%v", batchIndexAck), func(t *testing.T) {
			ctx := testCtx(t)
			topic := uniqueTopic(t)
			cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Type: pulsar.Shared,
				SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, NackRedeliveryDelay: 100 * time.Millisecond,
				EnableBatchIndexAcknowledgment: batchIndexAck, AckWithResponse: batchIndexAck})
			prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: time.Second})
			ids := sendBatched(t, ctx, prod, "x0", "x1", "x2")
			if ids[2].BatchIdx() != 2 {
				t.Fatalf("the three messages were not batched together: %v", ids)
			}
			var x1 pulsar.Message
			for _, want := range []string{"x0", "x1", "x2"} {
				m := receive(t, ctx, cons)
				if string(m.Payload()) != want {
					t.Fatalf("got %q want %q", m.Payload(), want)
				}
				if want == "x1" {
					x1 = m
					continue
				}
				if err := cons.Ack(m); err != nil {
					t.Fatalf("ack %s: %v", want, err)
				}
			}
			// Nack only after the acks are on the broker (AckWithResponse waits for them).
			cons.Nack(x1)
			want := []string{"x0", "x1", "x2"}
			if batchIndexAck {
				want = []string{"x1"}
			}
			for _, w := range want {
				m := receive(t, ctx, cons)
				if string(m.Payload()) != w || m.RedeliveryCount() != 1 {
					t.Fatalf("redelivery: %q count %d, want %q count 1", m.Payload(), m.RedeliveryCount(), w)
				}
				if err := cons.Ack(m); err != nil {
					t.Fatal(err)
				}
			}
			expectNothing(t, cons, "nothing more is due")
		})
	}

	t.Run("exclusive-nack-rewinds", func(t *testing.T) {
		// Exclusive and Failover redeliver by rewinding to the first unacknowledged
		// message; Pulsar keeps no redelivery count for them.
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, NackRedeliveryDelay: 100 * time.Millisecond,
			AckWithResponse: true})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		send(t, ctx, prod, "a", "b", "c", "d")
		var b pulsar.Message
		for _, want := range []string{"a", "b", "c", "d"} {
			m := receive(t, ctx, cons)
			if string(m.Payload()) != want {
				t.Fatalf("got %q want %q", m.Payload(), want)
			}
			if want == "b" {
				b = m
				continue
			}
			if err := cons.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
		cons.Nack(b)
		m := receive(t, ctx, cons)
		if string(m.Payload()) != "b" {
			t.Fatalf("after the nack: %q, want b (a, c and d are acknowledged)", m.Payload())
		}
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
		expectNothing(t, cons, "nothing more is due")
	})

	t.Run("shared-consumer-closes-with-unacked", func(t *testing.T) {
		// Messages a Shared consumer held unacknowledged when it left go to the other
		// consumer, and that is not a redelivery the DLQ counts.
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		first := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Type: pulsar.Shared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		payloads := numbered("u", 0, 5)
		send(t, ctx, prod, payloads...)
		for range payloads {
			receive(t, ctx, first) // and never ack
		}
		second := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Type: pulsar.Shared})
		first.Close()
		got := map[string]bool{}
		for range payloads {
			m := receive(t, ctx, second)
			if m.RedeliveryCount() != 0 {
				t.Errorf("%q handed over with redelivery count %d, want 0", m.Payload(), m.RedeliveryCount())
			}
			got[string(m.Payload())] = true
			second.Ack(m)
		}
		if len(got) != len(payloads) {
			t.Fatalf("second consumer got %v", got)
		}
		expectNothing(t, second, "nothing more is due")
	})

	t.Run("dead-letter-after-max-deliveries", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		dlqTopic := topic + "-DLQ"
		const maxDeliveries = 3
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Type: pulsar.Shared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, NackRedeliveryDelay: 100 * time.Millisecond,
			DLQ: &pulsar.DLQPolicy{MaxDeliveries: maxDeliveries, DeadLetterTopic: dlqTopic, InitialSubscriptionName: "dlq-sub"}})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		ids := send(t, ctx, prod, "poison", "good")

		// The app sees deliveries 0 .. MaxDeliveries-1; the broker's next redelivery
		// (count = MaxDeliveries) is routed to the DLQ by the client.
		seen := map[string][]uint32{}
		for len(seen["poison"]) < maxDeliveries || len(seen["good"]) < 1 {
			m := receive(t, ctx, cons)
			seen[string(m.Payload())] = append(seen[string(m.Payload())], m.RedeliveryCount())
			if string(m.Payload()) == "poison" {
				cons.Nack(m)
			} else {
				cons.Ack(m)
			}
		}
		if got, want := fmt.Sprint(seen["poison"]), "[0 1 2]"; got != want {
			t.Fatalf("poison message redelivery counts %s, want %s", got, want)
		}
		if got := seen["good"]; len(got) != 1 || got[0] != 0 {
			t.Fatalf("good message deliveries %v, want one with count 0", got)
		}

		// Wait until the client has republished the message to the DLQ topic.
		r := newReader(t, c, pulsar.ReaderOptions{Topic: dlqTopic, StartMessageID: pulsar.EarliestMessageID()})
		if m := readNext(t, ctx, r); string(m.Payload()) != "poison" {
			t.Fatalf("DLQ topic holds %q", m.Payload())
		}
		// The DLQ producer created "dlq-sub" when it created the topic, so a consumer that
		// joins it now (default initial position Latest) still gets the message.
		dlq := subscribe(t, c, pulsar.ConsumerOptions{Topic: dlqTopic, SubscriptionName: "dlq-sub", Type: pulsar.Shared})
		m := receive(t, ctx, dlq)
		if string(m.Payload()) != "poison" {
			t.Fatalf("DLQ message %q", m.Payload())
		}
		if got := m.Properties()["REAL_TOPIC"]; got != topic {
			t.Errorf("DLQ REAL_TOPIC %q want %q", got, topic)
		}
		if got := m.Properties()["ORIGIN_MESSAGE_ID"]; got != ids[0].String() {
			t.Errorf("DLQ ORIGIN_MESSAGE_ID %q want %q", got, ids[0].String())
		}
		dlq.Ack(m)
		// The original was acked by the client after routing it: nothing comes back.
		expectNothingFor(t, cons, time.Second, "nothing more is due")
	})
}
