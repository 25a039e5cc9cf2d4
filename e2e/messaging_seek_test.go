package e2e

import (
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestMessagingSeek: a durable consumer that consumed and acknowledged everything seeks
// back by message id (the client then delivers what follows that id), to the earliest
// position, and by publish time (delivery restarts at the first message published at or
// after it); a reader seeks too. After every seek the consumer keeps receiving, which
// needs the broker to close the consumer after the SEEK's SUCCESS.
func TestMessagingSeek(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)

	topic := uniqueTopic(t)
	prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	payloads := numbered("s", 0, 10)
	// Three groups with distinct publish times: 0-3, 4-6, 7-9.
	var ids []pulsar.MessageID
	var groupStart []time.Time
	for _, group := range [][]string{payloads[0:4], payloads[4:7], payloads[7:10]} {
		if len(ids) > 0 {
			nextMillisecond(time.Now().UnixMilli())
		}
		groupStart = append(groupStart, time.Now())
		ids = append(ids, send(t, ctx, prod, group...)...)
	}

	// A durable consumer (own subscription) that consumed and acked everything.
	consumeAll := func(t *testing.T, sub string) (pulsar.Consumer, []pulsar.Message) {
		t.Helper()
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: sub,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		msgs := expectPayloads(t, ctx, cons, payloads)
		expectNothing(t, cons, "nothing more is due")
		return cons, msgs
	}

	// Seek by id and seek by time use separate consumers: after Seek(id) the v0.19
	// client keeps filtering out ids up to that one, also after a later SeekByTime.
	t.Run("by-id", func(t *testing.T) {
		cons, _ := consumeAll(t, "by-id")
		if err := cons.Seek(ids[3]); err != nil {
			t.Fatalf("seek: %v", err)
		}
		// The broker restarts at entry ids[3]; a consumer (not inclusive) drops the
		// seek target itself.
		expectPayloads(t, ctx, cons, payloads[4:])
		expectNothing(t, cons, "nothing more is due")
		// Forward, past acknowledged messages, and back again.
		if err := cons.Seek(ids[7]); err != nil {
			t.Fatalf("seek: %v", err)
		}
		expectPayloads(t, ctx, cons, payloads[8:])
		if err := cons.Seek(ids[0]); err != nil {
			t.Fatalf("seek: %v", err)
		}
		expectPayloads(t, ctx, cons, payloads[1:])
		expectNothing(t, cons, "nothing more is due")
	})
	t.Run("by-time", func(t *testing.T) {
		cons, msgs := consumeAll(t, "by-time")
		for i := 1; i < len(msgs); i++ {
			if msgs[i].PublishTime().Before(msgs[i-1].PublishTime()) {
				t.Fatalf("publish times go backwards at %d", i)
			}
		}
		// consumer.Seek(EarliestMessageID()) is refused by the client (partition -1);
		// the beginning is reached by time.
		if err := cons.SeekByTime(time.UnixMilli(0)); err != nil {
			t.Fatalf("seek: %v", err)
		}
		expectPayloads(t, ctx, cons, payloads)
		expectNothing(t, cons, "nothing more is due")

		pt := msgs[4].PublishTime()
		if !pt.After(msgs[3].PublishTime()) {
			t.Fatalf("messages 3 and 4 share publish time %v", pt)
		}
		if err := cons.SeekByTime(pt); err != nil {
			t.Fatalf("seek by time: %v", err)
		}
		expectPayloads(t, ctx, cons, payloads[4:])
		expectNothing(t, cons, "nothing more is due")

		// One millisecond after message 6: the first message published at or after it.
		if err := cons.SeekByTime(msgs[6].PublishTime().Add(time.Millisecond)); err != nil {
			t.Fatalf("seek by time: %v", err)
		}
		expectPayloads(t, ctx, cons, payloads[7:])

		// After the end: nothing until a new message.
		if err := cons.SeekByTime(time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("seek by time: %v", err)
		}
		expectNothing(t, cons, "nothing more is due")
		more := send(t, ctx, prod, "after-seek")
		m := receive(t, ctx, cons)
		if string(m.Payload()) != "after-seek" || idKey(m.ID()) != idKey(more[0]) {
			t.Fatalf("got %q %v, want the message sent after the seek", m.Payload(), m.ID())
		}
		cons.Ack(m)
		payloads = append(payloads, "after-seek")
		ids = append(ids, more...)
	})
	t.Run("by-id-inside-batch", func(t *testing.T) {
		btopic := uniqueTopic(t)
		bprod := newProducer(t, c, pulsar.ProducerOptions{Topic: btopic, BatchingMaxPublishDelay: time.Second})
		bp := numbered("b", 0, 5)
		bids := sendBatched(t, ctx, bprod, bp...)
		if bids[4].BatchIdx() != 4 {
			t.Fatalf("not one batch: %v", bids)
		}
		send(t, ctx, bprod, "after")
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: btopic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		expectPayloads(t, ctx, cons, append(bp, "after"))
		// The broker goes back to the whole entry; the client drops the batch's messages
		// up to and including the target.
		if err := cons.Seek(bids[2]); err != nil {
			t.Fatal(err)
		}
		expectPayloads(t, ctx, cons, []string{"b-3", "b-4", "after"})
		expectNothing(t, cons, "nothing more is due")
	})
	t.Run("reader-by-id", func(t *testing.T) {
		r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
		for i := 0; i < 3; i++ {
			readNext(t, ctx, r)
		}
		if err := r.Seek(ids[7]); err != nil {
			t.Fatalf("reader seek: %v", err)
		}
		for _, want := range payloads[8:] {
			if m := readNext(t, ctx, r); string(m.Payload()) != want {
				t.Fatalf("reader after seek: %q want %q", m.Payload(), want)
			}
		}
		if r.HasNext() {
			t.Fatal("reader HasNext at the end")
		}
		// Back again, before what it read.
		if err := r.Seek(ids[1]); err != nil {
			t.Fatalf("reader seek: %v", err)
		}
		if m := readNext(t, ctx, r); string(m.Payload()) != payloads[2] {
			t.Fatalf("reader after seeking back: %q want %q", m.Payload(), payloads[2])
		}
	})
	t.Run("reader-by-time", func(t *testing.T) {
		// The client reconnects after a seek by time with its original start (earliest)
		// as start_message_id: the broker must keep the reader's reset cursor rather than
		// start a new one there.
		r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
		for i := 0; i < 8; i++ {
			readNext(t, ctx, r)
		}
		if err := r.SeekByTime(groupStart[1]); err != nil {
			t.Fatalf("reader seek by time: %v", err)
		}
		// HasNext after a seek by time asks GET_LAST_MESSAGE_ID for the mark-delete
		// position, and from then on drops what lies at or before it.
		for _, want := range payloads[4:] {
			if !r.HasNext() {
				t.Fatalf("HasNext false before %q", want)
			}
			if m := readNext(t, ctx, r); string(m.Payload()) != want {
				t.Fatalf("reader after seek by time: %q want %q", m.Payload(), want)
			}
		}
		if r.HasNext() {
			t.Fatal("HasNext true at the end")
		}
		// Past the end: nothing.
		if err := r.SeekByTime(time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("reader seek by time: %v", err)
		}
		if r.HasNext() {
			t.Fatal("HasNext true after seeking past the end")
		}
	})
}
