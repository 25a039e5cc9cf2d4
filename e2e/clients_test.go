package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/internal/testenv"
)

// The one family of client helpers of the e2e tests: names, the Pulsar client and its
// producers, consumers and readers (closed at test cleanup), sending and receiving.
// Every helper fails the test on the first error; every wait ends with ctx, which the
// test bounds by a failsafe (testCtx), except expectNothing's bounded listen.

// e2eFailsafe bounds every e2e test, which otherwise waits only for events: it ends a
// test that hangs, and nothing waits on it.
const e2eFailsafe = 4 * time.Minute

// testCtx is the test's context: cancelled when the test ends or at e2eFailsafe.
func testCtx(t *testing.T) context.Context { return testenv.Context(t, e2eFailsafe) }

var topicUnsafe = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// uniqueTopic is a fresh persistent topic in public/default named after the test.
func uniqueTopic(t *testing.T) string {
	t.Helper()
	return uniqueTopicIn(t, "public/default")
}

// uniqueTopicIn is a fresh persistent topic in namespace ns (tenant/namespace) named
// after the test. The random suffix only keeps names apart; it is not test data, so it
// does not come from the test's seed.
func uniqueTopicIn(t *testing.T, ns string) string {
	t.Helper()
	name := strings.ToLower(topicUnsafe.ReplaceAllString(t.Name(), "-"))
	return fmt.Sprintf("persistent://%s/%s-%d", ns, strings.Trim(name, "-"), rand.Uint32())
}

// testDir is where a test's processes keep their data and logs: a fresh directory under
// $STRATA_E2E_KEEP when that is set (kept after the test, for debugging), otherwise a
// temporary one removed at the end.
func testDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("STRATA_E2E_KEEP")
	if root == "" {
		return t.TempDir()
	}
	d, err := os.MkdirTemp(root, topicUnsafe.ReplaceAllString(t.Name(), "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("data and log kept in %s", d)
	return d
}

// newClient connects a Pulsar client to url (pulsar:// or http://).
func newClient(t *testing.T, url string) pulsar.Client {
	t.Helper()
	c, err := pulsar.NewClient(pulsar.ClientOptions{URL: url, OperationTimeout: 30 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newProducer, subscribe and newReader create what their names say, closed at test
// cleanup; closing one earlier is fine (Close is idempotent).
func newProducer(t *testing.T, c pulsar.Client, opts pulsar.ProducerOptions) pulsar.Producer {
	t.Helper()
	p, err := c.CreateProducer(opts)
	return closedAtCleanup(t, p, err, "create producer on "+opts.Topic)
}

func subscribe(t *testing.T, c pulsar.Client, opts pulsar.ConsumerOptions) pulsar.Consumer {
	t.Helper()
	cons, err := c.Subscribe(opts)
	return closedAtCleanup(t, cons, err, fmt.Sprintf("subscribe %s to %s%v%s", opts.SubscriptionName, opts.Topic, opts.Topics, opts.TopicsPattern))
}

func newReader(t *testing.T, c pulsar.Client, opts pulsar.ReaderOptions) pulsar.Reader {
	t.Helper()
	r, err := c.CreateReader(opts)
	return closedAtCleanup(t, r, err, "create reader on "+opts.Topic)
}

// closedAtCleanup fails the test if err is set, and otherwise closes v at cleanup.
func closedAtCleanup[T interface{ Close() }](t *testing.T, v T, err error, what string) T {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Cleanup(v.Close)
	return v
}

// numbered returns "<prefix>-<from>" … "<prefix>-<to-1>".
func numbered(prefix string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// send sends payloads one at a time, each acknowledged before the next, and returns
// their ids.
func send(t *testing.T, ctx context.Context, p pulsar.Producer, payloads ...string) []pulsar.MessageID {
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

// sendBatched sends payloads asynchronously (so that a batching producer puts them in
// shared batches), flushes, and returns their ids in order.
func sendBatched(t *testing.T, ctx context.Context, p pulsar.Producer, payloads ...string) []pulsar.MessageID {
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

// receive waits for the consumer's next message.
func receive(t *testing.T, ctx context.Context, cons pulsar.Consumer) pulsar.Message {
	t.Helper()
	m, err := cons.Receive(ctx)
	if err != nil {
		t.Fatalf("receive on %s (subscription %s): %v", cons.Name(), cons.Subscription(), err)
	}
	return m
}

// readNext waits for the reader's next message.
func readNext(t *testing.T, ctx context.Context, r pulsar.Reader) pulsar.Message {
	t.Helper()
	m, err := r.Next(ctx)
	if err != nil {
		t.Fatalf("reader on %s: next: %v", r.Topic(), err)
	}
	return m
}

// expectPayloads receives len(want) messages, checks them in order and acks them.
func expectPayloads(t *testing.T, ctx context.Context, cons pulsar.Consumer, want []string) []pulsar.Message {
	t.Helper()
	out := make([]pulsar.Message, 0, len(want))
	for i, w := range want {
		m := receive(t, ctx, cons)
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

// receiveSet receives n messages, acks them, and returns payload → topic; it fails on
// a duplicate.
func receiveSet(t *testing.T, ctx context.Context, cons pulsar.Consumer, n int) map[string]string {
	t.Helper()
	got := map[string]string{}
	for i := 0; i < n; i++ {
		m := receive(t, ctx, cons)
		if prev, dup := got[string(m.Payload())]; dup {
			t.Fatalf("%q received twice (from %s and %s)", m.Payload(), prev, m.Topic())
		}
		got[string(m.Payload())] = m.Topic()
		cons.Ack(m)
	}
	return got
}

// noMessageWithin is how long a "nothing arrives" check listens. The broker sends what
// it has within a few milliseconds of a permit or an append (and redelivers a negative
// ack after the tests' 100 ms NackRedeliveryDelay); a message that should not be sent
// at all has no event to wait for, so the check is a bounded Receive that must time out.
const noMessageWithin = 500 * time.Millisecond

// expectNothing asserts that cons receives no message within noMessageWithin (see its
// comment for why this is a bounded wait rather than an event).
func expectNothing(t *testing.T, cons pulsar.Consumer, why string) {
	t.Helper()
	expectNothingFor(t, cons, noMessageWithin, why)
}

// expectNothingFor is expectNothing listening for d.
func expectNothingFor(t *testing.T, cons pulsar.Consumer, d time.Duration, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := cons.Receive(ctx)
	if err == nil {
		t.Fatalf("%s: %s unexpectedly received %q (id %v, redelivery %d)", why, cons.Name(), m.Payload(), m.ID(), m.RedeliveryCount())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: receive on %s: %v", why, cons.Name(), err)
	}
}
