package managedledger

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Deleting offloaded objects. An object is deleted only once the record no longer
// needs it: after retention removed its ledger from the record, after the managed
// ledger's record is deleted (topic delete), or — the orphan sweep — when the record
// names neither it as a complete offload nor it as the attempt running now. A crash
// between a record write and a deletion leaves at most orphans, which the sweep finds.

// sweepOrphans lists the managed ledger's objects and deletes those the record does
// not reference: objects of failed or crashed attempts, and of ledgers gone from the
// record. The offload task runs it between offloads.
func (ml *ManagedLedger) sweepOrphans(ctx context.Context) error {
	prefix := mlPrefix(ml.off.cfg.Prefix, ml.name)
	var keys []string
	for oi, err := range ml.off.cfg.Store.List(ctx, prefix) {
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		keys = append(keys, oi.Key)
	}
	ml.mu.Lock()
	keep := map[string]bool{}
	if ml.offCurrent != "" {
		keep[ml.offCurrent] = true // never the running attempt's object
	}
	for _, li := range ml.info.Ledgers {
		if li.Offload.Complete() {
			keep[stateKey(ml.name, li.ID, li.Offload)] = true
		}
	}
	ml.mu.Unlock()
	for _, k := range keys {
		if keep[k] {
			continue
		}
		if _, _, ok := parseObjectName(strings.TrimPrefix(k, prefix)); !ok {
			continue // not an object of ours
		}
		if err := ml.deleteObject(ctx, k); err != nil {
			ml.log.Warn("delete orphaned offload object", "key", k, "err", err)
			continue
		}
		ml.off.m.orphansRemoved.Add(1)
		ml.log.Info("deleted orphaned offload object", "key", k)
	}
	return nil
}

// deleteOffloaded deletes the objects of ledgers the record no longer lists.
func (ml *ManagedLedger) deleteOffloaded(ctx context.Context, gone map[int64]*OffloadState) {
	if ml.off == nil {
		return
	}
	for id, o := range gone {
		if err := ml.deleteObject(ctx, stateKey(ml.name, id, o)); err != nil {
			ml.log.Warn("delete offloaded ledger", "ledger", id, "err", err)
		}
	}
}

// deleteAllOffloaded deletes every object of the (deleted) managed ledger: those its
// record named and whatever else is under its key prefix.
func (ml *ManagedLedger) deleteAllOffloaded(ctx context.Context, named map[int64]*OffloadState) {
	if ml.off == nil {
		return
	}
	ml.deleteOffloaded(ctx, named)
	prefix := mlPrefix(ml.off.cfg.Prefix, ml.name)
	var keys []string
	for oi, err := range ml.off.cfg.Store.List(ctx, prefix) {
		if err != nil {
			ml.log.Warn("list objects of deleted topic", "prefix", prefix, "err", err)
			return
		}
		keys = append(keys, oi.Key)
	}
	for _, k := range keys {
		if _, _, ok := parseObjectName(strings.TrimPrefix(k, prefix)); !ok {
			continue
		}
		if err := ml.deleteObject(ctx, k); err != nil {
			ml.log.Warn("delete object of deleted topic", "key", k, "err", err)
		}
	}
}

// deleteBookieCopies deletes from the bookies the ledgers whose offload completed more
// than the deletion lag ago: first BookieDeleted is recorded (from then on reads go to
// the store), then the bookie ledger is deleted. Trim runs it; each ledger is claimed
// against a concurrent offload.
func (ml *ManagedLedger) deleteBookieCopies(ctx context.Context) error {
	now := ml.cfg.Now()
	ml.mu.Lock()
	lag := ml.offPolicy.DeletionLag
	var due []int64
	if lag >= 0 {
		for _, li := range ml.info.Ledgers {
			if o := li.Offload; o.Complete() && !o.BookieDeleted && now.Sub(time.UnixMilli(o.CompleteMillis)) >= lag {
				due = append(due, li.ID)
			}
		}
	}
	ml.mu.Unlock()
	for _, id := range due {
		if !ml.claimLedger(id) {
			continue
		}
		err := ml.editRecord(ctx, func(in *Info) error {
			l := in.ledger(id)
			if l == nil || !l.Offload.Complete() || l.Offload.BookieDeleted {
				return errOffloadLost
			}
			l.Offload.BookieDeleted = true
			return nil
		})
		if err == errOffloadLost {
			ml.releaseLedger(id)
			continue
		}
		if err != nil {
			ml.releaseLedger(id)
			return err
		}
		ml.mu.Lock()
		delete(ml.readers, id) // the next read opens the store-only reader
		ml.mu.Unlock()
		if err := ml.lc.Delete(ctx, id); err != nil {
			// The record no longer needs it; the bookies' garbage collection finds it.
			ml.log.Warn("delete bookie copy of offloaded ledger", "ledger", id, "err", err)
		}
		ml.releaseLedger(id)
	}
	return nil
}
