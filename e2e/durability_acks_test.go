package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/metadata"
)

// cursorRecord is the part of a durable cursor's etcd record at
// ROOT/managed-ledgers/<topic>/cursors/<subscription> (docs/format/metadata.md) that
// says what is persisted: the snapshot of its acknowledgement state
// (docs/format/cursor.md).
type cursorRecord struct {
	Snapshot       string `json:"snapshot"`       // cursor.State.Marshal, base64
	SnapshotLedger int64  `json:"snapshotLedger"` // set instead for a large snapshot
}

// waitAcksPersisted waits until the cursor sub of topic, as persisted in etcd, holds every
// acknowledgement of acked. The broker has applied them (AckWithResponse) but writes a
// changed cursor only every CursorFlushInterval; the record in etcd is what a restarted
// broker reads back, so it is the event to wait on.
func waitAcksPersisted(t *testing.T, store *metadata.Store, topic, sub string, acked []pulsar.MessageID) {
	t.Helper()
	// The layout the cursor is decoded over: every ledger the acknowledged messages are in.
	// Unmarshal drops acks outside it, and none is asked about.
	last := map[int64]int64{}
	for _, id := range acked {
		last[id.LedgerID()] = max(last[id.LedgerID()], id.EntryID())
	}
	var layout cursor.Layout
	for _, l := range slices.Sorted(maps.Keys(last)) {
		layout = append(layout, cursor.Ledger{ID: l, Entries: last[l] + 1})
	}
	key := store.Keys.Cursor(topic, sub)
	adminEventually(t, sub+": acknowledgements persisted", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := store.Get(ctx, key)
		if err != nil {
			return false, fmt.Sprintf("get %s: %v", key, err)
		}
		var rec cursorRecord
		if err := json.Unmarshal(v.Data, &rec); err != nil {
			t.Fatalf("cursor record %s: %v", key, err)
		}
		if rec.SnapshotLedger != 0 {
			t.Fatalf("cursor record %s: snapshot in ledger %d; this test expects it inline", key, rec.SnapshotLedger)
		}
		raw, err := base64.StdEncoding.DecodeString(rec.Snapshot)
		if err != nil {
			t.Fatalf("cursor record %s: %v", key, err)
		}
		st, err := cursor.Unmarshal(raw, layout)
		if err != nil {
			t.Fatalf("cursor record %s: %v", key, err)
		}
		for _, id := range acked {
			if !persistedAck(st, id) {
				return false, fmt.Sprintf("%v not acknowledged in the record (mark-delete %s)", id, st.MarkDelete())
			}
		}
		return true, ""
	})
}

// persistedAck reports whether st acknowledges the message id: its whole entry, or its
// index in a partially acknowledged batch (ack_set polarity: a set bit is unacknowledged).
func persistedAck(st *cursor.State, id pulsar.MessageID) bool {
	p := cursor.Position{Ledger: id.LedgerID(), Entry: id.EntryID()}
	if st.IsAcked(p) {
		return true
	}
	set := st.BatchAckSet(p)
	if set == nil || id.BatchIdx() < 0 {
		return false
	}
	i := int(id.BatchIdx())
	return i/64 >= len(set) || set[i/64]&(1<<(i%64)) == 0
}

// TestDurabilityAcksSurviveKill: individual acks with holes, cumulative acks and
// batch-index acks survive a SIGKILL of standalone once they have been flushed:
// re-subscribing after the restart delivers exactly the unacknowledged messages — every
// one of them, and none that was acknowledged.
func TestDurabilityAcksSurviveKill(t *testing.T) {
	etcdAddr := harness.FreePort(t)
	s := harness.StartStandalone(t, testDir(t), "--etcd-listen", etcdAddr)
	store, err := metadata.Open(metadata.Config{Endpoints: []string{"http://" + etcdAddr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := testCtx(t)
	plain, batched := uniqueTopic(t), uniqueTopic(t)+"-batched"

	c := newClient(t, s.PulsarURL)
	subs := []struct {
		topic, name string
		typ         pulsar.SubscriptionType
	}{
		{plain, "individual", pulsar.Shared},
		{plain, "cumulative", pulsar.Exclusive},
		{batched, "batch-index", pulsar.Exclusive},
	}
	open := func(c pulsar.Client, i int) pulsar.Consumer {
		return subscribe(t, c, pulsar.ConsumerOptions{Topic: subs[i].topic, SubscriptionName: subs[i].name,
			Type: subs[i].typ, Name: subs[i].name, SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
			AckWithResponse: true, EnableBatchIndexAcknowledgment: true})
	}
	ind, cum, bat := open(c, 0), open(c, 1), open(c, 2)

	p := newProducer(t, c, pulsar.ProducerOptions{Topic: plain, DisableBatching: true})
	const n = 30
	send(t, ctx, p, numbered("m", 0, n)...)
	p.Close()
	// Three batches of ten: BatchingMaxMessages closes each batch; the delay never does.
	bp := newProducer(t, c, pulsar.ProducerOptions{Topic: batched, BatchingMaxMessages: 10,
		BatchingMaxPublishDelay: time.Minute, BatchingMaxSize: 1 << 20})
	for i := 0; i < n; i++ {
		bp.SendAsync(ctx, &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("b-%d", i))}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			if err != nil {
				t.Errorf("batched send: %v", err)
			}
		})
	}
	if err := bp.FlushWithCtx(ctx); err != nil {
		t.Fatal(err)
	}
	bp.Close()

	// Per subscription, the ids acknowledged before the first kill and all of them.
	acked, all := map[string][]pulsar.MessageID{}, map[string][]pulsar.MessageID{}
	// individual: m-0..m-5 and every odd message acked, so the holes are m-6, m-8, … m-28.
	wantInd := map[string]bool{}
	for i := 0; i < n; i++ {
		m := receive(t, ctx, ind)
		all["individual"] = append(all["individual"], m.ID())
		if i < 6 || i%2 == 1 {
			acked["individual"] = append(acked["individual"], m.ID())
			if err := ind.Ack(m); err != nil {
				t.Fatalf("ack %q: %v", m.Payload(), err)
			}
		} else {
			wantInd[string(m.Payload())] = true
		}
	}
	// cumulative: everything up to m-14, then m-20 and m-21 individually.
	wantCum := map[string]bool{}
	for i := 0; i < n; i++ {
		m := receive(t, ctx, cum)
		all["cumulative"] = append(all["cumulative"], m.ID())
		if i <= 14 || i == 20 || i == 21 {
			acked["cumulative"] = append(acked["cumulative"], m.ID())
		}
		switch {
		case i == 14:
			if err := cum.AckCumulative(m); err != nil {
				t.Fatalf("cumulative ack %q: %v", m.Payload(), err)
			}
		case i == 20 || i == 21:
			if err := cum.Ack(m); err != nil {
				t.Fatalf("ack %q: %v", m.Payload(), err)
			}
		case i > 14:
			wantCum[string(m.Payload())] = true
		}
	}
	// batch-index: all of the first batch, the even indexes of the second, the last
	// message of the third.
	wantBat := map[string]bool{}
	entries := map[int64]int{} // entry id → batch number, in order of arrival
	for i := 0; i < n; i++ {
		m := receive(t, ctx, bat)
		id := m.ID()
		all["batch-index"] = append(all["batch-index"], id)
		if id.BatchSize() != 10 {
			t.Fatalf("%q: batch size %d, want 10 (id %v)", m.Payload(), id.BatchSize(), id)
		}
		b, ok := entries[id.EntryID()]
		if !ok {
			b = len(entries)
			entries[id.EntryID()] = b
		}
		idx := id.BatchIdx()
		if b == 0 || (b == 1 && idx%2 == 0) || (b == 2 && idx == 9) {
			acked["batch-index"] = append(acked["batch-index"], id)
			if err := bat.Ack(m); err != nil {
				t.Fatalf("ack %q (%v): %v", m.Payload(), id, err)
			}
		} else {
			wantBat[string(m.Payload())] = true
		}
	}
	if len(entries) != 3 {
		t.Fatalf("the batched messages came in %d entries, want 3", len(entries))
	}
	for _, cons := range []pulsar.Consumer{ind, cum, bat} {
		cons.Close()
	}

	for _, sub := range subs {
		waitAcksPersisted(t, store, sub.topic, sub.name, acked[sub.name])
	}
	s.Kill()
	s.Restart()

	c2 := newClient(t, s.PulsarURL)
	for i, want := range []map[string]bool{wantInd, wantCum, wantBat} {
		name, cons := subs[i].name, open(c2, i)
		got := map[string]bool{}
		for len(got) < len(want) {
			m := receive(t, ctx, cons)
			pl := string(m.Payload())
			if !want[pl] {
				t.Fatalf("%s: %q came back after the restart, but it was acknowledged (want only %v)", name, pl, keys(want))
			}
			if got[pl] {
				t.Fatalf("%s: %q delivered twice after the restart", name, pl)
			}
			got[pl] = true
			// Acknowledge it now: a partially acknowledged batch comes back with its
			// ack_set, and these acks must complete it.
			if err := cons.Ack(m); err != nil {
				t.Fatalf("%s: ack %q after the restart: %v", name, pl, err)
			}
		}
		expectNothing(t, cons, name+": only the unacknowledged messages come back")
		cons.Close()
		t.Logf("%s: the %d unacknowledged messages came back, no acknowledged one", name, len(got))
	}

	// Everything is acknowledged now; once that is persisted, after a kill nothing comes back.
	for _, sub := range subs {
		waitAcksPersisted(t, store, sub.topic, sub.name, all[sub.name])
	}
	s.Kill()
	s.Restart()
	c3 := newClient(t, s.PulsarURL)
	for i, sub := range subs {
		cons := open(c3, i)
		expectNothing(t, cons, sub.name+": every message was acknowledged before the second kill")
		cons.Close()
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDurabilitySubscriptionSurvivesKill: a subscription exists from the moment
// SUBSCRIBE succeeds, with no flush to wait for: created at Latest, then SIGKILL right
// after messages were produced, it still delivers those messages after the restart
// (recreated at Latest it would skip them).
func TestDurabilitySubscriptionSurvivesKill(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	ctx := testCtx(t)
	topic := uniqueTopic(t)
	c := newClient(t, s.PulsarURL)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "latest"})
	cons.Close()
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	send(t, ctx, p, numbered("m", 0, 10)...)
	p.Close()
	s.Kill()
	s.Restart()

	c2 := newClient(t, s.PulsarURL)
	cons = subscribe(t, c2, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "latest"})
	for _, want := range numbered("m", 0, 10) {
		if m := receive(t, ctx, cons); string(m.Payload()) != want {
			t.Fatalf("got %q, want %q", m.Payload(), want)
		}
	}
}
