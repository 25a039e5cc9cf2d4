package e2e

import (
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestMessagingAcrossLedgers: a restart puts a topic's later messages in a new ledger.
// Message ids, GetLastMessageID (also while the new ledger is still empty), HasNext,
// readers starting at an id at the end of the first ledger, a durable subscription's
// position and seek by time all work across the ledger boundary.
func TestMessagingAcrossLedgers(t *testing.T) {
	dir := t.TempDir()
	s := harness.StartStandalone(t, dir)
	topic := uniqueTopic(t)

	// Before the restart: A0..A2 unbatched, then B0..B2 as one batch entry.
	c1, err := pulsar.NewClient(pulsar.ClientOptions{URL: s.PulsarURL, OperationTimeout: 30 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	p1 := newProducer(t, c1, pulsar.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: time.Second})
	var ids []pulsar.MessageID
	for _, a := range []string{"A0", "A1", "A2"} {
		id, err := p1.Send(ctx, &pulsar.ProducerMessage{Payload: []byte(a)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	nextMillisecond(time.Now().UnixMilli())
	ids = append(ids, sendBatched(t, ctx, p1, "B0", "B1", "B2")...)
	if ids[5].BatchIdx() != 2 || ids[3].EntryID() != ids[5].EntryID() {
		t.Fatalf("B0..B2 are not one batch: %v", ids[3:])
	}
	d1 := subscribe(t, c1, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "d",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	expectPayloads(t, ctx, d1, []string{"A0", "A1", "A2"})
	d1.Close() // flushes the acks
	// Subscription "t" holds everything from the start: without it, once "d" acked the
	// first ledger whole the ledger could be trimmed (retention is 0, as in Pulsar).
	t1 := subscribe(t, c1, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "t",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	t1.Close()
	p1.Close()
	c1.Close()

	s.Stop()
	s.Restart()
	c := newClient(t, s.PulsarURL)
	payloads := []string{"A0", "A1", "A2", "B0", "B1", "B2"}

	t.Run("last-id-while-new-ledger-is-empty", func(t *testing.T) {
		r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
		last, err := r.GetLastMessageID()
		if err != nil {
			t.Fatal(err)
		}
		if idKey(last) != idKey(ids[5]) {
			t.Fatalf("GetLastMessageID %v batch %d, want %v batch 2 (the last message before the restart)", last, last.BatchIdx(), ids[5])
		}
		for i, want := range payloads {
			if !r.HasNext() {
				t.Fatalf("HasNext false before message %d", i)
			}
			if m := readNext(t, ctx, r); string(m.Payload()) != want {
				t.Fatalf("reader got %q want %q", m.Payload(), want)
			}
		}
		if r.HasNext() {
			t.Fatal("HasNext true at the end")
		}
		li := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID(), StartMessageIDInclusive: true})
		if m := readNext(t, ctx, li); string(m.Payload()) != "B2" {
			t.Fatalf("latest-inclusive reader got %q, want B2", m.Payload())
		}
	})

	// After the restart: C0..C2, in a new ledger.
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	nextMillisecond(time.Now().UnixMilli())
	cIDs := send(t, ctx, p, "C0", "C1", "C2")
	if cIDs[0].LedgerID() <= ids[5].LedgerID() {
		t.Fatalf("after the restart the topic writes ledger %d, before it wrote %d: want a new ledger",
			cIDs[0].LedgerID(), ids[5].LedgerID())
	}
	ids = append(ids, cIDs...)
	payloads = append(payloads, "C0", "C1", "C2")

	t.Run("reader-from-end-of-first-ledger", func(t *testing.T) {
		r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: ids[5]})
		for _, want := range payloads[6:] {
			if m := readNext(t, ctx, r); string(m.Payload()) != want {
				t.Fatalf("reader after B2 got %q want %q", m.Payload(), want)
			}
		}
		if r.HasNext() {
			t.Fatal("HasNext true at the end")
		}
		last, err := r.GetLastMessageID()
		if err != nil {
			t.Fatal(err)
		}
		if idKey(last) != idKey(ids[8]) {
			t.Fatalf("GetLastMessageID %v, want %v", last, ids[8])
		}
		r2 := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: ids[2], StartMessageIDInclusive: true})
		for _, want := range payloads[2:] {
			if m := readNext(t, ctx, r2); string(m.Payload()) != want {
				t.Fatalf("reader from A2 got %q want %q", m.Payload(), want)
			}
		}
	})
	t.Run("durable-subscription-resumes", func(t *testing.T) {
		d := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "d"})
		expectPayloads(t, ctx, d, payloads[3:])
		expectNothing(t, d, "nothing more is due")
	})
	t.Run("seek-by-time-across-ledgers", func(t *testing.T) {
		// "t" acknowledges nothing, so the first ledger stays (retention is 0: once every
		// subscription is past a closed ledger it may be trimmed, as in Pulsar).
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "t"})
		receiveNoAck := func(want []string) []pulsar.Message {
			t.Helper()
			var out []pulsar.Message
			for _, w := range want {
				m := receive(t, ctx, cons)
				if string(m.Payload()) != w {
					t.Fatalf("got %q want %q", m.Payload(), w)
				}
				out = append(out, m)
			}
			return out
		}
		msgs := receiveNoAck(payloads)
		if err := cons.Seek(ids[1]); err != nil {
			t.Fatal(err)
		}
		receiveNoAck(payloads[2:])
		// A seek moves the subscription's mark-delete to just before its target, which
		// lets a consumed ledger be trimmed: seek forward only.
		if err := cons.SeekByTime(msgs[3].PublishTime()); err != nil {
			t.Fatal(err)
		}
		receiveNoAck(payloads[3:])
		if err := cons.SeekByTime(msgs[6].PublishTime()); err != nil {
			t.Fatal(err)
		}
		receiveNoAck(payloads[6:])
		expectNothing(t, cons, "nothing more is due")
	})
}
