package store

import "fmt"

// The completer's half of the pipeline (see commit.go). It takes the batches in the
// order the builder applied them and, for each one: waits for its WAL fsync, publishes
// the ledger states it leaves, wakes long polls, queues compactions of deleted ledgers,
// and answers its ops — in that order. Because batches complete strictly in order and
// each waits for its own fsync, when an op is answered its batch and every batch before
// it are durable; within a batch ops are answered in queue order.

// completeLoop is the completer goroutine. It ends when the builder closes the hand-off
// channel (the store is closing and every queued op has been built).
func (s *Store) completeLoop() {
	defer close(s.committerDone)
	for g := range s.built {
		s.complete(g)
		<-s.slots
	}
}

func (s *Store) complete(g *group) {
	if g.applied {
		if err := g.b.SyncWait(); err != nil {
			// The WAL fsync failed. What is on the disk is unknown, and after a failed
			// fsync the page cache and the disk may disagree in ways no retry can mend;
			// Pebble's own answer to a failed WAL write is Fatalf, and so is ours:
			// nothing of this batch or any later one is answered, and the process
			// restarts from what is durable (BookKeeper does the same on a journal error).
			s.fatalf("store: WAL fsync failed: %v", err)
		}
	}
	g.b.Close()
	if g.err != nil {
		for i, o := range g.ops {
			if g.results[i] == nil {
				g.results[i] = fmt.Errorf("%w: %v", ErrFailed, g.err)
			}
			o.finish(LedgerState{}, g.results[i])
		}
		return
	}
	if g.committed {
		s.batches.Add(1)
		if g.sync {
			s.syncs.Add(1)
		}
		s.entries.Add(uint64(g.entries))
	}
	s.mu.Lock()
	for id, sl := range g.ledgers {
		if sl.known {
			s.ledgers[id] = sl.st
		} else {
			delete(s.ledgers, id)
		}
		if sl.notify {
			s.notifyLocked(id)
		}
	}
	if len(g.deleted) > 0 {
		s.compactQueue = append(s.compactQueue, g.deleted...)
	}
	s.mu.Unlock()
	if len(g.deleted) > 0 {
		select {
		case s.compactWake <- struct{}{}:
		default:
		}
	}
	for i, o := range g.ops {
		o.finish(g.states[i], g.results[i])
	}
}
