package service

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/topic"
	pb "github.com/strata-io/strata/proto/pulsar"
)

// entry builds a stored entry as a producer sends it (no checksum section).
func entry(t *testing.T, producer string, seq uint64) []byte {
	t.Helper()
	md, err := proto.Marshal(&pb.MessageMetadata{ProducerName: &producer, SequenceId: &seq, PublishTime: proto.Uint64(1)})
	if err != nil {
		t.Fatal(err)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(md)))
	return append(append(b, md...), []byte("payload")...)
}

type pubResult struct {
	seq int64
	pos managedledger.Position
	err error
}

// publishAll publishes seqs in order and waits for every callback, checking that they
// come back in Publish order.
func publishAll(t *testing.T, tp *Topic, producer string, seqs []int64) []pubResult {
	t.Helper()
	var mu sync.Mutex
	var got []pubResult
	var wg sync.WaitGroup
	for _, s := range seqs {
		wg.Add(1)
		tp.Publish(PublishMessage{Producer: producer, SequenceID: s, Entry: entry(t, producer, uint64(s)), NumMessages: 1},
			func(pos managedledger.Position, err error) {
				mu.Lock()
				got = append(got, pubResult{s, pos, err})
				mu.Unlock()
				wg.Done()
			})
	}
	wg.Wait()
	for i, r := range got {
		if r.seq != seqs[i] {
			t.Fatalf("callback %d is for seq %d, want %d: callbacks out of Publish order", i, r.seq, seqs[i])
		}
		if r.err != nil {
			t.Fatalf("seq %d: %v", r.seq, r.err)
		}
	}
	return got
}

func TestDeduplicationSurvivesReopen(t *testing.T) {
	ctx := testCtx(t)
	c := bookietest.Start(t, "/deduptest", 1)
	newSvc := func() *Service {
		mlf := managedledger.NewFactory(c.Store, c.Ledgers, managedledger.Config{MaxEntriesPerLedger: 4})
		s := New(c.Store, mlf, Config{DeduplicationEnabled: true})
		if err := s.Namespaces.Bootstrap(ctx, "standalone"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	name, _ := topic.Parse("dedup")

	svc := newSvc()
	tp, err := svc.Topic(ctx, name, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.LastSequenceID("p"); got != -1 {
		t.Fatalf("LastSequenceID of a new producer = %d, want -1", got)
	}
	// A resend of 3..5 in the middle of new messages (what a client does after a
	// reconnect) is dropped, and every answer still comes back in order.
	res := publishAll(t, tp, "p", []int64{0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7})
	for _, r := range res[6:9] {
		if r.pos != Duplicate() {
			t.Errorf("resent seq %d stored at %v, want dropped", r.seq, r.pos)
		}
	}
	for _, r := range append(res[:6:6], res[9:]...) {
		if r.pos == Duplicate() {
			t.Errorf("new seq %d dropped as a duplicate", r.seq)
		}
	}
	if got := tp.LastSequenceID("p"); got != 7 {
		t.Fatalf("LastSequenceID = %d, want 7", got)
	}
	if n := tp.ManagedLedger().LastConfirmed(); n.Entry < 0 {
		t.Fatalf("nothing written: %v", n)
	}
	tp.Close(ctx)
	svc.Close(ctx)

	// A new owner rebuilds the state by replaying the log (no snapshot was due yet).
	svc2 := newSvc()
	tp2, err := svc2.Topic(ctx, name, true)
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close(ctx)
	if got := tp2.LastSequenceID("p"); got != 7 {
		t.Fatalf("after reopen LastSequenceID = %d, want 7", got)
	}
	res = publishAll(t, tp2, "p", []int64{6, 7, 8})
	if res[0].pos != Duplicate() || res[1].pos != Duplicate() || res[2].pos == Duplicate() {
		t.Fatalf("after reopen: %+v, want 6 and 7 dropped, 8 stored", res)
	}
}

func TestDeduplicationSnapshot(t *testing.T) {
	ctx := testCtx(t)
	c := bookietest.Start(t, "/dedupsnap", 1)
	mlf := managedledger.NewFactory(c.Store, c.Ledgers, managedledger.Config{})
	svc := New(c.Store, mlf, Config{DeduplicationEnabled: true})
	if err := svc.Namespaces.Bootstrap(ctx, "standalone"); err != nil {
		t.Fatal(err)
	}
	defer svc.Close(ctx)
	name, _ := topic.Parse("dedup-snap")
	tp, err := svc.Topic(ctx, name, true)
	if err != nil {
		t.Fatal(err)
	}
	// Watch the snapshot key from before the first publish: the snapshot is written in
	// the background after the 1000th entry.
	_, rev, err := c.Store.List(ctx, tp.dedup.key)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	events := c.Store.Watch(wctx, tp.dedup.key, rev+1)
	seqs := make([]int64, dedupSnapshotInterval+10)
	for i := range seqs {
		seqs[i] = int64(i)
	}
	publishAll(t, tp, "p", seqs)
	select {
	case ev := <-events:
		var rec dedupRecord
		if err := json.Unmarshal(ev.Value.Data, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Producers["p"] < dedupSnapshotInterval-1 {
			t.Fatalf("snapshot %+v does not cover the first %d entries", rec, dedupSnapshotInterval)
		}
	case <-ctx.Done():
		t.Fatal("no deduplication snapshot after 1010 entries")
	}
}

// TestDeduplicationRebuiltAfterTakeover: a second broker takes the topic over without
// the first closing it (as after a crash): it rebuilds the state by replaying the log
// after the last snapshot. Small ledgers make the log roll over, and with no
// subscription the zero retention would trim them if the dedup cursor did not hold them.
func TestDeduplicationRebuiltAfterTakeover(t *testing.T) {
	ctx := testCtx(t)
	c := bookietest.Start(t, "/deduptakeover", 1)
	newSvc := func() *Service {
		mlf := managedledger.NewFactory(c.Store, c.Ledgers, managedledger.Config{MaxEntriesPerLedger: 3})
		s := New(c.Store, mlf, Config{DeduplicationEnabled: true})
		if err := s.Namespaces.Bootstrap(ctx, "standalone"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	name, _ := topic.Parse("dedup-takeover")
	svc1 := newSvc()
	defer svc1.Close(ctx)
	tp1, err := svc1.Topic(ctx, name, true)
	if err != nil {
		t.Fatal(err)
	}
	publishAll(t, tp1, "p", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	publishAll(t, tp1, "q", []int64{100, 101})

	svc2 := newSvc()
	defer svc2.Close(ctx)
	tp2, err := svc2.Topic(ctx, name, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := tp2.LastSequenceID("p"); got != 9 {
		t.Fatalf("new owner: LastSequenceID(p) = %d, want 9", got)
	}
	if got := tp2.LastSequenceID("q"); got != 101 {
		t.Fatalf("new owner: LastSequenceID(q) = %d, want 101", got)
	}
	res := publishAll(t, tp2, "p", []int64{8, 9, 10})
	if res[0].pos != Duplicate() || res[1].pos != Duplicate() || res[2].pos == Duplicate() {
		t.Fatalf("after takeover: %+v, want 8 and 9 dropped, 10 stored", res)
	}
}
