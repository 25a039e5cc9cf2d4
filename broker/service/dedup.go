package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/metadata"
)

// dedupSnapshotInterval is how many persisted entries pass between two snapshots of the
// deduplication state; after a failover at most this many entries are replayed.
const dedupSnapshotInterval = 1000

// dedupRecordVersion is the version of the snapshot record (docs/format/metadata.md).
const dedupRecordVersion = 1

// dedupRecord is the snapshot kept in etcd next to the managed ledger's record.
type dedupRecord struct {
	FormatVersion int              `json:"formatVersion"`
	Position      string           `json:"position"` // every entry up to here is in Producers
	Producers     map[string]int64 `json:"producers"`
}

// dedupKey is where a topic's snapshot is kept, next to its managed ledger's record.
func dedupKey(store *metadata.Store, name topic.Name) string {
	return store.Keys.Dedup(name.String())
}

// dedupCursorName is the durable cursor that keeps the entries after the last snapshot
// from being trimmed, so that a new owner can replay them (Pulsar uses the same name).
const dedupCursorName = "pulsar.dedup"

// dedup drops messages a producer already published: for each producer name it keeps
// the highest sequence id accepted (pushed) and the highest made durable (persisted),
// as Pulsar does. It is rebuilt after a restart or failover from the last snapshot plus
// a replay of the entries written after it; its cursor holds those entries back from
// trimming until the next snapshot covers them.
type dedup struct {
	topic  *Topic
	key    string
	cursor *managedledger.Cursor

	mu sync.Mutex
	// Invariant: persisted[p] <= pushed[p] for every producer p.
	pushed, persisted map[string]int64
	sinceSnapshot     int
	snapshotting      bool
}

func newDedup(t *Topic) *dedup {
	return &dedup{topic: t, key: dedupKey(t.svc.store, t.name),
		pushed: map[string]int64{}, persisted: map[string]int64{}}
}

// load reads the snapshot and replays the entries after it.
func (d *dedup) load(ctx context.Context) error {
	ml := d.topic.ml
	c, _, err := ml.OpenCursor(ctx, dedupCursorName, managedledger.Earliest)
	if err != nil {
		return err
	}
	d.cursor = c
	from := cursor.Earliest()
	v, err := d.topic.svc.store.Get(ctx, d.key)
	switch {
	case err == nil:
		var rec dedupRecord
		if err := json.Unmarshal(v.Data, &rec); err != nil || rec.FormatVersion != dedupRecordVersion {
			return fmt.Errorf("service: %s: bad deduplication snapshot (version %d): %v", d.topic.name, rec.FormatVersion, err)
		}
		p, err := cursor.ParsePosition(rec.Position)
		if err != nil {
			return err
		}
		for k, s := range rec.Producers {
			d.pushed[k], d.persisted[k] = s, s
		}
		from = ml.Next(p)
	case errors.Is(err, metadata.ErrNotFound):
	default:
		return err
	}
	last := ml.LastConfirmed()
	for !last.Less(from) {
		ents, err := ml.ReadEntries(ctx, from, 256)
		if err != nil {
			return fmt.Errorf("service: %s: replay for deduplication: %w", d.topic.name, err)
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			pl, err := wire.ParsePayload(e.Data)
			if err != nil || pl.Metadata == nil {
				continue
			}
			seq := int64(pl.Metadata.GetSequenceId())
			if h := int64(pl.Metadata.GetHighestSequenceId()); h > seq {
				seq = h
			}
			name := pl.Metadata.GetProducerName()
			if cur, ok := d.persisted[name]; !ok || seq > cur {
				d.pushed[name], d.persisted[name] = seq, seq
			}
		}
		from = ml.Next(ents[len(ents)-1].Pos)
	}
	return nil
}

// lastSequenceID is what PRODUCER_SUCCESS reports for a producer name (-1: none).
func (d *dedup) lastSequenceID(producer string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.persisted[producer]; ok {
		return s
	}
	return -1
}

// admit decides whether a message is new. highest is the batch's highest sequence id
// (equal to seq for a single message).
func (d *dedup) admit(producer string, seq, highest int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if last, ok := d.pushed[producer]; ok && seq <= last {
		return false
	}
	d.pushed[producer] = max(seq, highest)
	return true
}

// persistedUpTo records that the message is durable, and snapshots now and then.
func (d *dedup) persistedUpTo(producer string, highest int64, pos managedledger.Position) {
	d.mu.Lock()
	if highest > d.persisted[producer] {
		d.persisted[producer] = highest
	}
	d.sinceSnapshot++
	snap := d.sinceSnapshot >= dedupSnapshotInterval && !d.snapshotting
	var rec dedupRecord
	if snap {
		d.sinceSnapshot, d.snapshotting = 0, true
		rec = dedupRecord{FormatVersion: dedupRecordVersion, Position: pos.String(), Producers: make(map[string]int64, len(d.persisted))}
		for k, v := range d.persisted {
			rec.Producers[k] = v
		}
	}
	d.mu.Unlock()
	if snap && !d.topic.bg.Go(func(ctx context.Context) { d.writeSnapshot(ctx, rec) }) {
		d.snapshotDone() // the topic is closing: its final snapshot covers this one
	}
}

// failed forgets a message that could not be persisted, so a resend is accepted.
func (d *dedup) failed(producer string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pushed[producer] = d.persisted[producer]
}

// writeSnapshot runs on a goroutine of the topic's (Topic.bg): Topic.Close cancels ctx
// and waits for it.
func (d *dedup) writeSnapshot(ctx context.Context, rec dedupRecord) {
	defer d.snapshotDone()
	d.persist(ctx, rec)
}

func (d *dedup) snapshotDone() {
	d.mu.Lock()
	d.snapshotting = false
	d.mu.Unlock()
}

// persist writes the snapshot, then lets the entries it covers be trimmed.
func (d *dedup) persist(ctx context.Context, rec dedupRecord) {
	data, err := json.Marshal(rec)
	if err != nil {
		return
	}
	// Callbacks complete in log order, so the snapshot's position only grows; a plain
	// put is enough (the topic has one owner, and a stale owner is fenced on its writes).
	if _, err := d.topic.svc.store.Put(ctx, d.key, data); err != nil {
		d.topic.svc.log.Warn("deduplication snapshot", "topic", d.topic.name.String(), "err", err)
		return
	}
	if p, err := cursor.ParsePosition(rec.Position); err == nil && p.Entry >= 0 {
		_ = d.cursor.AckCumulative(p)
	}
}

// close snapshots the state at the last persisted entry, so a new owner replays nothing.
// Callers make sure no publish is in flight (the managed ledger is closing).
func (d *dedup) close(ctx context.Context) {
	d.mu.Lock()
	rec := dedupRecord{FormatVersion: dedupRecordVersion, Position: d.topic.ml.LastConfirmed().String(),
		Producers: make(map[string]int64, len(d.persisted))}
	for k, v := range d.persisted {
		rec.Producers[k] = v
	}
	d.mu.Unlock()
	d.persist(ctx, rec)
}
