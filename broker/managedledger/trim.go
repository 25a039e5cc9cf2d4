package managedledger

import (
	"context"
	"time"
)

// maybeTrim starts a background trim, or asks the running one for another pass (the
// state it decided on may be older than the change that called us).
func (ml *ManagedLedger) maybeTrim() {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	if ml.add.state == stateClosed || ml.add.state == stateFenced {
		return
	}
	if ml.trimming {
		ml.trimAgain = true
		return
	}
	ml.trimming = true
	ml.tasks.Add(1)
	go ml.trimLoop()
}

// markDeleteMoved starts a trim when a durable cursor's mark-delete moved from before
// to after in a way that can free a ledger: into another ledger, or onto the last entry
// of a closed one. (The end of a ledger still open is handled when it closes.) Acks that
// stay inside a ledger cost no trim.
func (ml *ManagedLedger) markDeleteMoved(before, after Position) {
	ml.mu.Lock()
	freed := before.Ledger != after.Ledger
	if li := ml.ledgerLocked(after.Ledger); !freed && li != nil {
		freed = li.Closed && after.Entry >= li.Entries-1
	}
	ml.mu.Unlock()
	if freed {
		ml.maybeTrim()
	}
}

func (ml *ManagedLedger) trimLoop() {
	defer ml.tasks.Done()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := ml.trim(ctx); err != nil {
			ml.log.Warn("trim", "err", err)
		}
		cancel()
		ml.mu.Lock()
		if !ml.trimAgain || ml.add.state == stateClosed || ml.add.state == stateFenced {
			ml.trimming, ml.trimAgain = false, false
			ml.mu.Unlock()
			return
		}
		ml.trimAgain = false
		ml.mu.Unlock()
	}
}

// trim deletes the closed ledgers every durable cursor has fully consumed, and closed
// empty ledgers — from the record, then from the bookies and the object store — as
// far as the retention policy lets it (Retention; by default nothing consumed is
// kept); and the bookie copies of offloaded ledgers whose deletion lag passed
// (deleteBookieCopies). With no durable cursor, every closed ledger counts as consumed
// (with Pulsar's default retention of zero, data nobody subscribed to is not kept). The current ledger
// is never deleted, nor a ledger still being written after a rollover (not closed yet),
// nor one holding entries after lastConfirmed.
func (ml *ManagedLedger) trim(ctx context.Context) error {
	ml.mu.Lock()
	cursors := make([]*Cursor, 0, len(ml.cursors))
	for _, c := range ml.cursors {
		cursors = append(cursors, c)
	}
	ml.mu.Unlock()
	slowest := Position{Ledger: 1<<63 - 1, Entry: 1<<63 - 1}
	for _, c := range cursors {
		if md := c.MarkDelete(); md.Less(slowest) {
			slowest = md
		}
	}
	ml.mu.Lock()
	var doomed []int64
	var cands []trimCandidate
	var total int64
	ls := ml.info.Ledgers
	lc := ml.lastConfirmed
	for _, li := range ls {
		total += li.Size
	}
	for i := 0; i < len(ls)-1; i++ { // never the current ledger
		li := ls[i]
		if !li.Closed {
			continue // still being closed after a rollover
		}
		if ml.busy[li.ID] {
			break // being offloaded (or deleted): a later pass decides
		}
		last := Position{Ledger: li.ID, Entry: li.Entries - 1}
		if lc.Less(last) {
			break // adds before some of its entries are still in flight
		}
		if li.Entries > 0 && slowest.Less(last) {
			break // a cursor still needs it (and everything after it)
		}
		doomed = append(doomed, li.ID)
		cands = append(cands, trimCandidate{id: li.ID, entries: li.Entries, size: li.Size, endMillis: ls[i+1].CreatedMillis})
	}
	if ret := ml.retention; !ret.off() {
		// Consumed is not enough: retention decides which consumed ledgers go.
		doomed = ret.released(cands, total, ml.cfg.Now())
	}
	gone := map[int64]bool{}
	offloaded := map[int64]*OffloadState{} // their objects go too
	onBookies := doomed[:0:0]
	for _, id := range doomed {
		gone[id] = true
		ml.busy[id] = true // an offload must not start on it now
		li := ml.ledgerLocked(id)
		if li.Offload != nil {
			o := *li.Offload
			offloaded[id] = &o
		}
		if li.Offload == nil || !li.Offload.BookieDeleted {
			onBookies = append(onBookies, id)
		}
	}
	ml.mu.Unlock()
	defer func() {
		ml.mu.Lock()
		for _, id := range doomed {
			delete(ml.busy, id)
		}
		ml.mu.Unlock()
	}()
	if ml.off != nil {
		if err := ml.deleteBookieCopies(ctx); err != nil {
			ml.log.Warn("delete bookie copies of offloaded ledgers", "err", err)
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	// Remove from the record first: a ledger is deleted only once nobody can find it.
	err := ml.updateRecord(ctx, func(in *Info) {
		kept := in.Ledgers[:0]
		for _, li := range in.Ledgers {
			if !gone[li.ID] {
				kept = append(kept, li)
			}
		}
		in.Ledgers = kept
	})
	if err != nil {
		return err
	}
	ml.mu.Lock()
	for _, id := range doomed {
		ml.cache.dropLedger(id)
		ml.ra.dropLedgerLocked(id)
		delete(ml.readers, id)
	}
	ml.mu.Unlock()
	for _, id := range onBookies {
		if err := ml.lc.Delete(ctx, id); err != nil {
			ml.log.Warn("delete consumed ledger", "ledger", id, "err", err)
		}
	}
	ml.deleteOffloaded(ctx, offloaded)
	return nil
}

// deleteLedgerBackground deletes a ledger that is no longer referenced.
func (ml *ManagedLedger) deleteLedgerBackground(id int64) {
	ml.tasks.Add(1)
	go func() {
		defer ml.tasks.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ml.lc.Delete(ctx, id); err != nil {
			ml.log.Warn("delete ledger", "ledger", id, "err", err)
		}
	}()
}
