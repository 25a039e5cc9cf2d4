package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestSubscriptionSharedRoundRobin: a Shared subscription spreads messages over its
// consumers, each message to exactly one of them; when a consumer closes holding
// unacknowledged messages, exactly those are delivered to the others, with redelivery
// count 0 (leaving is not a negative ack), and nothing is lost.
func TestSubscriptionSharedRoundRobin(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	topic := uniqueTopic(t)

	var cons []pulsar.Consumer
	for _, name := range []string{"c1", "c2", "c3"} {
		cc := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sh", Type: pulsar.Shared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: name})
		cons = append(cons, cc)
	}
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	const n = 90
	send(t, ctx, p, numbered("m", 0, n)...)

	// Receive all n across the three consumers. c1 acks nothing; c2 and c3 ack all.
	owner := map[string]string{} // payload → consumer
	perConsumer := map[string][]string{}
	collect := func(what string, total int, from []pulsar.Consumer, ack bool, check func(pulsar.Consumer, pulsar.Message)) {
		t.Helper()
		deadline, stop := context.WithTimeout(ctx, 30*time.Second)
		defer stop()
		got := 0
		for got < total {
			for _, cc := range from {
				rctx, rcancel := context.WithTimeout(deadline, 100*time.Millisecond)
				m, err := cc.Receive(rctx)
				rcancel()
				if err != nil {
					if deadline.Err() != nil {
						t.Fatalf("%s: received %d of %d: %v", what, got, total, err)
					}
					continue
				}
				got++
				check(cc, m)
				if ack {
					if err := cc.Ack(m); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	collect("first delivery", n, cons, false, func(cc pulsar.Consumer, m pulsar.Message) {
		pl := string(m.Payload())
		if prev, dup := owner[pl]; dup {
			t.Fatalf("%q delivered to both %s and %s", pl, prev, cc.Name())
		}
		if m.RedeliveryCount() != 0 {
			t.Fatalf("%q first delivered with redelivery count %d", pl, m.RedeliveryCount())
		}
		owner[pl] = cc.Name()
		perConsumer[cc.Name()] = append(perConsumer[cc.Name()], pl)
		if cc.Name() != "c1" {
			if err := cc.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, cc := range cons {
		if k := len(perConsumer[cc.Name()]); k < n/6 {
			t.Fatalf("%s got %d of %d messages; round robin over 3 consumers gives each about a third (%v)",
				cc.Name(), k, n, counts(perConsumer))
		}
	}
	t.Logf("first delivery: %v", counts(perConsumer))

	// c1 leaves with everything it got unacknowledged: exactly those come back, to c2
	// and c3, with redelivery count 0.
	held := perConsumer["c1"]
	cons[0].Close()
	redelivered := map[string]string{}
	collect("redelivery after c1 closed", len(held), cons[1:], true, func(cc pulsar.Consumer, m pulsar.Message) {
		pl := string(m.Payload())
		if owner[pl] != "c1" {
			t.Fatalf("%s received %q again, which %s had acknowledged", cc.Name(), pl, owner[pl])
		}
		if prev, dup := redelivered[pl]; dup {
			t.Fatalf("%q redelivered twice (to %s and %s)", pl, prev, cc.Name())
		}
		if m.RedeliveryCount() != 0 {
			t.Fatalf("%q redelivered after its consumer left with redelivery count %d, want 0", pl, m.RedeliveryCount())
		}
		redelivered[pl] = cc.Name()
	})
	for _, cc := range cons[1:] {
		expectNothing(t, cc, "every message was acknowledged once")
	}
	// Everything was acknowledged: a new consumer on the subscription gets nothing.
	late := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sh", Type: pulsar.Shared, Name: "late"})
	expectNothing(t, late, "no message is left unacknowledged")
}

func counts(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf("%s=%d ", k, len(m[k]))
	}
	return out
}

// TestSubscriptionSharedBatchIndexHandover: a Shared consumer with batch-index acks
// leaves having acknowledged part of each batch; the consumer that remains receives
// exactly the messages left unacknowledged (the redelivery's ack_set hides the others),
// with redelivery count 0.
func TestSubscriptionSharedBatchIndexHandover(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	topic := uniqueTopic(t)
	sub := func(name string) pulsar.Consumer {
		return subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sh", Type: pulsar.Shared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: name,
			EnableBatchIndexAcknowledgment: true})
	}
	first := sub("first")
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, BatchingMaxMessages: 10,
		BatchingMaxPublishDelay: time.Minute, BatchingMaxSize: 1 << 20})
	const n = 30
	for i := 0; i < n; i++ {
		p.SendAsync(ctx, &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("b-%d", i))}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			if err != nil {
				t.Errorf("send: %v", err)
			}
		})
	}
	if err := p.FlushWithCtx(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		m := receive(t, ctx, first)
		if m.ID().BatchSize() != 10 {
			t.Fatalf("%q: batch size %d, want 10", m.Payload(), m.ID().BatchSize())
		}
		if m.ID().BatchIdx()%2 == 0 {
			if err := first.Ack(m); err != nil {
				t.Fatal(err)
			}
		} else {
			want[string(m.Payload())] = true
		}
	}
	second := sub("second")
	defer second.Close()
	expectNothing(t, second, "every entry is pending on the first consumer")
	first.Close() // flushes the batch-index acks, then leaves

	got := map[string]bool{}
	for len(got) < len(want) {
		m := receive(t, ctx, second)
		pl := string(m.Payload())
		if !want[pl] || got[pl] {
			t.Fatalf("second consumer received %q, which was acknowledged or already received (want once each: %v)", pl, keys(want))
		}
		if m.RedeliveryCount() != 0 {
			t.Fatalf("%q: redelivery count %d after its consumer left, want 0", pl, m.RedeliveryCount())
		}
		got[pl] = true
		if err := second.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	expectNothing(t, second, "only the unacknowledged messages come back")
}
