package managedledger

import (
	"context"
	"time"
)

// maybeTrim starts a background trim unless one is running.
func (ml *ManagedLedger) maybeTrim() {
	ml.mu.Lock()
	if ml.trimming || ml.state == stateClosed || ml.state == stateFenced {
		ml.mu.Unlock()
		return
	}
	ml.trimming = true
	ml.mu.Unlock()
	ml.bg.Add(1)
	go func() {
		defer ml.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ml.trim(ctx); err != nil {
			ml.log.Warn("trim", "err", err)
		}
		ml.mu.Lock()
		ml.trimming = false
		ml.mu.Unlock()
	}()
}

// trim deletes the ledgers every durable cursor has fully consumed. With no durable
// cursor, every ledger but the current one is deletable (Pulsar's default retention of
// zero: data nobody subscribed to is not kept).
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
	ls := ml.info.Ledgers
	for i := 0; i < len(ls)-1; i++ { // never the current ledger
		li := ls[i]
		if !li.Closed && li.ID == ml.lastConfirmed.Ledger {
			break // still being written during a rollover
		}
		consumed := li.ID < slowest.Ledger || (li.ID == slowest.Ledger && slowest.Entry >= li.Entries-1)
		if !consumed {
			break
		}
		doomed = append(doomed, li.ID)
	}
	ml.mu.Unlock()
	if len(doomed) == 0 {
		return nil
	}
	gone := map[int64]bool{}
	for _, id := range doomed {
		gone[id] = true
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
	ml.layoutGen++
	for _, id := range doomed {
		ml.cache.dropLedger(id)
		delete(ml.readers, id)
	}
	ml.mu.Unlock()
	for _, id := range doomed {
		if err := ml.lc.Delete(ctx, id); err != nil {
			ml.log.Warn("delete consumed ledger", "ledger", id, "err", err)
		}
	}
	return nil
}

// deleteLedgerBackground deletes a ledger that is no longer referenced.
func (ml *ManagedLedger) deleteLedgerBackground(id int64) {
	ml.bg.Add(1)
	go func() {
		defer ml.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ml.lc.Delete(ctx, id); err != nil {
			ml.log.Warn("delete ledger", "ledger", id, "err", err)
		}
	}()
}
