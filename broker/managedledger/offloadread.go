package managedledger

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/tiered/offload"
)

// Reads of offloaded ledgers. openEntryReader (entryreader.go) routes by the ledger's
// record, never by a cached handle: a ledger whose bookie copy is deleted is read from
// the store only; a complete offload is read from the store first and, on an error, from
// the bookies (TIERED_STORAGE_FIRST), or from the bookies (BookkeeperFirst). The
// readers cached per ledger are dropped whenever the record's offload state changes.
//
// A store read fetches whole blocks (one ranged GET each) through the Factory's block
// cache: LRU by bytes, identical fetches in flight shared (singleflight), and a
// sequential reader reaching the end of a block starts the fetch of the next one.
// Errors (store down, missing object, CRC mismatch) are returned wrapped, never as
// wrong bytes; every wait is bounded by the caller's context.

// openTiered opens the store reader of offloaded ledger li.
func (ml *ManagedLedger) openTiered(ctx context.Context, li LedgerInfo) (entryReader, error) {
	if ml.offloadedReader != nil {
		return ml.offloadedReader(ctx, li)
	}
	if ml.off == nil {
		return nil, fmt.Errorf("managedledger %s: ledger %d is offloaded and %w", ml.name, li.ID, ErrOffloadDisabled)
	}
	key := stateKey(ml.name, li.ID, li.Offload)
	r, err := offload.Open(ctx, ml.off.cfg.Store, key)
	if err != nil {
		ml.off.m.readErrors.Add(1)
		return nil, fmt.Errorf("managedledger %s: open offloaded ledger %d (%s): %w", ml.name, li.ID, key, err)
	}
	idx := r.Index()
	t := &tieredReader{ml: ml, id: li.ID, key: key, r: r, starts: make([]uint32, idx.EntryCount)}
	for _, bl := range idx.Blocks {
		var off uint32
		for e := bl.FirstEntry; e < bl.FirstEntry+bl.Entries; e++ {
			t.starts[e] = off
			off += idx.Lengths[e]
		}
	}
	return t, nil
}

// tieredReader reads one offloaded ledger from the object store.
type tieredReader struct {
	ml  *ManagedLedger
	id  int64
	key string
	r   *offload.Reader
	// starts[e] is entry e's offset in its block.
	starts []uint32
}

func (t *tieredReader) Read(ctx context.Context, first, last int64) ([]ledger.Entry, error) {
	idx := t.r.Index()
	if first < 0 || last < first || last >= idx.EntryCount {
		return nil, fmt.Errorf("managedledger: offloaded ledger %d has no entries %d..%d (it has %d): %w", t.id, first, last, idx.EntryCount, ErrNoEntry)
	}
	m := &t.ml.off.m
	out := make([]ledger.Entry, 0, last-first+1)
	var bytes int64
	b := t.r.BlockOf(first)
	for ; len(out) < cap(out); b++ {
		data, err := t.block(ctx, b)
		if err != nil {
			m.readErrors.Add(1)
			return nil, fmt.Errorf("managedledger: read offloaded ledger %d block %d (%s): %w", t.id, b, t.key, err)
		}
		bl := idx.Blocks[b]
		for e := max(first, bl.FirstEntry); e <= last && e < bl.FirstEntry+bl.Entries; e++ {
			s, n := t.starts[e], idx.Lengths[e]
			out = append(out, ledger.Entry{ID: e, Payload: data[s : s+n : s+n]})
			bytes += int64(n)
		}
	}
	m.readBytes.Add(bytes)
	// Sequential readers: the read reached the second half of its last block, so the
	// next one is fetched now rather than when the reader asks for it.
	if lb := idx.Blocks[b-1]; b < len(idx.Blocks) && last-lb.FirstEntry >= lb.Entries/2 {
		t.prefetch(b)
	}
	return out, nil
}

// block returns data block b, from the cache or the store.
func (t *tieredReader) block(ctx context.Context, b int) ([]byte, error) {
	return t.ml.off.cache.get(ctx, blockKey{t.key, b}, func(ctx context.Context) ([]byte, error) {
		start := time.Now()
		data, err := t.r.ReadBlock(ctx, b)
		if err == nil {
			t.ml.off.m.readCount.Add(1)
			t.ml.off.m.readLatencyMicros.Add(time.Since(start).Microseconds())
		}
		return data, err
	})
}

// prefetch fetches block b into the cache in the background, unless it is there or on
// its way. It runs with the read-ahead fetches: Close ends and waits for it.
func (t *tieredReader) prefetch(b int) {
	c := t.ml.off.cache
	if c.has(blockKey{t.key, b}) {
		return
	}
	ml := t.ml
	ml.mu.Lock()
	if ml.ra.closed {
		ml.mu.Unlock()
		return
	}
	ml.ra.wg.Add(1)
	ml.mu.Unlock()
	go func() {
		defer ml.ra.wg.Done()
		ctx, cancel := context.WithTimeout(ml.ra.ctx, raFetchTimeout)
		defer cancel()
		if _, err := t.block(ctx, b); err != nil && ctx.Err() == nil {
			ml.log.Debug("prefetch offloaded block", "ledger", t.id, "block", b, "err", err)
		}
	}()
}

// tieredFirst reads a ledger offloaded and still on its bookies: from the store, and
// from the bookies when that fails (TIERED_STORAGE_FIRST with fallback). Each reader is
// opened at its first use; the store's is opened again after a failed open, so a store
// that was down when the ledger was first read is used again once it is back.
type tieredFirst struct {
	ml *ManagedLedger
	li LedgerInfo

	mu      sync.Mutex
	tiered  entryReader
	bookies entryReader
}

func (r *tieredFirst) Read(ctx context.Context, first, last int64) ([]ledger.Entry, error) {
	r.mu.Lock()
	t := r.tiered
	r.mu.Unlock()
	var err error
	if t == nil {
		if t, err = r.ml.openTiered(ctx, r.li); err == nil {
			r.mu.Lock()
			r.tiered = t
			r.mu.Unlock()
		}
	}
	if err == nil {
		var ents []ledger.Entry
		if ents, err = t.Read(ctx, first, last); err == nil {
			return ents, nil
		}
	}
	if ctx.Err() != nil {
		return nil, err
	}
	r.ml.log.Warn("offloaded read failed; reading the bookies' copy", "ledger", r.li.ID, "err", err)
	r.mu.Lock()
	b := r.bookies
	r.mu.Unlock()
	if b == nil {
		var berr error
		if b, berr = r.ml.bookieReaderOf(ctx, r.li.ID); berr != nil {
			return nil, errors.Join(err, berr)
		}
		r.mu.Lock()
		r.bookies = b
		r.mu.Unlock()
	}
	ents, berr := b.Read(ctx, first, last)
	if berr != nil {
		return nil, errors.Join(err, berr)
	}
	return ents, nil
}

// blockCache is the Factory's cache of offloaded blocks: LRU, bounded by bytes, with
// concurrent fetches of one block shared.
type blockCache struct {
	mu      sync.Mutex
	max     int64
	used    int64
	lru     *list.List // of *cachedBlock, most recent first
	blocks  map[blockKey]*list.Element
	flights map[blockKey]*blockFlight
}

type blockKey struct {
	key   string
	block int
}

type cachedBlock struct {
	k    blockKey
	data []byte
}

// blockFlight is a fetch in progress; done is closed once data and err are set.
type blockFlight struct {
	done chan struct{}
	data []byte
	err  error
}

func newBlockCache(max int64) *blockCache {
	return &blockCache{max: max, lru: list.New(), blocks: map[blockKey]*list.Element{}, flights: map[blockKey]*blockFlight{}}
}

// has reports whether block k is cached or being fetched.
func (c *blockCache) has(k blockKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, cached := c.blocks[k]
	_, flying := c.flights[k]
	return cached || flying
}

// get returns block k, fetching it with fetch unless it is cached or another fetch of
// it is in flight (then it waits for that one, or for ctx).
func (c *blockCache) get(ctx context.Context, k blockKey, fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if e, ok := c.blocks[k]; ok {
		c.lru.MoveToFront(e)
		data := e.Value.(*cachedBlock).data
		c.mu.Unlock()
		return data, nil
	}
	if f, ok := c.flights[k]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil && ctx.Err() == nil && errors.Is(f.err, context.Canceled) {
				return c.get(ctx, k, fetch) // the fetcher gave up, not the store
			}
			return f.data, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &blockFlight{done: make(chan struct{})}
	c.flights[k] = f
	c.mu.Unlock()
	f.data, f.err = fetch(ctx)
	c.mu.Lock()
	delete(c.flights, k)
	if f.err == nil {
		c.addLocked(k, f.data)
	}
	c.mu.Unlock()
	close(f.done)
	return f.data, f.err
}

func (c *blockCache) addLocked(k blockKey, data []byte) {
	n := int64(len(data))
	if n > c.max {
		return
	}
	if _, ok := c.blocks[k]; ok {
		return
	}
	c.blocks[k] = c.lru.PushFront(&cachedBlock{k, data})
	c.used += n
	for c.used > c.max {
		e := c.lru.Back()
		cb := e.Value.(*cachedBlock)
		c.lru.Remove(e)
		delete(c.blocks, cb.k)
		c.used -= int64(len(cb.data))
	}
}

// dropKey forgets every cached block of object key (deleted).
func (c *blockCache) dropKey(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.blocks {
		if k.key == key {
			c.lru.Remove(e)
			delete(c.blocks, k)
			c.used -= int64(len(e.Value.(*cachedBlock).data))
		}
	}
}
