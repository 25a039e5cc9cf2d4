package managedledger

import (
	"context"
	"time"
)

// flushLoop persists changed cursors every CursorFlushInterval.
func (ml *ManagedLedger) flushLoop() {
	defer close(ml.flushDone)
	t := time.NewTicker(ml.cfg.CursorFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ml.stop:
			return
		case <-t.C:
		}
		ml.FlushCursors(context.Background())
		ml.expireReadAhead(ml.cfg.Now())
		ml.offloadTick(ml.cfg.Now())
	}
}

// FlushCursors persists every changed durable cursor now.
func (ml *ManagedLedger) FlushCursors(ctx context.Context) {
	for _, c := range ml.Cursors() {
		if err := c.flush(ctx); err != nil {
			ml.log.Warn("persist cursor", "cursor", c.name, "err", err)
		}
	}
}

// Close waits for pending adds, persists the cursors and closes the current ledger.
// Later adds fail with ErrClosed. It returns once every add's callback has run (or ctx
// ended), so it must not be called from an add callback.
func (ml *ManagedLedger) Close(ctx context.Context) error {
	var err error
	ml.closeOnce.Do(func() {
		ml.submitMu.Lock()
		ml.mu.Lock()
		fenced := ml.add.Close()
		ml.mu.Unlock()
		ml.submitMu.Unlock()
		close(ml.stop)
		ml.bgCancel() // an offload in progress stops
		ml.stopReadAhead()
		// A rollover in progress either fails its queued adds (stop) or installs the
		// next ledger and writes them there; either way the writer is final after it.
		ml.rollWG.Wait()
		if !fenced {
			ml.FlushCursors(ctx)
		}
		ml.mu.Lock()
		w := ml.writer
		ml.mu.Unlock()
		if w != nil {
			err = w.Close(ctx) // waits for its pending adds
			if err == nil && !fenced {
				if rerr := ml.markClosed(ctx, w.Metadata()); rerr != nil {
					ml.log.Warn("record closed ledger", "ledger", w.ID(), "err", rerr)
				}
			}
		}
		ml.tasks.Wait()
		<-ml.flushDone
		select { // wake deliverLoop: it returns once everything was delivered
		case ml.readySig <- struct{}{}:
		default:
		}
		select {
		case <-ml.delivered:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
	})
	return err
}
