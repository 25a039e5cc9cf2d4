package service

import (
	"sort"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
)

// TopicStats is a point-in-time view of a topic for the admin API (which renders it as
// Pulsar's stats and internalStats JSON). Counters count since the topic was loaded on
// this broker, as in Pulsar; storage figures come from the managed-ledger record.
type TopicStats struct {
	MsgsIn, BytesIn   int64
	MsgsOut, BytesOut int64
	// Rates are per second over the last few seconds (rates.go).
	MsgRateIn, ThroughputIn, MsgRateOut, ThroughputOut float64
	Producers                                          []ProducerStats
	Subscriptions                                      []SubscriptionStats // by name
	Info                                               managedledger.Info
	LastConfirmed                                      managedledger.Position
	// OffloadedSize is the bytes of the ledgers whose offload to tiered storage is
	// complete; StorageSize counts them too.
	OffloadedSize int64
}

// StorageSize is the bytes of every ledger of the topic, on bookies or offloaded (an
// offloaded ledger stays in the record after its bookie copy is deleted).
func (s TopicStats) StorageSize() int64 {
	var n int64
	for _, l := range s.Info.Ledgers {
		n += l.Size
	}
	return n
}

// Entries is the number of entries in the topic's ledgers.
func (s TopicStats) Entries() int64 {
	var n int64
	for _, l := range s.Info.Ledgers {
		n += l.Entries
	}
	return n
}

// ProducerStats describes a connected producer.
type ProducerStats struct {
	Name                    string
	AccessMode              AccessMode
	MsgsIn, BytesIn         int64
	MsgRateIn, ThroughputIn float64
}

// SubscriptionStats describes a subscription: a durable cursor, with or without
// consumers, or a reader's non-durable one.
type SubscriptionStats struct {
	Name    string
	Type    SubType
	Durable bool
	// Backlog counts unacknowledged entries (a batch is one entry until fully acked).
	Backlog     int64
	MarkDelete  managedledger.Position
	AckedRanges []cursor.Range
	// MsgsOut and BytesOut count what was dispatched since the subscription was loaded.
	MsgsOut, BytesOut         int64
	MsgRateOut, ThroughputOut float64
	Consumers                 []ConsumerStats
}

// ConsumerStats describes a connected consumer.
type ConsumerStats struct {
	Name                      string
	MsgsOut, BytesOut         int64
	MsgRateOut, ThroughputOut float64
}

// Stats returns the topic's current figures.
func (t *Topic) Stats() TopicStats {
	st := TopicStats{MsgsIn: t.MsgsIn.Load(), BytesIn: t.BytesIn.Load(), MsgsOut: t.MsgsOut.Load(),
		BytesOut: t.BytesOut.Load(), Info: t.ml.Info(),
		LastConfirmed: t.ml.LastConfirmed(), OffloadedSize: t.ml.OffloadedSize()}
	now := time.Now()
	st.MsgRateIn, st.ThroughputIn = t.rateIn.rates(now, st.MsgsIn, st.BytesIn)
	st.MsgRateOut, st.ThroughputOut = t.rateOut.rates(now, st.MsgsOut, st.BytesOut)
	for _, p := range t.Producers() {
		ps := ProducerStats{Name: p.name, AccessMode: p.mode, MsgsIn: p.MsgsIn.Load(), BytesIn: p.BytesIn.Load()}
		ps.MsgRateIn, ps.ThroughputIn = p.rateIn.rates(now, ps.MsgsIn, ps.BytesIn)
		st.Producers = append(st.Producers, ps)
	}
	sort.Slice(st.Producers, func(i, j int) bool { return st.Producers[i].Name < st.Producers[j].Name })
	live := map[string]*Subscription{}
	var readers []*Subscription
	for _, s := range t.Subscriptions() {
		if s.durable {
			live[s.name] = s
		} else {
			readers = append(readers, s)
		}
	}
	add := func(name string, c *managedledger.Cursor, s *Subscription) {
		ss := SubscriptionStats{Name: name, Type: SubExclusive, Durable: c.Durable(), Backlog: c.Backlog(),
			MarkDelete: c.MarkDelete(), AckedRanges: c.AckedRanges()}
		if s != nil {
			ss.Type = s.subType
			ss.Durable = s.durable
			s.do(func() {
				for _, k := range s.consumers {
					cs := ConsumerStats{Name: k.name, MsgsOut: k.MsgsOut.Load(), BytesOut: k.BytesOut.Load()}
					cs.MsgRateOut, cs.ThroughputOut = k.rateOut.rates(now, cs.MsgsOut, cs.BytesOut)
					ss.Consumers = append(ss.Consumers, cs)
				}
			})
			sort.Slice(ss.Consumers, func(i, j int) bool { return ss.Consumers[i].Name < ss.Consumers[j].Name })
			ss.MsgsOut, ss.BytesOut = s.MsgsOut.Load(), s.BytesOut.Load()
			ss.MsgRateOut, ss.ThroughputOut = s.rateOut.rates(now, ss.MsgsOut, ss.BytesOut)
		}
		st.Subscriptions = append(st.Subscriptions, ss)
	}
	for name, c := range t.ml.Cursors() {
		add(name, c, live[name])
	}
	for _, s := range readers {
		add(s.name, s.cursor, s)
	}
	sort.Slice(st.Subscriptions, func(i, j int) bool { return st.Subscriptions[i].Name < st.Subscriptions[j].Name })
	return st
}
