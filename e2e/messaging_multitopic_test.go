package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// msgReceiveSet receives n messages and returns payload → topic; it fails on a
// duplicate.
func msgReceiveSet(t *testing.T, cons pulsar.Consumer, n int) map[string]string {
	t.Helper()
	got := map[string]string{}
	for i := 0; i < n; i++ {
		m := msgReceive(t, cons, 30*time.Second)
		if prev, dup := got[string(m.Payload())]; dup {
			t.Fatalf("%q received twice (from %s and %s)", m.Payload(), prev, m.Topic())
		}
		got[string(m.Payload())] = m.Topic()
		cons.Ack(m)
	}
	return got
}

// TestMessagingMultiTopic: a consumer of an explicit topic list, and a regex consumer
// (GET_TOPICS_OF_NAMESPACE plus client-side matching, polled every AutoDiscoveryPeriod),
// receive from every topic they cover — for the regex consumer also from a topic created
// after it started, and from the partitions of a partitioned topic — and nothing from a
// topic that does not match.
func TestMessagingMultiTopic(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)
	ctx := msgCtx(t, 120*time.Second)

	t.Run("topic-list", func(t *testing.T) {
		a, b := msgTopic(t, "multi-a"), msgTopic(t, "multi-b")
		cons := msgConsumer(t, c, pulsar.ConsumerOptions{Topics: []string{a, b}, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		pa := msgProducer(t, c, pulsar.ProducerOptions{Topic: a})
		pb := msgProducer(t, c, pulsar.ProducerOptions{Topic: b})
		msgSend(t, ctx, pa, msgPayloads("a", 5)...)
		msgSend(t, ctx, pb, msgPayloads("b", 5)...)
		got := msgReceiveSet(t, cons, 10)
		for i := 0; i < 5; i++ {
			if got[fmt.Sprintf("a-%d", i)] != a || got[fmt.Sprintf("b-%d", i)] != b {
				t.Fatalf("received %v", got)
			}
		}
		msgExpectNothing(t, cons, 200*time.Millisecond)
	})

	t.Run("regex", func(t *testing.T) {
		// A prefix unique to this run, so topics of other subtests cannot match.
		prefix := fmt.Sprintf("re-%d", time.Now().UnixNano())
		name := func(s string) string { return "persistent://public/default/" + prefix + s }
		existing, other := name("-x"), "persistent://public/default/no"+prefix
		partitioned := name("-p")
		msgCreatePartitioned(t, s.HTTPURL, partitioned, 2)
		// The topics exist (have a log) before the consumer starts.
		pe := msgProducer(t, c, pulsar.ProducerOptions{Topic: existing})
		po := msgProducer(t, c, pulsar.ProducerOptions{Topic: other})
		pp := msgProducer(t, c, pulsar.ProducerOptions{Topic: partitioned, DisableBatching: true})

		cons := msgConsumer(t, c, pulsar.ConsumerOptions{
			TopicsPattern:               "persistent://public/default/" + regexp.QuoteMeta(prefix) + "-.*",
			SubscriptionName:            "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
			AutoDiscoveryPeriod:         100 * time.Millisecond,
		})
		msgSend(t, ctx, pe, "x-0")
		msgSend(t, ctx, po, "other-0")
		for i := 0; i < 4; i++ {
			// Round-robin routing spreads unkeyed, unbatched messages over both partitions.
			msgSend(t, ctx, pp, fmt.Sprintf("p-%d", i))
		}
		got := msgReceiveSet(t, cons, 5)
		if got["x-0"] != existing {
			t.Fatalf("regex consumer: %v", got)
		}
		for i := 0; i < 4; i++ {
			if tp := got[fmt.Sprintf("p-%d", i)]; tp != partitioned+"-partition-0" && tp != partitioned+"-partition-1" {
				t.Fatalf("regex consumer: p-%d from %q", i, tp)
			}
		}

		// A topic created after the consumer started is discovered and read from its
		// beginning (SubscriptionInitialPosition applies to the new subscription).
		late := name("-late")
		pl := msgProducer(t, c, pulsar.ProducerOptions{Topic: late})
		msgSend(t, ctx, pl, "late-0", "late-1")
		got = msgReceiveSet(t, cons, 2)
		if got["late-0"] != late || got["late-1"] != late {
			t.Fatalf("regex consumer, late topic: %v", got)
		}
		// So is a partitioned topic created (and first written) after it started.
		latePart := name("-late-p")
		msgCreatePartitioned(t, s.HTTPURL, latePart, 3)
		plp := msgProducer(t, c, pulsar.ProducerOptions{Topic: latePart, DisableBatching: true})
		msgSend(t, ctx, plp, "lp-0", "lp-1", "lp-2")
		got = msgReceiveSet(t, cons, 3)
		for i := 0; i < 3; i++ {
			if tp := got[fmt.Sprintf("lp-%d", i)]; !strings.HasPrefix(tp, latePart+"-partition-") {
				t.Fatalf("regex consumer, late partitioned topic: lp-%d from %q", i, tp)
			}
		}
		msgExpectNothing(t, cons, 300*time.Millisecond)
	})

	t.Run("regex-unknown-namespace", func(t *testing.T) {
		// Over the binary protocol an unknown namespace lists no topics, without error.
		cons := msgConsumer(t, c, pulsar.ConsumerOptions{TopicsPattern: "persistent://public/nope/x.*",
			SubscriptionName: "s"})
		msgExpectNothing(t, cons, 200*time.Millisecond)
	})
}
