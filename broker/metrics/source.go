package metrics

import (
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/service"
)

// TopicSnapshot is what the collector reads of one topic at scrape time.
type TopicSnapshot struct {
	// Key identifies this incarnation of the topic (the *service.Topic); it is also
	// the key ObservePublish is called with.
	Key any
	// Namespace is "tenant/namespace"; Topic the full name (persistent://t/n/x).
	Namespace, Topic string
	// Cumulative counters since the topic was loaded.
	MsgsIn, BytesIn, MsgsOut, BytesOut int64
	// StorageSize is the logical size of the topic's ledgers, in bytes, offloaded ones
	// included; OffloadedSize the part whose offload to tiered storage is complete.
	StorageSize          int64
	OffloadedSize        int64
	Producers, Consumers int
	Subscriptions        []SubscriptionSnapshot
}

// SubscriptionSnapshot is one subscription of a TopicSnapshot.
type SubscriptionSnapshot struct {
	Key       any // identifies this incarnation of the subscription
	Name      string
	Backlog   int64 // unacknowledged entries
	Consumers int
	// Cumulative counters of what was dispatched to its consumers.
	MsgsOut, BytesOut int64
}

// Source lists the topics to report. It is called once per scrape.
type Source interface {
	Snapshot() []TopicSnapshot
}

// OffloadSource reads the broker's cumulative offload counters at scrape time
// (managedledger.Factory.OffloadMetrics has this signature).
type OffloadSource func() managedledger.OffloadMetrics

// ServiceSource reads the topics loaded on a broker's topic service.
type ServiceSource struct{ Service *service.Service }

// Snapshot implements Source.
func (s *ServiceSource) Snapshot() []TopicSnapshot {
	topics := s.Service.LoadedTopics()
	out := make([]TopicSnapshot, 0, len(topics))
	for _, t := range topics {
		out = append(out, snapshotTopic(t))
	}
	return out
}

func snapshotTopic(t *service.Topic) TopicSnapshot {
	ts := TopicSnapshot{
		Key:           t,
		Namespace:     t.Name().NamespaceName(),
		Topic:         t.Name().String(),
		MsgsIn:        t.MsgsIn.Load(),
		BytesIn:       t.BytesIn.Load(),
		MsgsOut:       t.MsgsOut.Load(),
		BytesOut:      t.BytesOut.Load(),
		Producers:     len(t.Producers()),
		OffloadedSize: t.OffloadedSize(),
	}
	for _, l := range t.ManagedLedger().Info().Ledgers {
		ts.StorageSize += l.Size
	}
	for _, sub := range t.Subscriptions() {
		ss := SubscriptionSnapshot{
			Key:       sub,
			Name:      sub.Name(),
			Backlog:   sub.Cursor().Backlog(),
			Consumers: sub.ConsumerCount(),
			MsgsOut:   sub.MsgsOut.Load(),
			BytesOut:  sub.BytesOut.Load(),
		}
		ts.Consumers += ss.Consumers
		ts.Subscriptions = append(ts.Subscriptions, ss)
	}
	return ts
}
