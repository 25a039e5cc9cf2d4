package store

import (
	"context"
	"errors"
)

// Space reclaim after DeleteLedger. The deletion itself is a range tombstone over the
// ledger's entry keys plus a point delete of its state key (and the one-key tombstone
// that keeps the ledger fenced), committed and synced like any other op: from then on
// the entries are gone for every reader. The bytes stay in
// Pebble's tables until a compaction drops them. Pebble would get there on its own
// (range tombstones make their tables candidates for delete-only and elision-only
// compactions), but a bookie deletes ledgers precisely to free disk, so the store asks
// for a manual compaction of each deleted range right away, on this one background
// goroutine, one range at a time.

func (s *Store) compactLoop(ctx context.Context) {
	defer close(s.compactorDone)
	for {
		s.mu.Lock()
		for len(s.compactQueue) == 0 {
			s.compactBusy = false
			if s.compactIdle != nil {
				close(s.compactIdle)
				s.compactIdle = nil
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-s.compactWake:
			}
			s.mu.Lock()
		}
		ledger := s.compactQueue[0]
		s.compactQueue = s.compactQueue[1:]
		s.compactBusy = true
		s.mu.Unlock()

		err := s.db.Compact(ctx, ledgerEntriesStart(ledger), ledgerEntriesEnd(ledger), false)
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("store: compaction after ledger delete failed; Pebble will reclaim the space later", "ledger", ledger, "err", err)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// WaitCompactions returns once every ledger deleted so far has had its range compacted
// (or ctx ends, or the store closes).
func (s *Store) WaitCompactions(ctx context.Context) error {
	s.mu.Lock()
	if len(s.compactQueue) == 0 && !s.compactBusy {
		s.mu.Unlock()
		return nil
	}
	if s.compactIdle == nil {
		s.compactIdle = make(chan struct{})
	}
	idle := s.compactIdle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return ErrClosed
	}
}
