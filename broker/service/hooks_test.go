package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/topic"
)

// hookEvent is one call a recordingHooks saw.
type hookEvent struct {
	what  string // "loaded" or "closing"
	topic *Topic
	// maxProducers is the effective policy TopicLoaded was given.
	maxProducers int
	// addErr is the outcome of an append TopicClosing made: nil while the managed
	// ledger is still open (the hook runs before it closes).
	addErr error
}

// recordingHooks records every call, in order, and lets a test wait for the next one.
type recordingHooks struct {
	mu     sync.Mutex
	events []hookEvent
	next   chan hookEvent // every event, unbuffered reads are not required
}

func newRecordingHooks() *recordingHooks { return &recordingHooks{next: make(chan hookEvent, 64)} }

func (r *recordingHooks) TopicLoaded(t *Topic, pol resources.Policies) {
	r.record(hookEvent{what: "loaded", topic: t, maxProducers: pol.MaxProducersPerTopic})
}

func (r *recordingHooks) TopicClosing(ctx context.Context, t *Topic) {
	done := make(chan error, 1)
	t.ManagedLedger().AsyncAdd([]byte("written by the closing hook"), func(_ managedledger.Position, err error) { done <- err })
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	r.record(hookEvent{what: "closing", topic: t, addErr: err})
}

func (r *recordingHooks) record(e hookEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.next <- e
}

// wait returns the next event, failing the test if it is not what/t.
func (r *recordingHooks) wait(ctx context.Context, t *testing.T, what string, tp *Topic) hookEvent {
	t.Helper()
	select {
	case e := <-r.next:
		if e.what != what || (tp != nil && e.topic != tp) {
			t.Fatalf("hook event %s of %p, want %s of %p", e.what, e.topic, what, tp)
		}
		return e
	case <-ctx.Done():
		t.Fatalf("no %s hook call", what)
		return hookEvent{}
	}
}

// none fails the test if an event is pending.
func (r *recordingHooks) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-r.next:
		t.Fatalf("unexpected hook event %s of %s", e.what, e.topic.Name())
	default:
	}
}

// hookedService is a broker's topic service with hooks h, on a ledger client of its own
// (as a broker has).
func hookedService(ctx context.Context, t *testing.T, c *bookietest.Cluster, h TopicHooks) *Service {
	t.Helper()
	mlf := managedledger.NewFactory(c.Store, c.NewClient(), managedledger.Config{})
	s := New(c.Store, mlf, Config{TopicHooks: []TopicHooks{h}})
	if err := s.Namespaces.Bootstrap(ctx, "standalone"); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTopicHooks: "loaded" once per open, with the effective policies; "closing" once
// per close, before the managed ledger closes, whatever closes the topic — an unload, a
// delete, a fence, the broker closing.
func TestTopicHooks(t *testing.T) {
	ctx := testCtx(t)
	c := bookietest.Start(t, "/hooks", 1)
	h := newRecordingHooks()
	svc := hookedService(ctx, t, c, h)
	defer svc.Close(ctx)
	if err := svc.Namespaces.UpdatePolicies(ctx, "public/default", func(p *resources.Policies) error {
		p.MaxProducersPerTopic = 7
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	name, _ := topic.Parse("hooked")

	// Concurrent opens: one load, one call.
	var wg sync.WaitGroup
	got := make([]*Topic, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = svc.Topic(ctx, name, true)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	tp := got[0]
	if e := h.wait(ctx, t, "loaded", tp); e.maxProducers != 7 {
		t.Fatalf("TopicLoaded got MaxProducersPerTopic %d, want the namespace's 7", e.maxProducers)
	}
	h.none(t)

	// Unload: closing, before the ledger closed; the next use loads it afresh.
	if err := svc.Unload(ctx, name); err != nil {
		t.Fatal(err)
	}
	if e := h.wait(ctx, t, "closing", tp); e.addErr != nil {
		t.Fatalf("append from TopicClosing at unload: %v (the managed ledger closed before the hook)", e.addErr)
	}
	tp2, err := svc.Topic(ctx, name, true)
	if err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "loaded", tp2)

	// Delete.
	if err := svc.DeleteTopic(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	if e := h.wait(ctx, t, "closing", tp2); e.addErr != nil {
		t.Fatalf("append from TopicClosing at delete: %v", e.addErr)
	}

	// Fence: another broker opens the topic; the first notices on its next publish and
	// closes the topic by itself.
	fenced, _ := topic.Parse("hooked-fenced")
	tp3, err := svc.Topic(ctx, fenced, true)
	if err != nil {
		t.Fatal(err)
	}
	h.wait(ctx, t, "loaded", tp3)
	publish := func(tp *Topic, seq uint64) error {
		done := make(chan error, 1)
		tp.Publish(PublishMessage{Producer: "p", Entry: entry(t, "p", seq), NumMessages: 1},
			func(_ managedledger.Position, err error) { done <- err })
		return <-done
	}
	if err := publish(tp3, 0); err != nil {
		t.Fatal(err)
	}
	h2 := newRecordingHooks()
	svc2 := hookedService(ctx, t, c, h2)
	defer svc2.Close(ctx)
	other, err := svc2.Topic(ctx, fenced, true)
	if err != nil {
		t.Fatal(err)
	}
	h2.wait(ctx, t, "loaded", other)
	if err := publish(tp3, 1); !errors.Is(err, managedledger.ErrFenced) {
		t.Fatalf("publish on a fenced topic: %v, want ErrFenced", err)
	}
	if e := h.wait(ctx, t, "closing", tp3); !errors.Is(e.addErr, managedledger.ErrFenced) {
		// After a fence the ledger is not ours any more: the hook still runs first.
		t.Fatalf("append from TopicClosing after a fence: %v, want ErrFenced", e.addErr)
	}

	// Broker close: every loaded topic is told.
	var names []string
	for i := range 3 {
		n, _ := topic.Parse(fmt.Sprintf("hooked-close-%d", i))
		tp, err := svc.Topic(ctx, n, true)
		if err != nil {
			t.Fatal(err)
		}
		h.wait(ctx, t, "loaded", tp)
		names = append(names, n.String())
	}
	svc.Close(ctx)
	closed := map[string]bool{}
	for range names {
		e := h.wait(ctx, t, "closing", nil)
		if e.addErr != nil {
			t.Errorf("append from TopicClosing at broker close: %v", e.addErr)
		}
		closed[e.topic.Name().String()] = true
	}
	for _, n := range names {
		if !closed[n] {
			t.Errorf("%s closed without TopicClosing", n)
		}
	}
	h.none(t)

	// Every closing followed its topic's loaded.
	h.mu.Lock()
	defer h.mu.Unlock()
	loaded := map[*Topic]int{}
	for _, e := range h.events {
		switch e.what {
		case "loaded":
			loaded[e.topic]++
		case "closing":
			if loaded[e.topic] != 1 {
				t.Errorf("closing of %s after %d loaded calls", e.topic.Name(), loaded[e.topic])
			}
		}
	}
}
