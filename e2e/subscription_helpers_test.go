package e2e

import (
	"context"
	"sync"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

// Helpers of the subscription tests beyond sending and receiving (clients_test.go).

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
