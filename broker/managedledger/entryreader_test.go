package managedledger

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/internal/testenv"
)

// memLedgers is a second entryReader implementation: ledgers served from memory, as
// tiered storage will serve offloaded ones. It counts the reads it served.
type memLedgers struct {
	mu      sync.Mutex
	entries map[int64][]ledger.Entry
	reads   map[int64]int
}

type memReader struct {
	m  *memLedgers
	id int64
}

func (m *memLedgers) open(_ context.Context, li LedgerInfo) (entryReader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[li.ID]; !ok {
		return nil, fmt.Errorf("memLedgers: no ledger %d", li.ID)
	}
	return memReader{m, li.ID}, nil
}

func (r memReader) Read(_ context.Context, first, last int64) ([]ledger.Entry, error) {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	ents := r.m.entries[r.id]
	if first < 0 || last < first || last >= int64(len(ents)) {
		return nil, fmt.Errorf("memLedgers: ledger %d has no entries %d..%d", r.id, first, last)
	}
	r.m.reads[r.id]++
	return append([]ledger.Entry(nil), ents[first:last+1]...), nil
}

// TestEntryReaderSelection: a ledger whose record says its offload completed is read
// through the offloaded-ledger reader — here from memory, after its bookie copy was
// deleted — and every other ledger (not offloaded, or an offload only begun) from its
// bookies, all through the same read paths (ReadEntries, read-ahead).
func TestEntryReaderSelection(t *testing.T) {
	rng := testenv.Rand(t)
	c := newCluster(t, 1)
	cl := c.client()
	mem := &memLedgers{entries: map[int64][]ledger.Entry{}, reads: map[int64]int{}}
	f := NewFactory(c.store, cl, Config{MaxEntriesPerLedger: 10, CacheBytes: 1})
	f.offloadedReader = mem.open
	ml := open(t, f, "persistent://t/ns/offloaded")
	if _, _, err := ml.OpenCursor(testCtx(t), "hold", Earliest); err != nil {
		t.Fatal(err)
	}
	a := newAppender(t, ml)
	a.run(payloads(rng, "off", 35, 50), 2, 3)
	data, pos := a.acked(true)
	waitTasks(ml)
	ls := ml.Info().Ledgers
	if len(ls) < 3 {
		t.Fatalf("35 adds made %d ledgers", len(ls))
	}
	offloaded, begun := ls[0].ID, ls[1].ID
	for i, p := range pos {
		if p.Ledger == offloaded {
			mem.entries[offloaded] = append(mem.entries[offloaded], ledger.Entry{ID: p.Entry, Payload: data[i]})
		}
	}
	ctx := testCtx(t)
	err := ml.updateRecord(ctx, func(in *Info) {
		for i := range in.Ledgers {
			switch in.Ledgers[i].ID {
			case offloaded:
				in.Ledgers[i].Offload = &OffloadState{UUID: "u-1", Driver: "memory", BeginMillis: 1, CompleteMillis: 2, State: OffloadComplete}
			case begun:
				in.Ledgers[i].Offload = &OffloadState{UUID: "u-2", Driver: "memory", BeginMillis: 3, State: OffloadBegun}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Delete(ctx, offloaded); err != nil {
		t.Fatal(err)
	}

	checkEntries(t, readAll(t, ml, cursor.Earliest(), 4), data, pos)
	if mem.reads[offloaded] == 0 {
		t.Fatalf("the offloaded ledger %d was not read from memory", offloaded)
	}
	for id, n := range mem.reads {
		if id != offloaded {
			t.Fatalf("ledger %d, not offloaded, was read from memory %d times", id, n)
		}
	}
	// The offload state is in the stored record too, and survives a rewrite.
	v, err := c.store.Get(ctx, ml.key)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := unmarshalInfo(v.Data)
	if err != nil {
		t.Fatal(err)
	}
	if o := stored.Ledgers[0].Offload; !o.Complete() || o.UUID != "u-1" || stored.Ledgers[1].Offload.Complete() {
		t.Fatalf("stored offload states: %+v, %+v", stored.Ledgers[0].Offload, stored.Ledgers[1].Offload)
	}
}
