package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestMessagingProduceConsume: every codec pulsar-client-go v0.19.0 offers (NONE, LZ4,
// ZLIB, ZSTD, SNAPPY), with batching on and off, round-trips payloads, keys, ordering
// keys, properties and event times in order; and a 3 MiB message sent in chunks comes
// back intact as one message.
func TestMessagingProduceConsume(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)

	codecs := []struct {
		name string
		typ  pulsar.CompressionType
	}{
		{"none", pulsar.NoCompression},
		{"lz4", pulsar.LZ4},
		{"zlib", pulsar.ZLib},
		{"zstd", pulsar.ZSTD},
		{"snappy", pulsar.SNAPPY},
	}
	for _, codec := range codecs {
		for _, batching := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/batching=%v", codec.name, batching), func(t *testing.T) {
				ctx := testCtx(t)
				topic := uniqueTopic(t)
				cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
					SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
				prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, CompressionType: codec.typ,
					DisableBatching: !batching, BatchingMaxPublishDelay: 50 * time.Millisecond})

				const n = 60
				base := time.UnixMilli(1_700_000_000_000)
				// A compressible payload, so the codec has something to do.
				body := func(i int) []byte {
					return bytes.Repeat([]byte(fmt.Sprintf("msg-%03d;", i)), 40)
				}
				ids := make([]pulsar.MessageID, n)
				errs := make(chan error, n)
				for i := 0; i < n; i++ {
					msg := &pulsar.ProducerMessage{
						Payload:     body(i),
						Key:         fmt.Sprintf("k%d", i%7),
						OrderingKey: fmt.Sprintf("o%d", i%3),
						Properties:  map[string]string{"i": fmt.Sprint(i), "codec": codec.name},
						EventTime:   base.Add(time.Duration(i) * time.Second),
					}
					prod.SendAsync(ctx, msg, func(id pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
						ids[i] = id
						errs <- err
					})
				}
				if err := prod.FlushWithCtx(ctx); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < n; i++ {
					if err := <-errs; err != nil {
						t.Fatalf("send: %v", err)
					}
				}
				batched := 0
				for _, id := range ids {
					if id.BatchIdx() > 0 {
						batched++
					}
				}
				if batching && batched == 0 {
					t.Errorf("batching on, but no message id has a batch index > 0: the sends were not batched")
				}
				if !batching && batched > 0 {
					t.Errorf("batching off, but %d ids have a batch index > 0", batched)
				}
				for i := 0; i < n; i++ {
					m := receive(t, ctx, cons)
					if !bytes.Equal(m.Payload(), body(i)) {
						t.Fatalf("message %d: payload %q…", i, m.Payload()[:min(20, len(m.Payload()))])
					}
					if got, want := m.Key(), fmt.Sprintf("k%d", i%7); got != want {
						t.Errorf("message %d: key %q want %q", i, got, want)
					}
					if got, want := m.OrderingKey(), fmt.Sprintf("o%d", i%3); got != want {
						t.Errorf("message %d: ordering key %q want %q", i, got, want)
					}
					if got := m.Properties(); got["i"] != fmt.Sprint(i) || got["codec"] != codec.name || len(got) != 2 {
						t.Errorf("message %d: properties %v", i, got)
					}
					if got, want := m.EventTime(), base.Add(time.Duration(i)*time.Second); !got.Equal(want) {
						t.Errorf("message %d: event time %v want %v", i, got, want)
					}
					if m.PublishTime().IsZero() {
						t.Errorf("message %d: no publish time", i)
					}
					if idKey(m.ID()) != idKey(ids[i]) {
						t.Errorf("message %d: id %v, producer got %v", i, m.ID(), ids[i])
					}
					if err := cons.Ack(m); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}

	t.Run("largest-unchunked-message", func(t *testing.T) {
		// Just under max_message_size (5 MiB) with its metadata: one SEND and one
		// MESSAGE frame near the frame limit.
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		big := randomBytes(t, 5<<20-1024)
		if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: big}); err != nil {
			t.Fatalf("send %d bytes: %v", len(big), err)
		}
		m := receive(t, ctx, cons)
		if !bytes.Equal(m.Payload(), big) {
			t.Fatalf("got %d bytes back, want the %d sent", len(m.Payload()), len(big))
		}
		cons.Ack(m)
	})

	t.Run("many-batches-past-the-receiver-queue", func(t *testing.T) {
		// 5000 messages in batches against a 1000-message receiver queue: permits count
		// messages, a batch may overshoot them, and delivery resumes with each FLOW.
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, BatchingMaxMessages: 300,
			BatchingMaxPublishDelay: 20 * time.Millisecond, CompressionType: pulsar.LZ4})
		payloads := numbered("many", 0, 5000)
		sendBatched(t, ctx, prod, payloads...)
		for i, want := range payloads {
			m := receive(t, ctx, cons)
			if string(m.Payload()) != want {
				t.Fatalf("message %d: %q want %q", i, m.Payload(), want)
			}
			cons.Ack(m)
		}
		expectNothing(t, cons, "nothing more is due")
	})

	t.Run("empty-payload-with-properties", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		for _, batching := range []bool{false, true} {
			prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: !batching})
			if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Properties: map[string]string{"batching": fmt.Sprint(batching)}}); err != nil {
				t.Fatal(err)
			}
			m := receive(t, ctx, cons)
			if len(m.Payload()) != 0 || m.Properties()["batching"] != fmt.Sprint(batching) {
				t.Fatalf("batching=%v: payload %q properties %v", batching, m.Payload(), m.Properties())
			}
			cons.Ack(m)
		}
	})

	// A chunked message comes back whole, byte for byte.
	for _, tc := range []struct {
		name    string
		opts    pulsar.ProducerOptions // Topic, DisableBatching and EnableChunking are set
		payload func(t *testing.T) []byte
	}{
		// Without ChunkMaxMessageSize each chunk fills max_message_size (5 MiB) less its
		// metadata: SEND and MESSAGE frames right at the frame limit.
		{"chunked-at-max-message-size", pulsar.ProducerOptions{},
			func(t *testing.T) []byte { return randomBytes(t, 12<<20) }},
		// Chunks of a compressed message: the consumer reassembles, then decompresses
		// with the last chunk's metadata. Half random, half repetitive: it compresses,
		// yet still needs several chunks.
		{"chunked-compressed", pulsar.ProducerOptions{ChunkMaxMessageSize: 256 << 10, CompressionType: pulsar.ZSTD},
			func(t *testing.T) []byte {
				return append(randomBytes(t, 1<<20), bytes.Repeat([]byte("strata"), 200_000)...)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			topic := uniqueTopic(t)
			cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
				SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
			opts := tc.opts
			opts.Topic, opts.DisableBatching, opts.EnableChunking = topic, true, true
			prod := newProducer(t, c, opts)
			big := tc.payload(t)
			if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: big}); err != nil {
				t.Fatalf("send %d bytes chunked: %v", len(big), err)
			}
			m := receive(t, ctx, cons)
			if !bytes.Equal(m.Payload(), big) {
				t.Fatalf("got %d bytes, want %d identical bytes", len(m.Payload()), len(big))
			}
			cons.Ack(m)
		})
	}

	t.Run("chunked-3MiB", func(t *testing.T) {
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true,
			EnableChunking: true, ChunkMaxMessageSize: 1 << 20})
		big := randomBytes(t, 3<<20)
		// A small message on either side: chunks must not disturb the order.
		before := send(t, ctx, prod, "before")[0]
		id, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: big, Key: "big",
			Properties: map[string]string{"size": "3MiB"}})
		if err != nil {
			t.Fatalf("send 3 MiB chunked: %v", err)
		}
		after := send(t, ctx, prod, "after")[0]
		// Each chunk is its own entry: at least three of them lie between the two small
		// messages (when no ledger rollover separates them).
		if after.LedgerID() == before.LedgerID() && after.EntryID()-before.EntryID()-1 < 3 {
			t.Fatalf("the 3 MiB message took %d entries, want >= 3 chunks (before %v, after %v)",
				after.EntryID()-before.EntryID()-1, before, after)
		}

		if m := receive(t, ctx, cons); string(m.Payload()) != "before" {
			t.Fatalf("first message %q", m.Payload())
		} else {
			cons.Ack(m)
		}
		m := receive(t, ctx, cons)
		if !bytes.Equal(m.Payload(), big) {
			t.Fatalf("chunked message: got %d bytes, want %d identical bytes", len(m.Payload()), len(big))
		}
		if m.Key() != "big" || m.Properties()["size"] != "3MiB" {
			t.Errorf("chunked message: key %q properties %v", m.Key(), m.Properties())
		}
		// The ids are chunkMessageIDs (first chunk … last chunk); they must agree on the
		// last chunk's position.
		if m.ID().LedgerID() != id.LedgerID() || m.ID().EntryID() != id.EntryID() {
			t.Errorf("chunked message id %v, producer got %v", m.ID(), id)
		}
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
		if m := receive(t, ctx, cons); string(m.Payload()) != "after" {
			t.Fatalf("message after the chunked one: %q", m.Payload())
		} else {
			cons.Ack(m)
		}
	})
}
