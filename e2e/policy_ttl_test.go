package e2e

import (
	"fmt"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

// TestPolicyMessageTTL: a TTL set on the namespace while its topic is open (the broker
// learns it from the etcd watch) expires the unacknowledged messages older than it: the
// subscription's backlog drops to 0 without a consumer, and a consumer then gets only
// what was published afterwards.
func TestPolicyMessageTTL(t *testing.T) {
	e := startPolicyEnv(t)
	ns := e.namespace(t, "ttl")
	topic := uniqueTopicIn(t, ns)
	ctx := testCtx(t)
	e.subscribeAndLeave(t, topic, "s")
	p := newProducer(t, e.c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	for i := range 12 { // across ledgers (5 entries each)
		if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: fmt.Appendf(nil, "old-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if b := e.backlog(t, topic, "s"); b != 12 {
		t.Fatalf("backlog %d before the TTL, want 12", b)
	}
	if err := e.adm.Namespaces().SetNamespaceMessageTTL(ns, 3); err != nil {
		t.Fatal(err)
	}
	adminEventually(t, "TTL expires the backlog", func() (bool, string) {
		b := e.backlog(t, topic, "s")
		return b == 0, fmt.Sprintf("backlog %d", b)
	})
	if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("fresh")}); err != nil {
		t.Fatal(err)
	}
	cons := subscribe(t, e.c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s"})
	m, err := cons.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Payload()) != "fresh" {
		t.Fatalf("first message after expiry %q, want \"fresh\" (nothing old)", m.Payload())
	}
}
