package e2e

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestMessagingHTTPServiceURL: a client whose service URL is the broker's http:// address
// looks topics up, gets partition counts, lists a namespace's topics (regex consumer) and
// fetches schemas over the admin REST API, and produces and consumes over the binary
// protocol at the broker URL the lookup returned.
func TestMessagingHTTPServiceURL(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.HTTPURL)
	ctx := testCtx(t)

	t.Run("produce-consume", func(t *testing.T) {
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
		payloads := numbered("h", 0, 10)
		send(t, ctx, prod, payloads...)
		expectPayloads(t, ctx, cons, payloads)
	})

	t.Run("partitioned", func(t *testing.T) {
		topic := uniqueTopic(t)
		createPartitioned(t, s.HTTPURL, topic, 3)
		parts, err := c.TopicPartitions(topic)
		if err != nil || len(parts) != 3 {
			t.Fatalf("TopicPartitions over HTTP: %v %v", parts, err)
		}
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		for i := 0; i < 12; i++ {
			if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Key: fmt.Sprint(i), Payload: []byte(fmt.Sprint(i))}); err != nil {
				t.Fatal(err)
			}
		}
		if got := receiveSet(t, ctx, cons, 12); len(got) != 12 {
			t.Fatalf("received %v", got)
		}
	})

	t.Run("regex", func(t *testing.T) {
		prefix := fmt.Sprintf("hre-%d", time.Now().UnixNano())
		a := "persistent://public/default/" + prefix + "-a"
		pa := newProducer(t, c, pulsar.ProducerOptions{Topic: a})
		cons := subscribe(t, c, pulsar.ConsumerOptions{
			TopicsPattern:    "persistent://public/default/" + regexp.QuoteMeta(prefix) + "-.*",
			SubscriptionName: "s", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
			AutoDiscoveryPeriod: 100 * time.Millisecond})
		send(t, ctx, pa, "a")
		b := "persistent://public/default/" + prefix + "-b"
		pb := newProducer(t, c, pulsar.ProducerOptions{Topic: b})
		send(t, ctx, pb, "b")
		got := receiveSet(t, ctx, cons, 2)
		if got["a"] != a || got["b"] != b {
			t.Fatalf("regex consumer over HTTP lookup: %v", got)
		}
		// A namespace that does not exist is an error over HTTP (not an empty list).
		if _, err := c.Subscribe(pulsar.ConsumerOptions{TopicsPattern: "persistent://public/nope/x.*",
			SubscriptionName: "s"}); err == nil {
			t.Fatal("regex consumer on a namespace that does not exist was created")
		}
	})

	t.Run("schema", func(t *testing.T) {
		type rec struct {
			N int `json:"n"`
		}
		const def = `{"type":"record","name":"rec","fields":[{"name":"n","type":"int"}]}`
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			Schema: pulsar.NewJSONSchema(def, nil), SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Schema: pulsar.NewJSONSchema(def, nil)})
		if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Value: rec{N: 42}}); err != nil {
			t.Fatal(err)
		}
		m := receive(t, ctx, cons)
		var v rec
		if err := m.GetSchemaValue(&v); err != nil || v.N != 42 {
			t.Fatalf("GetSchemaValue over HTTP schema lookup: %+v %v", v, err)
		}
		cons.Ack(m)
	})
}
