package managedledger

// entryCache keeps the most recently added entries of one managed ledger, so that
// tailing readers never go to the bookies. It is bounded by bytes and evicts in add
// order (oldest first), which for a log is the order readers leave it behind.
// Not safe for concurrent use: the managed ledger's mu guards it.
type entryCache struct {
	max   int64
	size  int64
	byPos map[Position][]byte
	// Invariant: order lists the cached positions in add order.
	order []Position
}

func newEntryCache(max int64) *entryCache {
	return &entryCache{max: max, byPos: map[Position][]byte{}}
}

func (c *entryCache) put(p Position, data []byte) {
	if int64(len(data)) > c.max {
		return
	}
	if _, ok := c.byPos[p]; ok {
		return
	}
	c.byPos[p] = data
	c.order = append(c.order, p)
	c.size += int64(len(data))
	for c.size > c.max && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= int64(len(c.byPos[old]))
		delete(c.byPos, old)
	}
	// Reclaim the backing array once most of it is dead.
	if cap(c.order) > 1024 && len(c.order) < cap(c.order)/4 {
		c.order = append([]Position(nil), c.order...)
	}
}

func (c *entryCache) get(p Position) ([]byte, bool) {
	d, ok := c.byPos[p]
	return d, ok
}

// dropLedger forgets a deleted ledger's entries.
func (c *entryCache) dropLedger(id int64) {
	kept := c.order[:0]
	for _, p := range c.order {
		if p.Ledger == id {
			c.size -= int64(len(c.byPos[p]))
			delete(c.byPos, p)
			continue
		}
		kept = append(kept, p)
	}
	c.order = kept
}
