package managedledger

import (
	"fmt"
	"testing"
)

func TestEntryCache(t *testing.T) {
	pos := func(l, e int64) Position { return Position{Ledger: l, Entry: e} }
	get := func(c *entryCache, p Position) ([]byte, bool) {
		if r := c.run(p, p.Entry); len(r) == 1 {
			return r[0].Data, true
		}
		return nil, false
	}
	data := func(p Position) []byte { return []byte(fmt.Sprintf("%d:%d...", p.Ledger, p.Entry)) } // 6 bytes for one-digit ids
	c := newEntryCache(10 * 6)
	for e := int64(0); e < 8; e++ {
		c.put(pos(3, e), data(pos(3, e)))
	}
	for e := int64(0); e < 4; e++ {
		c.put(pos(5, e), data(pos(5, e)))
	}
	// 12 entries of 6 bytes in a 60-byte cache: 3:0 and 3:1 were evicted.
	if c.len() != 10 || c.size != 60 {
		t.Fatalf("len %d size %d", c.len(), c.size)
	}
	if _, ok := get(c, pos(3, 1)); ok {
		t.Fatal("3:1 still cached")
	}
	if d, ok := get(c, pos(3, 2)); !ok || string(d) != "3:2..." {
		t.Fatalf("3:2: %q %t", d, ok)
	}

	runs := []struct {
		start Position
		last  int64
		want  []Position
	}{
		{pos(3, 2), 100, []Position{pos(3, 2), pos(3, 3), pos(3, 4), pos(3, 5), pos(3, 6), pos(3, 7)}}, // stops at the ledger's end
		{pos(3, 6), 6, []Position{pos(3, 6)}},
		{pos(5, 1), 2, []Position{pos(5, 1), pos(5, 2)}},
		{pos(3, 1), 5, nil}, // evicted
		{pos(4, 0), 5, nil}, // no such ledger
		{pos(5, 4), 9, nil}, // not added yet
	}
	for _, r := range runs {
		got := c.run(r.start, r.last)
		if len(got) != len(r.want) {
			t.Fatalf("run %v..%d: %d entries, want %d", r.start, r.last, len(got), len(r.want))
		}
		for i, e := range got {
			if e.Pos != r.want[i] || string(e.Data) != string(data(r.want[i])) {
				t.Fatalf("run %v..%d: entry %d is %v %q", r.start, r.last, i, e.Pos, e.Data)
			}
		}
	}

	nexts := []struct {
		p    Position
		want int64
		ok   bool
	}{
		{pos(3, -1), 2, true}, // before the ledger's first cached entry
		{pos(3, 0), 2, true},
		{pos(3, 4), 5, true},
		{pos(3, 7), 0, false}, // the next cached entry is in ledger 5
		{pos(4, 0), 0, false},
		{pos(5, 3), 0, false},
	}
	for _, n := range nexts {
		if got, ok := c.nextAfter(n.p); got != n.want || ok != n.ok {
			t.Fatalf("nextAfter(%v) = %d %t, want %d %t", n.p, got, ok, n.want, n.ok)
		}
	}

	// A hit allocates only the slice it returns.
	if a := testing.AllocsPerRun(100, func() { _ = c.run(pos(3, 2), 100) }); a > 1 {
		t.Fatalf("a cache hit allocates %.1f times", a)
	}
	if a := testing.AllocsPerRun(100, func() { _ = c.run(pos(3, 0), 100) }); a != 0 {
		t.Fatalf("a cache miss allocates %.1f times", a)
	}

	// Repeats are ignored; going back (never done by the log) starts over.
	c.put(pos(5, 3), []byte("other"))
	if d, _ := get(c, pos(5, 3)); string(d) != "5:3..." {
		t.Fatalf("a repeat replaced 5:3 with %q", d)
	}
	c.put(pos(5, 2), []byte("x"))
	if d, _ := get(c, pos(5, 2)); string(d) != "5:2..." || c.len() != 10 {
		t.Fatalf("a repeat of an older entry changed the cache: %q, %d entries", d, c.len())
	}
	c.put(pos(4, 9), []byte("back"))
	if c.len() != 1 || c.size != 4 {
		t.Fatalf("after going back: %d entries, %d bytes", c.len(), c.size)
	}

	// dropLedger; then an entry larger than the whole cache is not kept.
	c.put(pos(5, 9), []byte("keep"))
	c.dropLedger(4)
	if c.len() != 1 || c.size != 4 {
		t.Fatalf("after dropLedger: %d entries, %d bytes", c.len(), c.size)
	}
	if got := c.run(pos(5, 9), 9); len(got) != 1 {
		t.Fatalf("5:9 lost by dropLedger(4): %v", got)
	}
	c.put(pos(6, 0), make([]byte, 61))
	if _, ok := get(c, pos(6, 0)); ok || c.len() != 1 {
		t.Fatal("an entry over the bound was cached")
	}
}

// Many puts through a small cache: the evicted prefix is reclaimed, so the queue's
// length stays near the number of live entries, and lookups stay exact.
func TestEntryCacheCompacts(t *testing.T) {
	c := newEntryCache(100)
	for e := int64(0); e < 100_000; e++ {
		c.put(Position{Ledger: 1 + e/1000, Entry: e % 1000}, []byte{byte(e)})
		if len(c.ents) > 2*1024+100 {
			t.Fatalf("after %d puts the queue holds %d slots for %d entries", e+1, len(c.ents), c.len())
		}
	}
	if c.len() != 100 {
		t.Fatalf("%d entries cached, want 100", c.len())
	}
	got := c.run(Position{Ledger: 100, Entry: 900}, 999)
	if len(got) != 100 || got[99].Data[0] != byte(99_999%256) {
		t.Fatalf("run over the last 100: %d entries", len(got))
	}
}
