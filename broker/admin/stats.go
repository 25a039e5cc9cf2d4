package admin

import (
	"strings"
	"time"

	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/service"
)

// Pulsar's topic stats JSON (reference operations-and-reliability.md §1.2; field names
// as pulsaradmin's utils.TopicStats reads them). Rates are per second over the last few
// seconds (broker/service/rates.go).

type topicStats struct {
	MsgRateIn           float64                      `json:"msgRateIn"`
	MsgThroughputIn     float64                      `json:"msgThroughputIn"`
	MsgRateOut          float64                      `json:"msgRateOut"`
	MsgThroughputOut    float64                      `json:"msgThroughputOut"`
	MsgInCounter        int64                        `json:"msgInCounter"`
	BytesInCounter      int64                        `json:"bytesInCounter"`
	MsgOutCounter       int64                        `json:"msgOutCounter"`
	BytesOutCounter     int64                        `json:"bytesOutCounter"`
	AverageMsgSize      float64                      `json:"averageMsgSize"`
	StorageSize         int64                        `json:"storageSize"`
	BacklogSize         int64                        `json:"backlogSize"`
	OffloadedSize       int64                        `json:"offloadedStorageSize"`
	Publishers          []publisherStats             `json:"publishers"`
	Subscriptions       map[string]subscriptionStats `json:"subscriptions"`
	Replication         map[string]any               `json:"replication"`
	DeduplicationStatus string                       `json:"deduplicationStatus"`
}

type publisherStats struct {
	ProducerID      int64             `json:"producerId"`
	ProducerName    string            `json:"producerName"`
	AccessMode      string            `json:"accessMode"`
	MsgRateIn       float64           `json:"msgRateIn"`
	MsgThroughputIn float64           `json:"msgThroughputIn"`
	AverageMsgSize  float64           `json:"averageMsgSize"`
	Address         string            `json:"address"`
	ConnectedSince  string            `json:"connectedSince"`
	ClientVersion   string            `json:"clientVersion"`
	Metadata        map[string]string `json:"metadata"`
}

type subscriptionStats struct {
	Type                string          `json:"type"`
	MsgBacklog          int64           `json:"msgBacklog"`
	MsgBacklogNoDelayed int64           `json:"msgBacklogNoDelayed"`
	BacklogSize         int64           `json:"backlogSize"`
	UnackedMessages     int64           `json:"unackedMessages"`
	MsgRateOut          float64         `json:"msgRateOut"`
	MsgThroughputOut    float64         `json:"msgThroughputOut"`
	MsgRateRedeliver    float64         `json:"msgRateRedeliver"`
	MsgRateExpired      float64         `json:"msgRateExpired"`
	MsgDelayed          int64           `json:"msgDelayed"`
	MsgOutCounter       int64           `json:"msgOutCounter"`
	BytesOutCounter     int64           `json:"bytesOutCounter"`
	IsDurable           bool            `json:"isDurable"`
	IsReplicated        bool            `json:"isReplicated"`
	Consumers           []consumerStats `json:"consumers"`
}

type consumerStats struct {
	ConsumerName     string            `json:"consumerName"`
	MsgOutCounter    int64             `json:"msgOutCounter"`
	AvailablePermits int               `json:"availablePermits"`
	UnackedMessages  int               `json:"unackedMessages"`
	MsgRateOut       float64           `json:"msgRateOut"`
	MsgThroughputOut float64           `json:"msgThroughputOut"`
	MsgRateRedeliver float64           `json:"msgRateRedeliver"`
	Address          string            `json:"address"`
	ConnectedSince   string            `json:"connectedSince"`
	ClientVersion    string            `json:"clientVersion"`
	Metadata         map[string]string `json:"metadata"`
}

func emptyStats() topicStats {
	return topicStats{Publishers: []publisherStats{}, Subscriptions: map[string]subscriptionStats{},
		Replication: map[string]any{}, DeduplicationStatus: "Disabled"}
}

var accessModes = map[service.AccessMode]string{
	service.AccessShared: "Shared", service.AccessExclusive: "Exclusive",
	service.AccessWaitForExclusive: "WaitForExclusive", service.AccessExclusiveWithFencing: "ExclusiveWithFencing",
}

func renderStats(st service.TopicStats) topicStats {
	out := emptyStats()
	out.MsgInCounter, out.BytesInCounter = st.MsgsIn, st.BytesIn
	out.MsgOutCounter, out.BytesOutCounter = st.MsgsOut, st.BytesOut
	out.MsgRateIn, out.MsgThroughputIn = st.MsgRateIn, st.ThroughputIn
	out.MsgRateOut, out.MsgThroughputOut = st.MsgRateOut, st.ThroughputOut
	if st.MsgsIn > 0 {
		out.AverageMsgSize = float64(st.BytesIn) / float64(st.MsgsIn)
	}
	out.StorageSize = st.StorageSize()
	out.OffloadedSize = st.OffloadedSize
	// Backlog bytes are estimated from the average entry size: entries are not sized
	// individually in the record.
	var avgEntry int64
	if e := st.Entries(); e > 0 {
		avgEntry = out.StorageSize / e
	}
	for _, p := range st.Producers {
		ps := publisherStats{ProducerName: p.Name, AccessMode: accessModes[p.AccessMode],
			MsgRateIn: p.MsgRateIn, MsgThroughputIn: p.ThroughputIn, Metadata: map[string]string{}}
		if p.MsgsIn > 0 {
			ps.AverageMsgSize = float64(p.BytesIn) / float64(p.MsgsIn)
		}
		out.Publishers = append(out.Publishers, ps)
	}
	var maxBacklog int64
	for _, s := range st.Subscriptions {
		ss := subscriptionStats{Type: s.Type.String(), MsgBacklog: s.Backlog, MsgBacklogNoDelayed: s.Backlog,
			BacklogSize: s.Backlog * avgEntry, IsDurable: s.Durable, MsgOutCounter: s.MsgsOut, BytesOutCounter: s.BytesOut,
			MsgRateOut: s.MsgRateOut, MsgThroughputOut: s.ThroughputOut, Consumers: []consumerStats{}}
		for _, c := range s.Consumers {
			ss.Consumers = append(ss.Consumers, consumerStats{ConsumerName: c.Name, MsgOutCounter: c.MsgsOut,
				MsgRateOut: c.MsgRateOut, MsgThroughputOut: c.ThroughputOut, Metadata: map[string]string{}})
		}
		out.Subscriptions[s.Name] = ss
		maxBacklog = max(maxBacklog, ss.BacklogSize)
	}
	out.BacklogSize = maxBacklog
	return out
}

// partitionedStats is Pulsar's PartitionedTopicStats: the sum over partitions.
type partitionedStats struct {
	topicStats
	Metadata   resources.PartitionedTopicMetadata `json:"metadata"`
	Partitions map[string]topicStats              `json:"partitions,omitempty"`
}

func (p *partitionedStats) add(s topicStats) {
	p.MsgInCounter += s.MsgInCounter
	p.MsgRateIn += s.MsgRateIn
	p.MsgThroughputIn += s.MsgThroughputIn
	p.MsgRateOut += s.MsgRateOut
	p.MsgThroughputOut += s.MsgThroughputOut
	p.BytesInCounter += s.BytesInCounter
	p.MsgOutCounter += s.MsgOutCounter
	p.BytesOutCounter += s.BytesOutCounter
	p.StorageSize += s.StorageSize
	p.OffloadedSize += s.OffloadedSize
	p.BacklogSize += s.BacklogSize
	p.Publishers = append(p.Publishers, s.Publishers...)
	for name, ss := range s.Subscriptions {
		agg, ok := p.Subscriptions[name]
		if !ok {
			agg = subscriptionStats{Type: ss.Type, IsDurable: ss.IsDurable, Consumers: []consumerStats{}}
		}
		agg.MsgBacklog += ss.MsgBacklog
		agg.MsgRateOut += ss.MsgRateOut
		agg.MsgThroughputOut += ss.MsgThroughputOut
		agg.MsgOutCounter += ss.MsgOutCounter
		agg.BytesOutCounter += ss.BytesOutCounter
		agg.MsgBacklogNoDelayed += ss.MsgBacklogNoDelayed
		agg.BacklogSize += ss.BacklogSize
		agg.Consumers = append(agg.Consumers, ss.Consumers...)
		p.Subscriptions[name] = agg
	}
	if p.MsgInCounter > 0 {
		p.AverageMsgSize = float64(p.BytesInCounter) / float64(p.MsgInCounter)
	}
}

// Pulsar's PersistentTopicInternalStats (the managed-ledger view).
type internalStats struct {
	EntriesAddedCounter        int64                  `json:"entriesAddedCounter"`
	NumberOfEntries            int64                  `json:"numberOfEntries"`
	TotalSize                  int64                  `json:"totalSize"`
	CurrentLedgerEntries       int64                  `json:"currentLedgerEntries"`
	CurrentLedgerSize          int64                  `json:"currentLedgerSize"`
	LastLedgerCreatedTimestamp string                 `json:"lastLedgerCreatedTimestamp"`
	LastConfirmedEntry         string                 `json:"lastConfirmedEntry"`
	State                      string                 `json:"state"`
	Ledgers                    []ledgerStats          `json:"ledgers"`
	Cursors                    map[string]cursorStats `json:"cursors"`
	Properties                 map[string]string      `json:"properties,omitempty"`
}

type ledgerStats struct {
	LedgerID        int64 `json:"ledgerId"`
	Entries         int64 `json:"entries"`
	Size            int64 `json:"size"`
	Timestamp       int64 `json:"timestamp"`
	Offloaded       bool  `json:"offloaded"`
	UnderReplicated bool  `json:"underReplicated"`
}

type cursorStats struct {
	MarkDeletePosition                       string `json:"markDeletePosition"`
	ReadPosition                             string `json:"readPosition"`
	MessagesConsumedCounter                  int64  `json:"messagesConsumedCounter"`
	NumberOfEntriesSinceFirstNotAckedMessage int64  `json:"numberOfEntriesSinceFirstNotAckedMessage"`
	TotalNonContiguousDeletedMessagesRange   int    `json:"totalNonContiguousDeletedMessagesRange"`
	IndividuallyDeletedMessages              string `json:"individuallyDeletedMessages"`
	State                                    string `json:"state"`
	Active                                   bool   `json:"active"`
	CursorLedger                             int64  `json:"cursorLedger"`
}

func renderInternalStats(st service.TopicStats) internalStats {
	out := internalStats{NumberOfEntries: st.Entries(), TotalSize: st.StorageSize(),
		LastConfirmedEntry: st.LastConfirmed.String(), State: "LedgerOpened",
		Ledgers: []ledgerStats{}, Cursors: map[string]cursorStats{}, Properties: st.Info.Properties}
	out.EntriesAddedCounter = out.NumberOfEntries
	if st.Info.Terminated {
		out.State = "Terminated"
	}
	if n := len(st.Info.Ledgers); n > 0 {
		cur := st.Info.Ledgers[n-1]
		out.CurrentLedgerEntries, out.CurrentLedgerSize = cur.Entries, cur.Size
		out.LastLedgerCreatedTimestamp = time.UnixMilli(cur.CreatedMillis).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	for _, l := range st.Info.Ledgers {
		out.Ledgers = append(out.Ledgers, ledgerStats{LedgerID: l.ID, Entries: l.Entries, Size: l.Size, Timestamp: l.CreatedMillis,
			Offloaded: l.Offload.Complete()})
	}
	for _, s := range st.Subscriptions {
		if !s.Durable {
			continue
		}
		// Pulsar renders the acknowledged ranges as a Guava RangeSet: "[(l:a..l:b], …]",
		// open at the entry before the run and closed at its last entry.
		parts := make([]string, 0, len(s.AckedRanges))
		for _, r := range s.AckedRanges {
			before := r.First
			before.Entry--
			parts = append(parts, "("+before.String()+".."+r.Last.String()+"]")
		}
		read := s.MarkDelete
		read.Entry++
		out.Cursors[s.Name] = cursorStats{MarkDeletePosition: s.MarkDelete.String(), ReadPosition: read.String(),
			NumberOfEntriesSinceFirstNotAckedMessage: s.Backlog,
			TotalNonContiguousDeletedMessagesRange:   len(s.AckedRanges),
			IndividuallyDeletedMessages:              "[" + strings.Join(parts, ", ") + "]",
			State:                                    "Open", Active: len(s.Consumers) > 0, CursorLedger: -1}
	}
	return out
}
