package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestMessagingClientFeatures: what else an everyday pulsar-client-go program does —
// schemas (GET_OR_CREATE_SCHEMA on the producer, GET_SCHEMA behind GetSchemaValue),
// unsubscribe, exclusive and wait-for-exclusive producers, duplicate producer names,
// a second consumer on an Exclusive subscription or of another type.
func TestMessagingClientFeatures(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)

	t.Run("schemas", func(t *testing.T) {
		ctx := testCtx(t)
		type rec struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		}
		const avroDef = `{"type":"record","name":"rec","namespace":"test","fields":[{"name":"id","type":"int"},{"name":"name","type":"string"}]}`
		for _, tc := range []struct {
			name   string
			schema func() pulsar.Schema
			value  any
			check  func(m pulsar.Message) error
		}{
			{"string", func() pulsar.Schema { return pulsar.NewStringSchema(nil) }, "hello",
				func(m pulsar.Message) error {
					var v *string // StringSchema.Decode stores a *string
					if err := m.GetSchemaValue(&v); err != nil {
						return err
					}
					if v == nil || *v != "hello" {
						t.Errorf("string schema value %v", v)
					}
					return nil
				}},
			{"json", func() pulsar.Schema { return pulsar.NewJSONSchema(avroDef, nil) }, rec{ID: 7, Name: "seven"},
				func(m pulsar.Message) error {
					var v rec
					if err := m.GetSchemaValue(&v); err != nil {
						return err
					}
					if v != (rec{ID: 7, Name: "seven"}) {
						t.Errorf("json schema value %+v", v)
					}
					return nil
				}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				topic := uniqueTopic(t)
				cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Schema: tc.schema(),
					SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
				prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Schema: tc.schema()})
				if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Value: tc.value}); err != nil {
					t.Fatalf("send with %s schema: %v", tc.name, err)
				}
				m := receive(t, ctx, cons)
				if err := tc.check(m); err != nil {
					t.Fatalf("GetSchemaValue: %v (schema version %x)", err, m.SchemaVersion())
				}
				cons.Ack(m)
			})
		}
	})

	t.Run("unsubscribe", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		send(t, ctx, prod, "before")
		if err := cons.Unsubscribe(); err != nil {
			t.Fatalf("unsubscribe: %v", err)
		}
		cons.Close()
		// The subscription is gone: re-created at Latest, it does not see "before".
		again := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s"})
		send(t, ctx, prod, "after")
		if m := receive(t, ctx, again); string(m.Payload()) != "after" {
			t.Fatalf("re-created subscription got %q, want \"after\"", m.Payload())
		}
		// A consumer may not unsubscribe a subscription others still use.
		other := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sh", Type: pulsar.Shared})
		_ = subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sh", Type: pulsar.Shared})
		if err := other.Unsubscribe(); err == nil {
			t.Fatal("unsubscribe with another consumer attached succeeded")
		}
	})

	t.Run("producer-access-modes", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		excl := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, ProducerAccessMode: pulsar.ProducerAccessModeExclusive})
		if _, err := c.CreateProducer(pulsar.ProducerOptions{Topic: topic}); err == nil || !strings.Contains(err.Error(), "ProducerBusy") {
			t.Fatalf("shared producer next to an exclusive one: %v, want ProducerBusy", err)
		}
		if _, err := c.CreateProducer(pulsar.ProducerOptions{Topic: topic, ProducerAccessMode: pulsar.ProducerAccessModeExclusive}); err == nil || !strings.Contains(err.Error(), "ProducerFenced") {
			t.Fatalf("second exclusive producer: %v, want ProducerFenced", err)
		}
		// WaitForExclusive waits for the exclusive producer to go, then may send.
		waited := make(chan pulsar.Producer, 1)
		errs := make(chan error, 1)
		go func() {
			p, err := c.CreateProducer(pulsar.ProducerOptions{Topic: topic, ProducerAccessMode: pulsar.ProducerAccessModeWaitForExclusive})
			if err != nil {
				errs <- err
				return
			}
			waited <- p
		}()
		select {
		case p := <-waited:
			p.Close()
			t.Fatal("WaitForExclusive producer was created while the exclusive one is open")
		case err := <-errs:
			t.Fatalf("WaitForExclusive: %v", err)
		case <-time.After(300 * time.Millisecond):
			// Still waiting, as it should; what we wait for next is its creation.
		}
		send(t, ctx, excl, "from-exclusive")
		excl.Close()
		var p pulsar.Producer
		select {
		case p = <-waited:
		case err := <-errs:
			t.Fatalf("WaitForExclusive: %v", err)
		case <-ctx.Done():
			t.Fatal("WaitForExclusive producer not created after the exclusive one closed")
		}
		defer p.Close()
		send(t, ctx, p, "from-waiting")
		r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
		for _, want := range []string{"from-exclusive", "from-waiting"} {
			if m := readNext(t, ctx, r); string(m.Payload()) != want {
				t.Fatalf("got %q want %q", m.Payload(), want)
			}
		}
	})

	t.Run("producer-name-in-use", func(t *testing.T) {
		topic := uniqueTopic(t)
		_ = newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "only-one"})
		if _, err := c.CreateProducer(pulsar.ProducerOptions{Topic: topic, Name: "only-one"}); err == nil || !strings.Contains(err.Error(), "ProducerBusy") {
			t.Fatalf("second producer with the same name: %v, want ProducerBusy", err)
		}
	})

	t.Run("consumer-busy", func(t *testing.T) {
		topic := uniqueTopic(t)
		_ = subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "x"})
		if _, err := c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "x"}); err == nil || !strings.Contains(err.Error(), "ConsumerBusy") {
			t.Fatalf("second consumer on an Exclusive subscription: %v, want ConsumerBusy", err)
		}
		_ = subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "y", Type: pulsar.Shared})
		if _, err := c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "y", Type: pulsar.Failover}); err == nil || !strings.Contains(err.Error(), "ConsumerBusy") {
			t.Fatalf("Failover consumer on a Shared subscription: %v, want ConsumerBusy", err)
		}
	})

	t.Run("non-persistent-topic", func(t *testing.T) {
		_, err := c.CreateProducer(pulsar.ProducerOptions{Topic: "non-persistent://public/default/np"})
		if err == nil || !strings.Contains(err.Error(), "TopicNotFound") {
			t.Fatalf("producer on a non-persistent topic: %v, want TopicNotFound", err)
		}
	})

	t.Run("cumulative-ack-inside-batch", func(t *testing.T) {
		// With batch-index acks, a cumulative ack of the third message of a batch
		// acknowledges the entries before and indexes 0..2 of that batch; a new consumer
		// gets only the rest of it.
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: time.Second})
		send(t, ctx, prod, "first")
		ids := sendBatched(t, ctx, prod, numbered("c", 0, 5)...)
		if ids[4].BatchIdx() != 4 {
			t.Fatalf("not one batch: %v", ids)
		}
		opts := pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", EnableBatchIndexAcknowledgment: true,
			AckWithResponse: true, SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest}
		cons := subscribe(t, c, opts)
		var third pulsar.Message
		for _, want := range []string{"first", "c-0", "c-1", "c-2"} {
			m := receive(t, ctx, cons)
			if string(m.Payload()) != want {
				t.Fatalf("got %q want %q", m.Payload(), want)
			}
			third = m
		}
		if err := cons.AckCumulative(third); err != nil {
			t.Fatalf("cumulative ack: %v", err)
		}
		cons.Close()
		again := subscribe(t, c, opts)
		expectPayloads(t, ctx, again, []string{"c-3", "c-4"})
		expectNothing(t, again, "nothing more is due")
	})

	t.Run("zero-queue-consumer", func(t *testing.T) {
		// FLOW 1 per Receive.
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", EnableZeroQueueConsumer: true,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		payloads := numbered("z", 0, 20)
		send(t, ctx, prod, payloads...)
		expectPayloads(t, ctx, cons, payloads)
		expectNothing(t, cons, "nothing more is due")
	})

	t.Run("delayed-delivery-shared", func(t *testing.T) {
		t.Skip("not yet: delayed delivery (deliver_at_time) is not modelled by broker/dispatch, " +
			"so a DeliverAfter message arrives at once; see docs/compatibility.md")
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Type: pulsar.Shared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
		const delay = 1500 * time.Millisecond
		sent := time.Now()
		if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("later"), DeliverAfter: delay}); err != nil {
			t.Fatal(err)
		}
		send(t, ctx, prod, "now")
		if m := receive(t, ctx, cons); string(m.Payload()) != "now" {
			t.Fatalf("first delivery %q, want the undelayed message", m.Payload())
		} else {
			cons.Ack(m)
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		m, err := cons.Receive(rctx)
		if err != nil {
			t.Fatal(err)
		}
		// Pulsar may deliver up to one tick (1 s) early.
		if string(m.Payload()) != "later" || time.Since(sent) < delay-time.Second {
			t.Fatalf("delayed message %q after %v, want \"later\" after about %v", m.Payload(), time.Since(sent), delay)
		}
		cons.Ack(m)
	})
}
