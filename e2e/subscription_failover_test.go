package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestSubscriptionFailoverHandover: on a non-partitioned topic the first consumer to
// join is active and alone receives; the other is told it is inactive. When the active
// consumer closes holding unacknowledged messages, the other becomes active (and is told
// so) and receives those messages first, then the rest, in order, each exactly once and
// with redelivery count 0.
func TestSubscriptionFailoverHandover(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	topic := uniqueTopic(t)

	evA, evB := newEventRecorder("a"), newEventRecorder("b")
	sub := func(name string, ev *eventRecorder) pulsar.Consumer {
		return subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "fo", Type: pulsar.Failover,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: name, EventListener: ev})
	}
	a := sub("a", evA)
	defer a.Close()
	evA.expect(ctx, t, true)
	b := sub("b", evB)
	defer b.Close()
	evB.expect(ctx, t, false)

	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	const n = 20
	send(t, ctx, p, numbered("m", 0, n)...)

	for i := 0; i < 10; i++ {
		m := receive(t, ctx, a)
		if want := fmt.Sprintf("m-%d", i); string(m.Payload()) != want {
			t.Fatalf("a: message %d is %q, want %q", i, m.Payload(), want)
		}
		if i < 5 {
			if err := a.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	expectNothing(t, b, "the inactive consumer of a Failover subscription")

	// a leaves holding m-5..m-9 unacknowledged (and m-10.. prefetched); Close flushes
	// its acks of m-0..m-4 first.
	a.Close()
	evB.expect(ctx, t, true)
	for i := 5; i < n; i++ {
		m := receive(t, ctx, b)
		if want := fmt.Sprintf("m-%d", i); string(m.Payload()) != want {
			t.Fatalf("b after handover: got %q, want %q (unacked messages first, then the rest, in order)", m.Payload(), want)
		}
		if m.RedeliveryCount() != 0 {
			t.Fatalf("b: %q has redelivery count %d, want 0", m.Payload(), m.RedeliveryCount())
		}
		if err := b.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	expectNothing(t, b, "every message was delivered once after the handover")

	// A consumer joining an active one changes nothing: it is told it is inactive and
	// receives nothing while b keeps receiving.
	evA2 := newEventRecorder("a2")
	a2 := sub("a2", evA2)
	defer a2.Close()
	evA2.expect(ctx, t, false)
	send(t, ctx, p, "late")
	if m := receive(t, ctx, b); string(m.Payload()) != "late" {
		t.Fatalf("b: got %q, want %q", m.Payload(), "late")
	}
	expectNothing(t, a2, "the inactive consumer joined second")
}

// TestSubscriptionFailoverPartitioned: on a partitioned topic, partition i's active
// consumer is sorted-by-name[i % n], whatever the join order, and each partition's
// messages go only to its active consumer.
func TestSubscriptionFailoverPartitioned(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	name := uniqueTopic(t)
	const partitions = 3
	createPartitioned(t, s.HTTPURL, name, partitions)

	// Join in reverse name order: the choice must not depend on it.
	got := map[string]map[string]int{} // consumer → partition topic → messages
	var consumers []pulsar.Consumer
	for _, cn := range []string{"b", "a"} {
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: name, SubscriptionName: "fo", Type: pulsar.Failover,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: cn})
		consumers = append(consumers, cons)
		got[cn] = map[string]int{}
	}

	const perPartition = 10
	for i := 0; i < partitions; i++ {
		pt := fmt.Sprintf("%s-partition-%d", name, i)
		p := newProducer(t, c, pulsar.ProducerOptions{Topic: pt, DisableBatching: true})
		defer p.Close() // one producer per call
		send(t, ctx, p, numbered(fmt.Sprintf("p%d", i), 0, perPartition)...)
		p.Close()
	}
	// sorted = [a, b]: partition 0 → a, 1 → b, 2 → a.
	want := map[string]string{}
	for i := 0; i < partitions; i++ {
		want[fmt.Sprintf("%s-partition-%d", name, i)] = []string{"a", "b"}[i%2]
	}
	total := 0
	deadline, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	for total < partitions*perPartition {
		progressed := false
		for _, cons := range consumers {
			rctx, rcancel := context.WithTimeout(deadline, 200*time.Millisecond)
			m, err := cons.Receive(rctx)
			rcancel()
			if err != nil {
				if deadline.Err() != nil {
					t.Fatalf("received %d of %d messages: %v (so far %v)", total, partitions*perPartition, err, got)
				}
				continue
			}
			progressed = true
			got[cons.Name()][m.Topic()]++
			total++
			if w := want[m.Topic()]; w != cons.Name() {
				t.Fatalf("%s received %q of %s, whose active consumer is %s", cons.Name(), m.Payload(), m.Topic(), w)
			}
			if err := cons.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
		_ = progressed
	}
	for pt, w := range want {
		if got[w][pt] != perPartition {
			t.Fatalf("%s got %d messages of %s, want %d (all: %v)", w, got[w][pt], pt, perPartition, got)
		}
	}
	for _, cons := range consumers {
		expectNothing(t, cons, "every message was delivered once")
	}
}

// TestSubscriptionFailoverPartitionedSwitch: a consumer that joins a partitioned
// Failover subscription takes over the partitions sorted-by-name gives it from a
// consumer that is still connected: both are told of the change for that partition,
// and after the failover delay the newcomer receives the partition's unacknowledged
// messages, first to last, then new ones; the old consumer keeps its other partition
// and receives nothing more of the one it lost.
func TestSubscriptionFailoverPartitionedSwitch(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	name := uniqueTopic(t)
	createPartitioned(t, s.HTTPURL, name, 2)
	p0, p1 := name+"-partition-0", name+"-partition-1"

	sub := func(cn string, ev *eventRecorder) pulsar.Consumer {
		return subscribe(t, c, pulsar.ConsumerOptions{Topic: name, SubscriptionName: "fo", Type: pulsar.Failover,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: cn, EventListener: ev})
	}
	evB := newEventRecorder("b")
	b := sub("b", evB)
	defer b.Close()
	evB.expectState(ctx, t, p0, true)
	evB.expectState(ctx, t, p1, true)

	produce := func(pt, prefix string, from, to int) {
		p := newProducer(t, c, pulsar.ProducerOptions{Topic: pt, DisableBatching: true})
		defer p.Close() // one producer per call
		send(t, ctx, p, numbered(prefix, from, to)...)
	}
	produce(p0, "p0", 0, 10)
	produce(p1, "p1", 0, 10)
	// b gets both partitions; it acknowledges the first three of each.
	for i := 0; i < 20; i++ {
		m := receive(t, ctx, b)
		var k int
		if _, err := fmt.Sscanf(string(m.Payload())[3:], "%d", &k); err != nil {
			t.Fatalf("payload %q: %v", m.Payload(), err)
		}
		if k < 3 {
			if err := b.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
	}

	// a sorts before b: partition 0 becomes a's, partition 1 stays b's.
	evA := newEventRecorder("a")
	a := sub("a", evA)
	defer a.Close()
	evA.expectState(ctx, t, p0, true)
	evA.expectState(ctx, t, p1, false)
	evB.expectState(ctx, t, p0, false)
	for _, want := range numbered("p0", 3, 10) {
		m := receive(t, ctx, a)
		if string(m.Payload()) != want || m.Topic() != p0 {
			t.Fatalf("a: got %q of %s, want %q of %s (the unacknowledged messages of partition 0, in order)", m.Payload(), m.Topic(), want, p0)
		}
		if err := a.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	expectNothing(t, a, "a has had partition 0's unacknowledged messages once, and partition 1 is b's")
	expectNothing(t, b, "b lost partition 0 and has had all of partition 1")

	produce(p0, "p0", 10, 15)
	produce(p1, "p1", 10, 15)
	for _, want := range numbered("p0", 10, 15) {
		if m := receive(t, ctx, a); string(m.Payload()) != want {
			t.Fatalf("a: got %q, want %q", m.Payload(), want)
		}
	}
	for _, want := range numbered("p1", 10, 15) {
		if m := receive(t, ctx, b); string(m.Payload()) != want {
			t.Fatalf("b: got %q, want %q", m.Payload(), want)
		}
	}
	expectNothing(t, a, "partition 1 is b's")
	expectNothing(t, b, "partition 0 is a's")
}
