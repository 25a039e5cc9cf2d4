package e2e

import (
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestMessagingReaders: readers start at Earliest, Latest (exclusive and inclusive) and
// at a message id (inclusive and exclusive, unbatched and inside a batch); HasNext and
// GetLastMessageID answer right on an empty topic, an unbatched last entry and a batched
// last entry (where the batch index of the last message decides whether a reader stops
// after the first message of the batch).
func TestMessagingReaders(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)

	t.Run("empty-topic", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
		if r.HasNext() {
			t.Fatal("HasNext on an empty topic")
		}
		last, err := r.GetLastMessageID()
		if err != nil {
			t.Fatal(err)
		}
		if last.EntryID() != -1 {
			t.Fatalf("last message id of an empty topic %v, want entry -1", last)
		}
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s"})
		ids, err := cons.GetLastMessageIDs()
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0].EntryID() != -1 {
			t.Fatalf("consumer GetLastMessageIDs on an empty topic: %v", ids)
		}
		// A message produced now reaches the reader that started on the empty topic.
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
		send(t, ctx, prod, "first")
		if m := readNext(t, ctx, r); string(m.Payload()) != "first" {
			t.Fatalf("reader got %q", m.Payload())
		}
		if r.HasNext() {
			t.Fatal("HasNext after reading the only message")
		}
	})

	t.Run("unbatched", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		payloads := numbered("u", 0, 10)
		ids := send(t, ctx, prod, payloads...)

		checkLast := func(r pulsar.Reader) {
			t.Helper()
			last, err := r.GetLastMessageID()
			if err != nil {
				t.Fatal(err)
			}
			if last.LedgerID() != ids[9].LedgerID() || last.EntryID() != ids[9].EntryID() || last.BatchIdx() != 0 {
				t.Fatalf("GetLastMessageID %v (batch %d), want %v batch 0", last, last.BatchIdx(), ids[9])
			}
		}

		t.Run("earliest", func(t *testing.T) {
			r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
			checkLast(r)
			for i := 0; i < 10; i++ {
				if !r.HasNext() {
					t.Fatalf("HasNext false before message %d", i)
				}
				m := readNext(t, ctx, r)
				if string(m.Payload()) != payloads[i] || idKey(m.ID()) != idKey(ids[i]) {
					t.Fatalf("message %d: %q %v, want %q %v", i, m.Payload(), m.ID(), payloads[i], ids[i])
				}
			}
			if r.HasNext() {
				t.Fatal("HasNext true after the last message")
			}
		})
		t.Run("latest", func(t *testing.T) {
			r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID()})
			if r.HasNext() {
				t.Fatal("HasNext on a reader at Latest")
			}
			more := send(t, ctx, prod, "late")
			m := readNext(t, ctx, r)
			if string(m.Payload()) != "late" {
				t.Fatalf("reader at Latest got %q, want the message produced after it started", m.Payload())
			}
			ids = append(ids, more...)
			payloads = append(payloads, "late")
		})
		t.Run("latest-inclusive", func(t *testing.T) {
			r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID(),
				StartMessageIDInclusive: true})
			if !r.HasNext() {
				t.Fatal("HasNext false on a latest-inclusive reader of a non-empty topic")
			}
			m := readNext(t, ctx, r)
			if want := payloads[len(payloads)-1]; string(m.Payload()) != want {
				t.Fatalf("latest-inclusive reader got %q, want the last message %q", m.Payload(), want)
			}
		})
		for _, inclusive := range []bool{true, false} {
			name := "from-id-exclusive"
			first := 5
			if inclusive {
				name, first = "from-id-inclusive", 4
			}
			t.Run(name, func(t *testing.T) {
				r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: ids[4], StartMessageIDInclusive: inclusive})
				for i := first; i < len(ids); i++ {
					if !r.HasNext() {
						t.Fatalf("HasNext false before message %d", i)
					}
					m := readNext(t, ctx, r)
					if string(m.Payload()) != payloads[i] {
						t.Fatalf("got %q want %q", m.Payload(), payloads[i])
					}
				}
				if r.HasNext() {
					t.Fatal("HasNext true at the end")
				}
			})
		}
	})

	t.Run("batched", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: time.Second})
		payloads := numbered("b", 0, 5)
		ids := sendBatched(t, ctx, prod, payloads...)
		if ids[4].BatchIdx() != 4 || ids[0].EntryID() != ids[4].EntryID() {
			t.Fatalf("the five messages are not one batch: %v", ids)
		}

		t.Run("last-message-id", func(t *testing.T) {
			r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
			last, err := r.GetLastMessageID()
			if err != nil {
				t.Fatal(err)
			}
			if idKey(last) != idKey(ids[4]) {
				t.Fatalf("GetLastMessageID %v batch %d, want %v batch 4", last, last.BatchIdx(), ids[4])
			}
		})
		t.Run("earliest-reads-whole-batch", func(t *testing.T) {
			r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
			for i := 0; i < 5; i++ {
				if !r.HasNext() {
					t.Fatalf("HasNext false before message %d of the batch", i)
				}
				m := readNext(t, ctx, r)
				if string(m.Payload()) != payloads[i] || m.ID().BatchIdx() != int32(i) {
					t.Fatalf("message %d: %q batch %d", i, m.Payload(), m.ID().BatchIdx())
				}
			}
			if r.HasNext() {
				t.Fatal("HasNext true after the batch")
			}
		})
		t.Run("from-id-inside-batch", func(t *testing.T) {
			for _, tc := range []struct {
				inclusive bool
				first     int
			}{{true, 2}, {false, 3}} {
				r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: ids[2], StartMessageIDInclusive: tc.inclusive})
				for i := tc.first; i < 5; i++ {
					m := readNext(t, ctx, r)
					if string(m.Payload()) != payloads[i] {
						t.Fatalf("inclusive=%v: got %q want %q", tc.inclusive, m.Payload(), payloads[i])
					}
				}
				if r.HasNext() {
					t.Fatalf("inclusive=%v: HasNext true at the end", tc.inclusive)
				}
				r.Close()
			}
		})
		t.Run("latest-inclusive", func(t *testing.T) {
			r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID(),
				StartMessageIDInclusive: true})
			m := readNext(t, ctx, r)
			if string(m.Payload()) != payloads[4] {
				t.Fatalf("latest-inclusive reader got %q, want the last message of the batch", m.Payload())
			}
			if r.HasNext() {
				t.Fatal("HasNext true after the last message")
			}
		})
	})
}
