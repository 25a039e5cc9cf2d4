package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// Helpers shared by the TestMessaging* tests: one standalone per test function, one
// client per standalone, and unique topic names per subtest.

// msgCtx returns a context bounded by d, cancelled at test cleanup.
func msgCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// msgTopic returns a fresh fully-qualified topic name for this test.
func msgTopic(t *testing.T, prefix string) string {
	t.Helper()
	return fmt.Sprintf("persistent://public/default/%s-%d", prefix, time.Now().UnixNano())
}

func msgProducer(t *testing.T, c pulsar.Client, opts pulsar.ProducerOptions) pulsar.Producer {
	t.Helper()
	p, err := c.CreateProducer(opts)
	if err != nil {
		t.Fatalf("create producer on %s: %v", opts.Topic, err)
	}
	t.Cleanup(p.Close)
	return p
}

func msgConsumer(t *testing.T, c pulsar.Client, opts pulsar.ConsumerOptions) pulsar.Consumer {
	t.Helper()
	cons, err := c.Subscribe(opts)
	if err != nil {
		t.Fatalf("subscribe %s%v: %v", opts.Topic, opts.Topics, err)
	}
	t.Cleanup(cons.Close)
	return cons
}

func msgReader(t *testing.T, c pulsar.Client, opts pulsar.ReaderOptions) pulsar.Reader {
	t.Helper()
	r, err := c.CreateReader(opts)
	if err != nil {
		t.Fatalf("create reader on %s: %v", opts.Topic, err)
	}
	t.Cleanup(r.Close)
	return r
}

// msgSend sends payloads synchronously and returns their ids.
func msgSend(t *testing.T, ctx context.Context, p pulsar.Producer, payloads ...string) []pulsar.MessageID {
	t.Helper()
	ids := make([]pulsar.MessageID, len(payloads))
	for i, pl := range payloads {
		id, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte(pl)})
		if err != nil {
			t.Fatalf("send %q: %v", pl, err)
		}
		ids[i] = id
	}
	return ids
}

// msgSendBatch sends payloads asynchronously (so they share batches), flushes, and
// returns their ids in order.
func msgSendBatch(t *testing.T, ctx context.Context, p pulsar.Producer, payloads ...string) []pulsar.MessageID {
	t.Helper()
	ids := make([]pulsar.MessageID, len(payloads))
	errs := make(chan error, len(payloads))
	for i, pl := range payloads {
		p.SendAsync(ctx, &pulsar.ProducerMessage{Payload: []byte(pl)}, func(id pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			ids[i] = id
			errs <- err
		})
	}
	if err := p.FlushWithCtx(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for range payloads {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("send async: %v", err)
			}
		case <-ctx.Done():
			t.Fatalf("send async: %v", ctx.Err())
		}
	}
	return ids
}

// msgPayloads returns "<prefix>-0" … "<prefix>-(n-1)".
func msgPayloads(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// msgReceive receives one message within d.
func msgReceive(t *testing.T, cons pulsar.Consumer, d time.Duration) pulsar.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := cons.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

// msgExpectPayloads receives len(want) messages, checks them in order and acks them.
func msgExpectPayloads(t *testing.T, cons pulsar.Consumer, want []string) []pulsar.Message {
	t.Helper()
	out := make([]pulsar.Message, 0, len(want))
	for i, w := range want {
		m := msgReceive(t, cons, 30*time.Second)
		if got := string(m.Payload()); got != w {
			t.Fatalf("message %d: got %q, want %q (id %v)", i, got, w, m.ID())
		}
		if err := cons.Ack(m); err != nil {
			t.Fatalf("ack %v: %v", m.ID(), err)
		}
		out = append(out, m)
	}
	return out
}

// msgExpectNothing asserts that nothing arrives within d.
func msgExpectNothing(t *testing.T, cons pulsar.Consumer, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := cons.Receive(ctx)
	if err == nil {
		t.Fatalf("unexpected message %q (id %v)", m.Payload(), m.ID())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive: %v", err)
	}
}

// msgReaderNext reads one message within d.
func msgReaderNext(t *testing.T, r pulsar.Reader, d time.Duration) pulsar.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := r.Next(ctx)
	if err != nil {
		t.Fatalf("reader next: %v", err)
	}
	return m
}

// msgRandomBytes returns n bytes from a seeded generator (logged, so a failure can be
// replayed); they do not compress, so a chunked message stays large on the wire.
func msgRandomBytes(t *testing.T, n int) []byte {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random payload seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// msgNextMillisecond returns once the wall clock's millisecond has moved past ms, so
// that messages sent before and after carry different publish times.
func msgNextMillisecond(ms int64) {
	for time.Now().UnixMilli() <= ms {
		time.Sleep(100 * time.Microsecond)
	}
}

// msgIDKey is (ledger, entry, batch index) of an id, for comparisons.
func msgIDKey(id pulsar.MessageID) [3]int64 {
	return [3]int64{id.LedgerID(), id.EntryID(), int64(id.BatchIdx())}
}
