package managedledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-io/strata/broker/managedledger/cursor"
	"github.com/strata-io/strata/metadata"
)

// ErrNotClosed: Delete was called on a managed ledger that is still open.
var ErrNotClosed = errors.New("managedledger: still open")

// Delete removes a closed managed ledger for good (admin topic delete): the records
// below its key (cursors, deduplication snapshot), then its own record — a CAS on the
// revision this owner last wrote, so a managed ledger another broker took over is never
// deleted (ErrFenced) — then its ledgers and cursor snapshot ledgers on the bookies, and
// its offloaded objects (every object under its key prefix). A
// bookie-side failure is logged and left to the bookies' garbage collection: nothing
// refers to those ledgers any more.
//
// The caller closes the managed ledger first and keeps it from being reopened until
// Delete returns.
func (ml *ManagedLedger) Delete(ctx context.Context) error {
	ml.mu.Lock()
	if ml.add.state != stateClosed {
		ml.mu.Unlock()
		return ErrNotClosed
	}
	ledgers := make([]int64, 0, len(ml.info.Ledgers))
	offloaded := map[int64]*OffloadState{}
	for _, li := range ml.info.Ledgers {
		if li.Offload != nil {
			o := *li.Offload
			offloaded[li.ID] = &o
		}
		if li.Offload != nil && li.Offload.BookieDeleted {
			continue
		}
		ledgers = append(ledgers, li.ID)
	}
	cursors := make([]*Cursor, 0, len(ml.cursors))
	for _, c := range ml.cursors {
		cursors = append(cursors, c)
	}
	ml.mu.Unlock()
	mine, err := ml.stillOwner(ctx)
	if err != nil {
		return err
	}
	if !mine {
		return fmt.Errorf("%w: record of %s changed by another owner", ErrFenced, ml.name)
	}
	for _, c := range cursors {
		c.mu.Lock()
		c.deleted = true
		if c.snapshotLedger != 0 {
			ledgers = append(ledgers, c.snapshotLedger)
			c.snapshotLedger = 0
		}
		c.mu.Unlock()
	}
	if err := ml.store.DeletePrefix(ctx, ml.store.Keys.ManagedLedgerChildren(ml.name)); err != nil {
		return err
	}
	ml.metaMu.Lock()
	ml.mu.Lock()
	rev := ml.infoRev
	ml.mu.Unlock()
	err = ml.store.Delete(ctx, ml.key, rev)
	ml.metaMu.Unlock()
	if errors.Is(err, metadata.ErrRevisionMismatch) {
		return fmt.Errorf("%w: record of %s changed by another owner", ErrFenced, ml.name)
	}
	if err != nil {
		return err
	}
	for _, id := range ledgers {
		if err := ml.lc.Delete(ctx, id); err != nil {
			ml.log.Warn("delete ledger of deleted topic", "ledger", id, "err", err)
		}
	}
	ml.deleteAllOffloaded(ctx, offloaded)
	return nil
}

// AckedRanges returns the runs of individually acknowledged entries above the
// mark-delete position (Pulsar's individuallyDeletedMessages), for stats.
func (c *Cursor) AckedRanges() []cursor.Range {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cursor.Range
	for r := range c.state.AckedRanges() {
		out = append(out, r)
	}
	return out
}
