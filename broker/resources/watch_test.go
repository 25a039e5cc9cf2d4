package resources

import (
	"context"
	"sync"
	"testing"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// watchEvent is one listener call.
type watchEvent struct {
	kind, key string
	rev       int64
	ttl       int // the namespace record's TTL, or the override's (-1 when none)
	present   map[string]bool
	// stored reports that the watch held the record when the listener was told.
	stored bool
}

// listener records calls and checks, at each one, that the record is already stored.
// The two watches run on goroutines of their own: each has its channel, so that the
// order within one watch is checked and the order between them is not.
type listener struct {
	w              *PolicyWatch
	ns, topicEvent chan watchEvent
}

func (l *listener) NamespacePoliciesChanged(ns string, rec Versioned[Policies]) {
	got, ok := l.w.Namespace(ns)
	l.ns <- watchEvent{kind: "ns", key: ns, rev: rec.Rev, ttl: rec.Value.MessageTTLInSeconds,
		stored: ok && got.Rev == rec.Rev}
}

func (l *listener) TopicPoliciesChanged(key string, rec Versioned[TopicPolicies]) {
	got, ok := l.w.Topic(key)
	ttl := -1
	if rec.Value.MessageTTLInSeconds != nil {
		ttl = *rec.Value.MessageTTLInSeconds
	}
	l.topicEvent <- watchEvent{kind: "topic", key: key, rev: rec.Rev, ttl: ttl, stored: ok && got.Rev == rec.Rev}
}

func (l *listener) TopicPoliciesReset(rev int64, present map[string]bool) {
	l.topicEvent <- watchEvent{kind: "reset", rev: rev, present: present, stored: true}
}

// next returns the next event of kind's watch, failing the test if it is another kind.
func next(ctx context.Context, t *testing.T, l *listener, kind string) watchEvent {
	t.Helper()
	ch := l.topicEvent
	if kind == "ns" {
		ch = l.ns
	}
	select {
	case e := <-ch:
		if !e.stored {
			t.Fatalf("%s %s: listener told before the record was stored", e.kind, e.key)
		}
		if e.kind != kind {
			t.Fatalf("event %+v, want a %s", e, kind)
		}
		return e
	case <-ctx.Done():
		t.Fatalf("no %s event", kind)
		return watchEvent{}
	}
}

// TestPolicyWatch: the initial listing, then every change, reach the listener after
// they are stored in the watch.
func TestPolicyWatch(t *testing.T) {
	ctx := testCtx(t)
	store, _ := metadatatest.Store(t, "/watch")
	n := NewNamespaces(store)
	if err := n.CreateTenant(ctx, "acme", TenantInfo{}); err != nil {
		t.Fatal(err)
	}
	if err := n.CreateNamespace(ctx, "acme/a", Policies{MessageTTLInSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	base := topic.Name{Domain: topic.Persistent, Tenant: "acme", Namespace: "a", Local: "t"}
	if err := n.CreatePartitionedTopic(ctx, base, 2); err != nil {
		t.Fatal(err)
	}

	l := &listener{ns: make(chan watchEvent, 64), topicEvent: make(chan watchEvent, 64)}
	w := NewPolicyWatch(n, nil, l)
	l.w = w
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){w.WatchNamespaces, w.WatchTopicPolicies} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(wctx)
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	if e := next(ctx, t, l, "ns"); e.key != "acme/a" || e.ttl != 10 {
		t.Fatalf("initial listing: %+v", e)
	}
	if e := next(ctx, t, l, "reset"); len(e.present) != 0 {
		t.Fatalf("initial topic-policy listing: %+v, want none", e)
	}

	if err := n.UpdatePolicies(ctx, "acme/a", func(p *Policies) error { p.MessageTTLInSeconds = 20; return nil }); err != nil {
		t.Fatal(err)
	}
	if e := next(ctx, t, l, "ns"); e.key != "acme/a" || e.ttl != 20 {
		t.Fatalf("namespace change: %+v", e)
	}

	// A partition's override is its base topic's record.
	key := TopicPolicyKey(base.Partition(1))
	if key != "persistent/acme/a/t" {
		t.Fatalf("TopicPolicyKey = %q", key)
	}
	if err := n.UpdateTopicPolicies(ctx, base.Partition(1), func(tp *TopicPolicies) error {
		tp.MessageTTLInSeconds = ptr(5)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	set := next(ctx, t, l, "topic")
	if set.key != key || set.ttl != 5 {
		t.Fatalf("override set: %+v", set)
	}
	// Removing the last override deletes the record: an empty record at a later revision.
	if err := n.UpdateTopicPolicies(ctx, base, func(tp *TopicPolicies) error {
		tp.MessageTTLInSeconds = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if del := next(ctx, t, l, "topic"); del.key != key || del.ttl != -1 || del.rev <= set.rev {
		t.Fatalf("override removed: %+v after %+v", del, set)
	}
	if got, ok := w.Namespace("acme/a"); !ok || got.Value.MessageTTLInSeconds != 20 {
		t.Fatalf("cached namespace record %+v, %v", got, ok)
	}
}
