package resources

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/strata-io/strata/metadata"
)

// Namespace records and topic-policy overrides reach open topics by watches on their
// prefixes in etcd (metadata.Store.ListWatch, which lists first and lists again after a compaction), not by
// polling: a change made through the admin API on any broker is applied within one etcd
// round trip, and an idle broker costs nothing. PolicyWatch keeps the latest record of
// every namespace and every topic override with its revision, and tells a listener (the
// topic layer) of each change; a topic applies a record only if it is newer than the one
// it has, so the record read at open and the watched ones can arrive in any order.

// Versioned is a record as of an etcd revision. For a topic-policy record, Rev 0 means
// none was read yet, and an empty Value with a revision is a deletion.
type Versioned[T any] struct {
	Value T
	Rev   int64
}

// PolicyListener is told of watched changes. Its methods are called on the watch's
// goroutine, after the record was stored in the watch (so a topic that becomes visible
// afterwards finds it through PolicyWatch.Namespace or Topic), and must not block long.
type PolicyListener interface {
	// NamespacePoliciesChanged: ns ("tenant/ns") has a new record.
	NamespacePoliciesChanged(ns string, rec Versioned[Policies])
	// TopicPoliciesChanged: the override record under key (TopicPolicyKey) changed; a
	// deletion comes as an empty record at the deletion's revision.
	TopicPoliciesChanged(key string, rec Versioned[TopicPolicies])
	// TopicPoliciesReset: a full listing at rev replaced every override record; topics
	// whose key is not in present have none any more.
	TopicPoliciesReset(rev int64, present map[string]bool)
}

// PolicyWatch follows the namespace and topic-policy records in etcd.
type PolicyWatch struct {
	n        *Namespaces
	log      *slog.Logger
	listener PolicyListener

	mu sync.Mutex
	// ns is the latest watched record of each namespace; topics of each topic's
	// override, keyed by TopicPolicyKey.
	ns     map[string]Versioned[Policies]
	topics map[string]Versioned[TopicPolicies]
}

// NewPolicyWatch returns a watch over n's records that tells l; nil log means off. Run
// WatchNamespaces and WatchTopicPolicies to start it.
func NewPolicyWatch(n *Namespaces, log *slog.Logger, l PolicyListener) *PolicyWatch {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &PolicyWatch{n: n, log: log, listener: l, ns: map[string]Versioned[Policies]{},
		topics: map[string]Versioned[TopicPolicies]{}}
}

// Namespace returns the latest watched record of ns, if any.
func (w *PolicyWatch) Namespace(ns string) (Versioned[Policies], bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.ns[ns]
	return r, ok
}

// Topic returns the latest watched override record under key (TopicPolicyKey), if any.
func (w *PolicyWatch) Topic(key string) (Versioned[TopicPolicies], bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.topics[key]
	return r, ok
}

func (n *Namespaces) namespacesPrefix() string { return n.s.Keys.Namespaces() }

// WatchNamespaces follows the namespace records until ctx ends.
func (w *PolicyWatch) WatchNamespaces(ctx context.Context) {
	store := w.n.s
	prefix := w.n.namespacesPrefix()
	for ev := range store.ListWatch(ctx, prefix) {
		switch ev.Type {
		case metadata.EventReset:
			w.resetNamespaces(prefix, ev.Snapshot)
		case metadata.EventPut:
			ns := strings.TrimPrefix(ev.Value.Key, prefix)
			var p Policies
			if err := json.Unmarshal(ev.Value.Data, &p); err != nil {
				w.log.Warn("bad namespace record", "namespace", ns, "err", err)
				continue
			}
			w.namespaceChanged(ns, Versioned[Policies]{Value: p, Rev: ev.Value.ModRevision})
		case metadata.EventDelete:
			ns := strings.TrimPrefix(ev.Value.Key, prefix)
			w.mu.Lock()
			delete(w.ns, ns)
			w.mu.Unlock()
		}
	}
}

// resetNamespaces replaces every known record with a full listing.
func (w *PolicyWatch) resetNamespaces(prefix string, vals []metadata.Value) {
	w.mu.Lock()
	w.ns = map[string]Versioned[Policies]{}
	w.mu.Unlock()
	for _, v := range vals {
		ns := strings.TrimPrefix(v.Key, prefix)
		if strings.Count(ns, "/") != 1 {
			continue
		}
		var p Policies
		if err := json.Unmarshal(v.Data, &p); err != nil {
			continue
		}
		w.namespaceChanged(ns, Versioned[Policies]{Value: p, Rev: v.ModRevision})
	}
}

// namespaceChanged stores a namespace's record, then tells the listener.
// Ordering with topic loads: the record is stored before the listener lists the open
// topics, and a loading topic looks the record up after it became visible, so a topic
// misses no change.
func (w *PolicyWatch) namespaceChanged(ns string, rec Versioned[Policies]) {
	w.mu.Lock()
	w.ns[ns] = rec
	w.mu.Unlock()
	w.listener.NamespacePoliciesChanged(ns, rec)
}

// WatchTopicPolicies follows the topic-policy override records until ctx ends.
func (w *PolicyWatch) WatchTopicPolicies(ctx context.Context) {
	store := w.n.s
	prefix := w.n.topicPoliciesPrefix()
	reset := func(vals []metadata.Value, rev int64) {
		seen := map[string]bool{}
		w.mu.Lock()
		w.topics = map[string]Versioned[TopicPolicies]{}
		w.mu.Unlock()
		for _, v := range vals {
			var tp TopicPolicies
			if json.Unmarshal(v.Data, &tp) != nil {
				continue
			}
			key := strings.TrimPrefix(v.Key, prefix)
			seen[key] = true
			w.topicChanged(key, Versioned[TopicPolicies]{Value: tp, Rev: v.ModRevision})
		}
		w.listener.TopicPoliciesReset(rev, seen)
	}
	for ev := range store.ListWatch(ctx, prefix) {
		switch ev.Type {
		case metadata.EventReset:
			reset(ev.Snapshot, ev.Revision)
		case metadata.EventPut:
			var tp TopicPolicies
			if err := json.Unmarshal(ev.Value.Data, &tp); err != nil {
				w.log.Warn("bad topic policies record", "key", ev.Value.Key, "err", err)
				continue
			}
			w.topicChanged(strings.TrimPrefix(ev.Value.Key, prefix), Versioned[TopicPolicies]{Value: tp, Rev: ev.Value.ModRevision})
		case metadata.EventDelete:
			w.topicChanged(strings.TrimPrefix(ev.Value.Key, prefix), Versioned[TopicPolicies]{Rev: ev.Value.ModRevision})
		}
	}
}

// topicChanged stores an override record, then tells the listener (ordering with
// topic loads as for namespace records).
func (w *PolicyWatch) topicChanged(key string, rec Versioned[TopicPolicies]) {
	w.mu.Lock()
	w.topics[key] = rec
	w.mu.Unlock()
	w.listener.TopicPoliciesChanged(key, rec)
}
