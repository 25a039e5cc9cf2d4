package managedledger

import "sort"

// entryCache keeps the most recently added entries of one managed ledger, so that
// tailing readers never go to the bookies. It is bounded by bytes and evicts in add
// order (oldest first), which for a log is the order readers leave it behind.
// Not safe for concurrent use: the managed ledger's mu guards it.
//
// Entries are added in log order, so the cache is a queue sorted by position: a lookup
// is a binary search, a hit hands out a run of consecutive entries with one allocation
// (the result slice), and eviction moves the head without touching a map.
type entryCache struct {
	max  int64
	size int64
	// Invariant: ents[head:] are the cached entries, in strictly increasing position
	// order; ents[:head] are zeroed (evicted) slots, reclaimed by compaction.
	ents []cachedEntry
	head int
}

type cachedEntry struct {
	pos  Position
	data []byte
}

func newEntryCache(max int64) *entryCache {
	return &entryCache{max: max}
}

// len is the number of cached entries.
func (c *entryCache) len() int { return len(c.ents) - c.head }

func (c *entryCache) put(p Position, data []byte) {
	if int64(len(data)) > c.max {
		return
	}
	if c.len() > 0 && !c.ents[len(c.ents)-1].pos.Less(p) {
		if _, ok := c.index(p); ok {
			return
		}
		// Not after the newest entry: the log went back (it never does today). Start
		// over rather than break the order lookups rely on.
		c.reset()
	}
	c.ents = append(c.ents, cachedEntry{pos: p, data: data})
	c.size += int64(len(data))
	for c.size > c.max {
		c.size -= int64(len(c.ents[c.head].data))
		c.ents[c.head] = cachedEntry{}
		c.head++
	}
	// Reclaim the evicted prefix once it is most of the slice (amortised O(1) a put).
	if c.head > 1024 && c.head > len(c.ents)/2 {
		n := copy(c.ents, c.ents[c.head:])
		clear(c.ents[n:])
		c.ents, c.head = c.ents[:n], 0
	}
}

func (c *entryCache) reset() {
	clear(c.ents)
	c.ents, c.head, c.size = c.ents[:0], 0, 0
}

// index returns where p is in ents, if cached.
func (c *entryCache) index(p Position) (int, bool) {
	live := c.ents[c.head:]
	i := sort.Search(len(live), func(i int) bool { return !live[i].pos.Less(p) })
	if i < len(live) && live[i].pos == p {
		return c.head + i, true
	}
	return 0, false
}

// run returns the cached entries start, start+1, … ≤ last of start's ledger, stopping
// at the first one not cached; nil when start is not cached. One allocation.
func (c *entryCache) run(start Position, last int64) []Entry {
	i, ok := c.index(start)
	if !ok {
		return nil
	}
	n := 1
	for j := i + 1; j < len(c.ents) && n <= int(last-start.Entry); j++ {
		if p := c.ents[j].pos; p.Ledger != start.Ledger || p.Entry != start.Entry+int64(n) {
			break
		}
		n++
	}
	out := make([]Entry, n)
	for k := range out {
		out[k] = Entry{Pos: c.ents[i+k].pos, Data: c.ents[i+k].data}
	}
	return out
}

// nextAfter returns the lowest cached entry id of p's ledger above p.Entry.
func (c *entryCache) nextAfter(p Position) (int64, bool) {
	live := c.ents[c.head:]
	i := sort.Search(len(live), func(i int) bool { return p.Less(live[i].pos) })
	if i < len(live) && live[i].pos.Ledger == p.Ledger {
		return live[i].pos.Entry, true
	}
	return 0, false
}

// dropLedger forgets a deleted ledger's entries.
func (c *entryCache) dropLedger(id int64) {
	kept := c.ents[:0]
	for _, e := range c.ents[c.head:] {
		if e.pos.Ledger == id {
			c.size -= int64(len(e.data))
			continue
		}
		kept = append(kept, e)
	}
	clear(c.ents[len(kept):])
	c.ents, c.head = kept, 0
}
