package managedledger

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/bookie/ledger"
)

// Read-ahead for catch-up readers.
//
// A subscription that is behind reads the log from the bookies a few entries at a time:
// as many as its consumers' permits allow (about 10 entries of batched messages). If
// each of those reads waited for the bookies, the consumers would idle during every
// read and the bookie during every delivery. Read-ahead keeps the next entries coming
// while the consumers digest the previous ones.
//
// ReadEntries is not told which cursor reads, and need not be: a *stream* is found by
// position. A read of two or more entries that the tailing cache cannot serve is read
// from the bookies as asked, and a stream is left right after it, in the same ledger,
// with a background fetch of the entries that follow. The next read that starts inside
// the stream is served from it (waiting for the fetch if the entries are still on their
// way), and moves it forward: the entries handed out are dropped. Whenever the entries
// held fall to half the window, the next fetch starts, so a sequential reader finds its
// entries already read. A read that starts anywhere else — a seek, a replay, another
// cursor — finds no stream and reads from the bookies as before.
//
// Bounds, so that read-ahead never holds much memory:
//   - a stream's window is Config.ReadAheadEntries entries and about ReadAheadBytes of
//     payload (entries held plus entries being fetched; the count comes from the mean
//     size of the entries read so far, so a ledger of very uneven entries can exceed it
//     by the difference);
//   - every fetch reserves its estimated size in the Factory's pool
//     (ReadAheadTotalBytes, shared by every managed ledger of a broker) and gets no
//     read-ahead when the pool is full; held entries stay counted until handed out or
//     dropped;
//   - a managed ledger keeps at most maxStreams streams (least recently used goes);
//     a stream not read for raIdle is dropped by the next cursor flush tick, so a
//     consumer that went away does not keep the pool.
//
// Correctness does not depend on invalidation: an entry at or below LastConfirmed never
// changes, and read-ahead fetches nothing past the bound ReadEntries computed (the end
// of the ledger as far as it is acknowledged) nor anything the tailing cache holds — so
// read-ahead does not duplicate the cache, and the cache is never filled from it. A stream
// can go stale (its reader went elsewhere), never wrong. Streams of a trimmed ledger are
// dropped with it; Close drops every stream, cancels the fetches and waits for them.

const (
	// maxStreams bounds the read-ahead streams of one managed ledger.
	maxStreams = 16
	// raIdle: a stream not read for this long is dropped.
	raIdle = 5 * time.Second
	// raFetchTimeout bounds one background fetch.
	raFetchTimeout = 30 * time.Second
)

// readAheadPool is the Factory-wide bound on the payload bytes read ahead: reserved
// when a fetch starts (its estimate), adjusted to the real size when it lands, and
// released as entries are handed out or dropped. Safe for concurrent use.
type readAheadPool struct {
	max  int64
	used atomic.Int64
}

// reserve takes n bytes from the pool, unless that would pass its bound.
func (p *readAheadPool) reserve(n int64) bool {
	for {
		u := p.used.Load()
		if u+n > p.max {
			return false
		}
		if p.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (p *readAheadPool) release(n int64) { p.used.Add(-n) }

// readAheads is one managed ledger's read-ahead state. ml.mu guards every field but
// ctx, cancel and wg.
type readAheads struct {
	pool *readAheadPool
	// Invariant: streams are live (not dropped), at most maxStreams.
	streams []*raStream
	closed  bool

	// ctx ends with the managed ledger (Close): fetches stop. wg counts fetch goroutines.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newReadAheads(pool *readAheadPool) readAheads {
	ctx, cancel := context.WithCancel(context.Background())
	return readAheads{pool: pool, ctx: ctx, cancel: cancel}
}

// raStream is the read-ahead of one sequential reader within one ledger.
type raStream struct {
	ledger int64
	// start is the id of ents[0], or where ents[0] will be: the next entry a sequential
	// reader asks for.
	start int64
	// Invariant: ents are entries start, start+1, …; bytes is their payload total,
	// counted in the pool.
	ents  []ledger.Entry
	bytes int64
	// seenBytes/seenEntries: every entry this stream read, for the mean entry size.
	seenBytes, seenEntries int64
	used                   time.Time
	// fetch is the read in flight of the entries right after ents; nil when none.
	// Invariant: fetch.first == start+len(ents).
	fetch   *raFetch
	dropped bool
}

// raFetch is one background read of entries first..last of a stream's ledger.
type raFetch struct {
	first, last int64
	reserved    int64         // bytes reserved in the pool for it
	done        chan struct{} // closed once its entries are in the stream (or it failed)
}

func (s *raStream) end() int64 { return s.start + int64(len(s.ents)) - 1 }

// meanSize is the mean payload size of the entries the stream read (at least 1).
func (s *raStream) meanSize() int64 {
	if s.seenEntries == 0 {
		return 1
	}
	return max(s.seenBytes/s.seenEntries, 1)
}

func (s *raStream) saw(ents []ledger.Entry) (bytes int64) {
	for _, e := range ents {
		bytes += int64(len(e.Payload))
	}
	s.seenBytes += bytes
	s.seenEntries += int64(len(ents))
	return bytes
}

// findLocked returns the stream of ledger id that e falls in: held (start ≤ e ≤ end),
// being fetched (≤ fetch.last), or the position the stream waits at (e == start).
func (ra *readAheads) findLocked(id, e int64) *raStream {
	for _, s := range ra.streams {
		if s.ledger != id || e < s.start {
			continue
		}
		if e <= s.end() || e == s.start || (s.fetch != nil && e <= s.fetch.last) {
			return s
		}
	}
	return nil
}

// dropLocked forgets s: its entries go back to the pool; a fetch in flight returns its
// reservation when it lands.
func (ra *readAheads) dropLocked(s *raStream) {
	s.dropped = true
	clear(s.ents)
	s.ents = nil
	ra.pool.release(s.bytes)
	s.bytes = 0
	ra.streams = slices.DeleteFunc(ra.streams, func(x *raStream) bool { return x == s })
}

// dropLedgerLocked drops the streams of a deleted ledger.
func (ra *readAheads) dropLedgerLocked(id int64) {
	for _, s := range slices.Clone(ra.streams) {
		if s.ledger == id {
			ra.dropLocked(s)
		}
	}
}

// expireLocked drops the streams not read since before cutoff.
func (ra *readAheads) expireLocked(cutoff time.Time) {
	for _, s := range slices.Clone(ra.streams) {
		if s.used.Before(cutoff) {
			ra.dropLocked(s)
		}
	}
}

// readBookies serves entries first..last of ledger id, which the tailing cache does not
// hold, from a read-ahead stream or else from the bookies, and keeps read-ahead going
// for a sequential reader; limit (≥ last) is the last entry read-ahead may fetch. asked
// is how many entries the caller asked for: only reads of two or more start a stream.
func (ml *ManagedLedger) readBookies(ctx context.Context, id, first, last, limit int64, asked int) ([]Entry, error) {
	for {
		ml.mu.Lock()
		s := ml.ra.findLocked(id, first)
		switch {
		case s != nil && first <= s.end():
			out := s.takeLocked(&ml.ra, first, last, asked > 1 || first == s.start, ml.cfg.Now())
			ml.fetchMoreLocked(s, limit)
			ml.mu.Unlock()
			return out, nil
		case s != nil && s.fetch != nil:
			done := s.fetch.done
			ml.mu.Unlock()
			select {
			case <-done:
				continue // the entries are in the stream now, or the fetch failed
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ml.mu.Unlock()
		break
	}
	ents, err := ml.readLedger(ctx, id, first, last)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(ents))
	for i, le := range ents {
		out[i] = Entry{Pos: Position{Ledger: id, Entry: le.ID}, Data: le.Payload}
	}
	if len(ents) > 0 {
		ml.mu.Lock()
		if s := ml.streamAfterLocked(id, first, ents, asked); s != nil {
			ml.fetchMoreLocked(s, limit)
		}
		ml.mu.Unlock()
	}
	return out, nil
}

// takeLocked returns the held entries first..min(last, end); with consume, the entries
// up to the last one returned are dropped (the reader moved past them).
func (s *raStream) takeLocked(ra *readAheads, first, last int64, consume bool, now time.Time) []Entry {
	i, j := first-s.start, min(last, s.end())-s.start
	out := make([]Entry, j-i+1)
	for k := range out {
		le := s.ents[i+int64(k)]
		out[k] = Entry{Pos: Position{Ledger: s.ledger, Entry: le.ID}, Data: le.Payload}
	}
	s.used = now
	if consume {
		var freed int64
		for _, le := range s.ents[:j+1] {
			freed += int64(len(le.Payload))
		}
		clear(s.ents[:j+1])
		s.ents = s.ents[j+1:]
		s.start += j + 1
		s.bytes -= freed
		ra.pool.release(freed)
	}
	return out
}

// streamAfterLocked records that entries first..(last of ents) of ledger id were just
// read from the bookies, and returns the stream that should read on after them: the
// stream that was waiting at first, or a new one if the read asked for several entries.
// nil when read-ahead is off or not wanted.
func (ml *ManagedLedger) streamAfterLocked(id, first int64, ents []ledger.Entry, asked int) *raStream {
	ra := &ml.ra
	if ra.closed || ml.cfg.ReadAheadEntries <= 0 {
		return nil
	}
	next := ents[len(ents)-1].ID + 1
	s := ra.findLocked(id, first)
	if s == nil || s.fetch != nil || len(s.ents) > 0 {
		if asked < 2 {
			return nil
		}
		if len(ra.streams) >= maxStreams {
			lru := slices.MinFunc(ra.streams, func(a, b *raStream) int { return a.used.Compare(b.used) })
			ra.dropLocked(lru)
		}
		s = &raStream{ledger: id}
		ra.streams = append(ra.streams, s)
	}
	s.start = next
	s.used = ml.cfg.Now()
	s.saw(ents)
	return s
}

// fetchMoreLocked starts the next fetch of s once the entries it holds have fallen to
// half its window, unless one is in flight, the stream reached limit, or the pool is
// full.
func (ml *ManagedLedger) fetchMoreLocked(s *raStream, limit int64) {
	ra := &ml.ra
	if ra.closed || s.dropped || s.fetch != nil {
		return
	}
	end := s.end()
	if end >= limit {
		return
	}
	size := s.meanSize()
	window := int64(ml.cfg.ReadAheadEntries)
	if ml.cfg.ReadAheadBytes > 0 {
		window = min(window, max(ml.cfg.ReadAheadBytes/size, 1))
	}
	held := int64(len(s.ents))
	if held > window/2 {
		return
	}
	n := min(window-held, limit-end)
	if n <= 0 {
		return
	}
	est := n * size
	if !ra.pool.reserve(est) {
		return
	}
	f := &raFetch{first: end + 1, last: end + n, reserved: est, done: make(chan struct{})}
	s.fetch = f
	ra.wg.Add(1)
	go ml.runFetch(s, f)
}

// runFetch reads f's entries and appends them to s.
func (ml *ManagedLedger) runFetch(s *raStream, f *raFetch) {
	defer ml.ra.wg.Done()
	ctx, cancel := context.WithTimeout(ml.ra.ctx, raFetchTimeout)
	ents, err := ml.readLedger(ctx, s.ledger, f.first, f.last)
	cancel()
	ml.mu.Lock()
	s.fetch = nil
	var got int64
	if err == nil && !s.dropped && len(ents) > 0 && ents[0].ID == f.first && s.end()+1 == f.first {
		got = s.saw(ents)
		s.ents = append(s.ents, ents...)
		s.bytes += got
	}
	ml.ra.pool.used.Add(got - f.reserved)
	ml.mu.Unlock()
	close(f.done)
	if err != nil && ml.ra.ctx.Err() == nil {
		ml.log.Debug("read-ahead fetch failed", "ledger", s.ledger, "first", f.first, "last", f.last, "err", err)
	}
}

// expireReadAhead drops the streams nobody read for raIdle (the cursor flush tick
// calls it).
func (ml *ManagedLedger) expireReadAhead(now time.Time) {
	ml.mu.Lock()
	ml.ra.expireLocked(now.Add(-raIdle))
	ml.mu.Unlock()
}

// stopReadAhead drops every stream, ends the fetches in flight and waits for them.
func (ml *ManagedLedger) stopReadAhead() {
	ml.mu.Lock()
	ml.ra.closed = true
	for _, s := range slices.Clone(ml.ra.streams) {
		ml.ra.dropLocked(s)
	}
	ml.mu.Unlock()
	ml.ra.cancel()
	ml.ra.wg.Wait()
}
