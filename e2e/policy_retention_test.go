package e2e

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
)

// TestPolicyRetention: with a size retention of 1 MB, ledgers every subscription has
// consumed are kept (while a topic without retention loses them at once); once the
// topic holds more than 1 MB the oldest consumed ledgers are deleted from the bookies —
// their metadata leaves etcd and internal stats list fewer ledgers — but only as many
// as needed to get under the limit.
func TestPolicyRetention(t *testing.T) {
	e := startPolicyEnv(t)
	ns := e.namespace(t, "retention")
	if err := e.adm.Namespaces().SetRetention(ns, utils.RetentionPolicies{RetentionTimeInMinutes: -1, RetentionSizeInMB: 1}); err != nil {
		t.Fatal(err)
	}
	retained := uniqueTopicIn(t, ns)
	control := uniqueTopic(t) // public/default: Pulsar's default of none
	ctx := testCtx(t)
	payload := bytes.Repeat([]byte("r"), 100_000) // 5 entries a ledger: 500 kB

	// produceAndConsume sends n entries and acknowledges them all on subscription "s".
	produceAndConsume := func(topic string, n int) []pulsar.MessageID {
		t.Helper()
		cons := subscribe(t, e.c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		p := newProducer(t, e.c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		var ids []pulsar.MessageID
		for range n {
			id, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		for range n {
			m, err := cons.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := cons.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
		cons.Close() // flushes the acknowledgements
		return ids
	}

	// 10 entries: two full ledgers, ~1.02 MB < 1 MiB, all consumed.
	ids := produceAndConsume(retained, 10)
	cids := produceAndConsume(control, 10)
	first, second := ledgerOf(ids[0]), ledgerOf(ids[5])
	if first == second {
		t.Fatalf("no rollover: ids %v", ids)
	}
	// The control topic's consumed ledgers go (trim ran for both topics: same triggers,
	// same periodic check); the retained topic keeps them.
	adminEventually(t, "control topic trimmed", func() (bool, string) {
		l := e.listedLedgers(t, control)
		return !slices.Contains(l, ledgerOf(cids[0])) && !e.ledgerExists(t, ledgerOf(cids[0])), fmt.Sprint(l)
	})
	for _, id := range []int64{first, second} {
		if !slices.Contains(e.listedLedgers(t, retained), id) || !e.ledgerExists(t, id) {
			t.Fatalf("consumed ledger %d deleted under a 1 MB retention (listed %v)", id, e.listedLedgers(t, retained))
		}
	}

	// 6 more entries (~1.6 MB in all): the first two ledgers must go to get under 1 MiB
	// (1.6 - 0.5 > 1 MiB, 1.6 - 1.0 < 1 MiB); the third, consumed, stays.
	more := produceAndConsume(retained, 6)
	third := ledgerOf(more[0])
	adminEventually(t, "retention deletes the oldest consumed ledgers", func() (bool, string) {
		l := e.listedLedgers(t, retained)
		return !slices.Contains(l, first) && !slices.Contains(l, second) &&
			!e.ledgerExists(t, first) && !e.ledgerExists(t, second), fmt.Sprint(l)
	})
	if l := e.listedLedgers(t, retained); !slices.Contains(l, third) || !e.ledgerExists(t, third) {
		t.Fatalf("ledger %d deleted although the topic is within its retention without the older ones (listed %v)", third, l)
	}
}
