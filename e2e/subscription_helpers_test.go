package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// Helpers shared by the subscription and durability tests.

var topicUnsafe = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// uniqueTopic is a fresh persistent topic named after the test.
func uniqueTopic(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(topicUnsafe.ReplaceAllString(t.Name(), "-"))
	return fmt.Sprintf("persistent://public/default/%s-%d", strings.Trim(name, "-"), rand.Uint32())
}

// noMessageWithin is how long a "nothing arrives" check listens. The broker sends
// what it has within a few milliseconds of a permit or an append; a message that
// should not be sent at all has no event to wait for, so the check is a bounded
// Receive that must time out.
const noMessageWithin = 500 * time.Millisecond

// expectNothing asserts that cons receives no message within noMessageWithin (see
// its comment for why this is a bounded wait rather than an event).
func expectNothing(t *testing.T, cons pulsar.Consumer, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), noMessageWithin)
	defer cancel()
	m, err := cons.Receive(ctx)
	if err == nil {
		t.Fatalf("%s: %s unexpectedly received %q (id %v, redelivery %d)", why, cons.Name(), m.Payload(), m.ID(), m.RedeliveryCount())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: receive on %s: %v", why, cons.Name(), err)
	}
}

// receive waits for one message until ctx ends.
func receive(ctx context.Context, t *testing.T, cons pulsar.Consumer, what string) pulsar.Message {
	t.Helper()
	m, err := cons.Receive(ctx)
	if err != nil {
		t.Fatalf("%s: receive on %s: %v", what, cons.Name(), err)
	}
	return m
}

// sendSync produces payloads in order and fails the test on the first error.
func sendSync(ctx context.Context, t *testing.T, p pulsar.Producer, payloads ...string) []pulsar.MessageID {
	t.Helper()
	ids := make([]pulsar.MessageID, 0, len(payloads))
	for _, pl := range payloads {
		id, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: []byte(pl)})
		if err != nil {
			t.Fatalf("send %q: %v", pl, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// numbered returns prefix-0 … prefix-(n-1).
func numbered(prefix string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// eventRecorder is a ConsumerEventListener that forwards every Failover state change.
type eventRecorder struct {
	name string
	ch   chan activeEvent

	mu      sync.Mutex
	state   map[string]bool // topic → last state
	changed chan struct{}   // poked on every event
}

// activeEvent is one BecameActive (active) or BecameInactive call.
type activeEvent struct {
	topic  string
	active bool
}

func newEventRecorder(name string) *eventRecorder {
	return &eventRecorder{name: name, ch: make(chan activeEvent, 64), state: map[string]bool{},
		changed: make(chan struct{}, 1)}
}

func (r *eventRecorder) record(topic string, active bool) {
	r.mu.Lock()
	r.state[topic] = active
	r.mu.Unlock()
	select {
	case r.ch <- activeEvent{topic, active}:
	default: // expect is not used for this consumer; the state is what counts
	}
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *eventRecorder) BecameActive(_ pulsar.Consumer, topic string, _ int32) {
	r.record(topic, true)
}
func (r *eventRecorder) BecameInactive(_ pulsar.Consumer, topic string, _ int32) {
	r.record(topic, false)
}

// expect waits for the next event and checks it is the wanted state.
func (r *eventRecorder) expect(ctx context.Context, t *testing.T, active bool) {
	t.Helper()
	select {
	case got := <-r.ch:
		if got.active != active {
			t.Fatalf("consumer %s: got event active=%v, want active=%v", r.name, got.active, active)
		}
	case <-ctx.Done():
		t.Fatalf("consumer %s: no event active=%v: %v", r.name, active, ctx.Err())
	}
}

// expectState waits until the last event for topic says active.
func (r *eventRecorder) expectState(ctx context.Context, t *testing.T, topic string, active bool) {
	t.Helper()
	for {
		r.mu.Lock()
		got, ok := r.state[topic]
		r.mu.Unlock()
		if ok && got == active {
			return
		}
		select {
		case <-r.changed:
		case <-ctx.Done():
			t.Fatalf("consumer %s: not told active=%v for %s (last state %v, known %v): %v", r.name, active, topic, got, ok, ctx.Err())
		}
	}
}

// testDir is where a test's standalone keeps its data and log: a fresh directory under
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
