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

// TestMessagingMultiTopic: a consumer of an explicit topic list, and a regex consumer
// (GET_TOPICS_OF_NAMESPACE plus client-side matching, polled every AutoDiscoveryPeriod),
// receive from every topic they cover — for the regex consumer also from a topic created
// after it started, and from the partitions of a partitioned topic — and nothing from a
// topic that does not match.
func TestMessagingMultiTopic(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)

	t.Run("topic-list", func(t *testing.T) {
		a, b := uniqueTopic(t), uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topics: []string{a, b}, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		pa := newProducer(t, c, pulsar.ProducerOptions{Topic: a})
		pb := newProducer(t, c, pulsar.ProducerOptions{Topic: b})
		send(t, ctx, pa, numbered("a", 0, 5)...)
		send(t, ctx, pb, numbered("b", 0, 5)...)
		got := receiveSet(t, ctx, cons, 10)
		for i := 0; i < 5; i++ {
			if got[fmt.Sprintf("a-%d", i)] != a || got[fmt.Sprintf("b-%d", i)] != b {
				t.Fatalf("received %v", got)
			}
		}
		expectNothing(t, cons, "nothing more is due")
	})

	t.Run("regex", func(t *testing.T) {
		// A prefix unique to this run, so topics of other subtests cannot match.
		prefix := fmt.Sprintf("re-%d", time.Now().UnixNano())
		name := func(s string) string { return "persistent://public/default/" + prefix + s }
		existing, other := name("-x"), "persistent://public/default/no"+prefix
		partitioned := name("-p")
		createPartitioned(t, s.HTTPURL, partitioned, 2)
		// The topics exist (have a log) before the consumer starts.
		pe := newProducer(t, c, pulsar.ProducerOptions{Topic: existing})
		po := newProducer(t, c, pulsar.ProducerOptions{Topic: other})
		pp := newProducer(t, c, pulsar.ProducerOptions{Topic: partitioned, DisableBatching: true})

		cons := subscribe(t, c, pulsar.ConsumerOptions{
			TopicsPattern:               "persistent://public/default/" + regexp.QuoteMeta(prefix) + "-.*",
			SubscriptionName:            "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
			AutoDiscoveryPeriod:         100 * time.Millisecond,
		})
		send(t, ctx, pe, "x-0")
		send(t, ctx, po, "other-0")
		for i := 0; i < 4; i++ {
			// Round-robin routing spreads unkeyed, unbatched messages over both partitions.
			send(t, ctx, pp, fmt.Sprintf("p-%d", i))
		}
		got := receiveSet(t, ctx, cons, 5)
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
		pl := newProducer(t, c, pulsar.ProducerOptions{Topic: late})
		send(t, ctx, pl, "late-0", "late-1")
		got = receiveSet(t, ctx, cons, 2)
		if got["late-0"] != late || got["late-1"] != late {
			t.Fatalf("regex consumer, late topic: %v", got)
		}
		// So is a partitioned topic created (and first written) after it started.
		latePart := name("-late-p")
		createPartitioned(t, s.HTTPURL, latePart, 3)
		plp := newProducer(t, c, pulsar.ProducerOptions{Topic: latePart, DisableBatching: true})
		send(t, ctx, plp, "lp-0", "lp-1", "lp-2")
		got = receiveSet(t, ctx, cons, 3)
		for i := 0; i < 3; i++ {
			if tp := got[fmt.Sprintf("lp-%d", i)]; !strings.HasPrefix(tp, latePart+"-partition-") {
				t.Fatalf("regex consumer, late partitioned topic: lp-%d from %q", i, tp)
			}
		}
		expectNothing(t, cons, "nothing more is due")
	})

	t.Run("regex-unknown-namespace", func(t *testing.T) {
		// Over the binary protocol an unknown namespace lists no topics, without error.
		cons := subscribe(t, c, pulsar.ConsumerOptions{TopicsPattern: "persistent://public/nope/x.*",
			SubscriptionName: "s"})
		expectNothing(t, cons, "nothing more is due")
	})
}
